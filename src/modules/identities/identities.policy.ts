import type { IdentityKind } from '../../generated/prisma/enums.ts';
import { AppError } from '../../lib/errors.ts';
import type { Viewer } from '../auth/viewer.ts';

/**
 * Who may link (or unlink) a signing identity in an organization: manager and admin identities open the signing
 * hub, so only an organization admin (an owner, or a member whose role holds `members`) links them; signer
 * identities fill signer queues, so a manager (platform role MANAGER with `signing` in the organization) links
 * them. Nobody links an identity to their own account.
 */
export async function assertMayLinkIdentity(viewer: Viewer, input: { organizationId: string; kind: IdentityKind; targetUserId: string }): Promise<void> {
  if (input.targetUserId === viewer.userId) {
    throw new AppError('FORBIDDEN', 'You cannot link a signing identity to your own account. Ask an organization admin or manager.', { reason: 'SELF_LINK' });
  }
  const membership = (await viewer.memberships()).find((m) => m.organizationId === input.organizationId);
  if (input.kind === 'SIGNER') {
    if (!viewer.roles.includes('MANAGER') || !membership?.permissions.has('signing')) {
      throw new AppError('FORBIDDEN', 'Only a manager with the signing permission in this organization can link signer identities.');
    }
    return;
  }
  if (!membership || !(membership.isOwner || membership.permissions.has('members'))) {
    throw new AppError('FORBIDDEN', 'Only an organization admin can link manager or admin signing identities.');
  }
}
