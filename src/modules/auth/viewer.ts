import type { PlatformRole } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { verifyAccessToken } from './access-token.ts';

/** The signed-in account behind a request. */
export interface Viewer {
  userId: string;
  sessionId: string;
  email: string;
  name: string;
  roles: PlatformRole[];
}

export function bearerToken(authorization: string | null | undefined): string | null {
  if (!authorization) return null;
  const match = /^Bearer\s+([A-Za-z0-9._~+/-]+=*)\s*$/i.exec(authorization);
  if (!match?.[1]) throw new AppError('UNAUTHENTICATED', 'The Authorization header must be "Bearer <token>".', { reason: 'INVALID_TOKEN' });
  return match[1];
}

/**
 * Resolves the viewer from `Authorization: Bearer`. No header: null (anonymous). A header whose token is invalid,
 * expired, or whose session is revoked, ended or belongs to a disabled account: UNAUTHENTICATED. The session is
 * read on every request, so sign-out and revocation take effect at once.
 */
export async function authenticate(services: Services, authorization: string | null | undefined): Promise<Viewer | null> {
  const token = bearerToken(authorization);
  if (!token) return null;
  const now = services.clock.now();
  const claims = await verifyAccessToken({ keys: services.keys, issuer: services.config.publicUrl, now }, token);
  const session = claims
    ? await services.db.loginSession.findUnique({
        where: { id: claims.sessionId },
        select: {
          userId: true,
          revokedAt: true,
          expiresAt: true,
          user: { select: { email: true, name: true, roles: true, disabledAt: true } },
        },
      })
    : null;
  if (!claims || !session || session.userId !== claims.userId || session.revokedAt || session.expiresAt <= now || session.user.disabledAt) {
    throw new AppError('UNAUTHENTICATED', 'Your session has expired or is no longer valid. Sign in again.', { reason: 'INVALID_TOKEN' });
  }
  return { userId: claims.userId, sessionId: claims.sessionId, email: session.user.email, name: session.user.name, roles: session.user.roles };
}
