import type { IdentityKind } from '../../generated/prisma/enums.ts';
import { AppError } from '../../lib/errors.ts';
import type { Viewer } from '../auth/viewer.ts';
import { isSigningManagerIn } from '../signing/signing.policy.ts';

/** An organization's admins: its owners, and members whose role holds `members` (they manage its people). */
export async function isOrganizationAdmin(viewer: Viewer, organizationId: string): Promise<boolean> {
  const membership = (await viewer.memberships()).find((m) => m.organizationId === organizationId);
  return membership !== undefined && (membership.isOwner || membership.permissions.has('members'));
}

/**
 * Who may link (or unlink) a signing identity in an organization. Its admins link every kind, to any account and to
 * their own (that is how the person who created an organization becomes its first manager without a platform
 * operator). A signing manager there (see isSigningManagerIn) links signer identities to others. Nobody else links
 * anything, to anyone or to themselves.
 */
export async function assertMayLinkIdentity(viewer: Viewer, input: { organizationId: string; kind: IdentityKind; targetUserId: string }): Promise<void> {
  if (await isOrganizationAdmin(viewer, input.organizationId)) return;
  if (input.targetUserId === viewer.userId) {
    throw new AppError('FORBIDDEN', 'Only an organization admin can link a signing identity to their own account.', { reason: 'SELF_LINK' });
  }
  if (input.kind === 'SIGNER') {
    if (await isSigningManagerIn(viewer, input.organizationId)) return;
    throw new AppError('FORBIDDEN', 'Only an organization admin, or a manager with the signing permission in this organization, can link signer identities.');
  }
  throw new AppError('FORBIDDEN', 'Only an organization admin can link manager or admin signing identities.');
}
