import { AppError } from '../../lib/errors.ts';
import { isLimitedSession, type Viewer } from '../auth/viewer.ts';

/**
 * Platform administration (accounts and platform roles) is for platform admins in a full session. An app sign-in
 * session never carries ADMIN (see authenticate), nor does a sender or signer session. The GraphQL fields say the
 * same with the `admin` scope; this guards the services themselves.
 */
export function assertPlatformAdmin(viewer: Viewer): void {
  if (isLimitedSession(viewer) || !viewer.roles.includes('ADMIN')) {
    throw new AppError('FORBIDDEN', 'Only a platform admin can administer accounts.');
  }
}
