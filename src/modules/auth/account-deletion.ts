import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { withPasswordWork, type PasswordWork } from '../../lib/password.ts';
import { recordActivity } from '../activity/activity.service.ts';
import { lockPlatformAdmins } from '../users/users.service.ts';
import type { ClientInfo } from './sessions.service.ts';
import { assertAccountSession, type Viewer } from './viewer.ts';

/** What a deleted account is called from then on, wherever its id is shown. */
export const DELETED_ACCOUNT_NAME = 'Deleted account';

/**
 * The email a deleted account keeps: unique (the column's index holds), in the reserved `.invalid` domain so no mail
 * can ever go to it, and free of anything about the person.
 */
export const deletedAccountEmail = (userId: string) => `deleted-${userId}@deleted.invalid`;

const rateLimited = (retryAfterSeconds: number) => new AppError('RATE_LIMITED', 'Too many attempts. Try again later.', { retryAfterSeconds: Math.max(1, retryAfterSeconds) });

/**
 * Deletes the signed-in person's account after they type their password again. Their personal data is erased: name
 * and email are replaced by placeholders, the password hash goes (which also retires every device token, see
 * trusted-devices.ts), linked signing identities are revoked and lose their email, pending tokens are revoked and
 * every token loses the address it was issued for, the addresses recorded on their sessions are cleared, and they
 * leave every organization and user group. Every session
 * ends in the same transaction, so the next request with any of its tokens is refused, and the session guard is told
 * to close live streams at once. The row stays: documents, packages, campaigns and activity rows keep pointing at
 * its id, so the records they created stay with their organization.
 *
 * Refused with CONFLICT while they are the only owner of an open organization (ORGANIZATION_OWNER: transfer
 * ownership or close it first) or the last active platform admin (LAST_ADMIN). Only a full session of the person
 * may do it (not an app sign-in session); failed passwords count against the same limit as changing it.
 */
export async function deleteAccount(services: Services, input: { viewer: Viewer; password: string; client: ClientInfo }): Promise<void> {
  assertAccountSession(input.viewer, 'delete the account');
  return withPasswordWork((passwords) => deleteAccountAdmitted(services, passwords, input));
}

async function deleteAccountAdmitted(services: Services, passwords: PasswordWork, input: { viewer: Viewer; password: string; client: ClientInfo }): Promise<void> {
  const { auth } = services.config;
  const userId = input.viewer.userId;
  const limitKey = `account-delete:${userId}`;
  const attempt = await services.rateLimiter.hit(limitKey, { limit: auth.signInFailuresPerAccount, windowSeconds: auth.signInFailureWindowSeconds });
  if (!attempt.allowed) throw rateLimited(attempt.retryAfterSeconds);
  const user = await services.db.user.findUniqueOrThrow({ where: { id: userId }, select: { passwordHash: true, roles: true } });
  if (!user.passwordHash) {
    throw new AppError('FORBIDDEN', 'This account has no password to confirm with. Set one through a password reset, then delete the account.', { reason: 'PASSWORD_REQUIRED' });
  }
  const check = await passwords.verify(user.passwordHash, input.password);
  if (!check.valid) throw new AppError('BAD_USER_INPUT', 'The password is incorrect.', { field: 'password', reason: 'WRONG_PASSWORD' });
  await services.rateLimiter.reset(limitKey);

  const now = services.clock.now();
  await services.db.$transaction(async (tx) => {
    const owned = await tx.membership.findMany({ where: { userId, isOwner: true, organization: { closedAt: null } }, select: { organizationId: true } });
    for (const { organizationId } of owned) {
      const otherOwners = await tx.membership.count({ where: { organizationId, isOwner: true, userId: { not: userId } } });
      if (otherOwners === 0) {
        throw new AppError('CONFLICT', 'You are the only owner of an organization. Transfer its ownership or close it before deleting your account.', {
          reason: 'ORGANIZATION_OWNER',
        });
      }
    }
    if (user.roles.includes('ADMIN')) {
      // Under the lock every change that could remove a platform admin takes, so two admins leaving at once cannot both.
      await lockPlatformAdmins(tx);
      // SQL, not `roles: { has }`: the embedded database's adapter cannot bind an enum array filter.
      const [others] = await tx.$queryRaw<{ count: number }[]>`
        SELECT count(*)::int AS count FROM "User" WHERE 'ADMIN' = ANY(roles) AND "disabledAt" IS NULL AND "deletedAt" IS NULL AND id <> ${userId}::uuid`;
      if (others?.count === 0) throw new AppError('CONFLICT', 'You are the last platform admin. Grant the role to someone else first.', { reason: 'LAST_ADMIN' });
    }

    const ended = await tx.loginSession.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: now, revokedReason: 'account_deleted' } });
    await tx.loginSession.updateMany({ where: { userId }, data: { ip: null, userAgent: null } });
    await tx.authToken.updateMany({ where: { userId, consumedAt: null, revokedAt: null }, data: { revokedAt: now } });
    // A verification token names the address it proves: the person's, even once used.
    await tx.authToken.updateMany({ where: { userId, email: { not: null } }, data: { email: null } });
    await tx.signingIdentity.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: now } });
    await tx.signingIdentity.updateMany({ where: { userId }, data: { email: null } });
    await tx.membership.deleteMany({ where: { userId } });
    await tx.userGroupMember.deleteMany({ where: { userId } });
    await tx.partnerCustomer.updateMany({ where: { userId }, data: { userId: null } });
    await tx.user.update({
      where: { id: userId },
      data: {
        email: deletedAccountEmail(userId),
        name: DELETED_ACCOUNT_NAME,
        passwordHash: null,
        passwordChangedAt: now,
        emailVerifiedAt: null,
        roles: [],
        disabledAt: now,
        deletedAt: now,
      },
    });
    // Ids only: no address, agent, name or email of a person who asked to be forgotten.
    await recordActivity(tx, { type: 'account.deleted', actorUserId: userId, subjectUserId: userId, data: { sessionsEnded: ended.count } });
  });
  // Committed: live streams are checked now, on every instance, not at the guard's next tick.
  services.events.pubSub.publish('sessionsEnded', { userId });
}
