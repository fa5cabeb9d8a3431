import type { Db } from '../../db/client.ts';
import type { Prisma } from '../../generated/prisma/client.ts';
import type { PlatformRole } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import type { CreationOrder } from '../../graphql/connections.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import { optionalText } from '../../lib/validate.ts';
import { recordActivity } from '../activity/activity.service.ts';
import { normaliseEmail } from '../auth/accounts.service.ts';
import type { ClientInfo } from '../auth/sessions.service.ts';
import { revokeSessions } from '../auth/sessions.service.ts';
import type { Viewer } from '../auth/viewer.ts';
import { assertPlatformAdmin } from './users.policy.ts';

type UserQuery = { include?: Prisma.UserInclude; select?: Prisma.UserSelect };
type Tx = Prisma.TransactionClient;

export interface UserSearch {
  /** Part of the email or name, any case. */
  search?: string | null;
  disabled?: boolean | null;
}

function usersWhere(filter: UserSearch): Prisma.UserWhereInput {
  const search = optionalText(filter.search ?? null, 'search', { max: 200 });
  return {
    ...(search ? { OR: [{ email: { contains: search, mode: 'insensitive' } }, { name: { contains: search, mode: 'insensitive' } }] } : {}),
    ...(filter.disabled === true ? { disabledAt: { not: null } } : filter.disabled === false ? { disabledAt: null } : {}),
  };
}

/** Every account on the platform matching the filter, a page at a time (platform admins only). */
export function listUsersPage<Q extends UserQuery & { take?: number; skip?: number; cursor?: Prisma.UserWhereUniqueInput }>(
  services: Pick<Services, 'db'>,
  input: { viewer: Viewer; filter: UserSearch; order: CreationOrder; query: Q },
) {
  assertPlatformAdmin(input.viewer);
  return services.db.user.findMany({ ...input.query, where: usersWhere(input.filter), orderBy: { id: input.order === 'OLDEST_FIRST' ? 'asc' : 'desc' } });
}

export function countUsers(services: Pick<Services, 'db'>, input: { viewer: Viewer; filter: UserSearch }): Promise<number> {
  assertPlatformAdmin(input.viewer);
  return services.db.user.count({ where: usersWhere(input.filter) });
}

/** One account by id (platform admins only); NOT_FOUND when there is none. */
export async function getUserForAdmin<Q extends UserQuery>(services: Pick<Services, 'db'>, input: { viewer: Viewer; id: string; query?: Q }) {
  assertPlatformAdmin(input.viewer);
  const user = await services.db.user.findUnique({ ...(input.query ?? {}), where: { id: parseId(input.id) } });
  if (!user) throw new AppError('NOT_FOUND', 'User not found.');
  return user;
}

/**
 * Serialises every change that could remove a platform admin (revoking ADMIN, disabling an account), so two admins
 * revoking each other at once cannot both succeed: the second counts the admins after the first has committed.
 */
const PLATFORM_ADMINS_LOCK = 72_370_012;

export async function lockPlatformAdmins(tx: Tx): Promise<void> {
  await tx.$queryRaw`SELECT 1 AS locked FROM pg_advisory_xact_lock(${PLATFORM_ADMINS_LOCK}::bigint)`;
}

/** Refuses a change that would leave no enabled account holding ADMIN. Call under lockPlatformAdmins. */
async function assertAnotherActiveAdmin(tx: Tx, userId: string): Promise<void> {
  // Raw SQL: the embedded database's driver adapter cannot bind an enum array filter (`has`).
  const [row] = await tx.$queryRaw<Array<{ others: number }>>`
    SELECT count(*)::int AS others FROM "User" WHERE 'ADMIN' = ANY("roles") AND "disabledAt" IS NULL AND "id" <> ${userId}::uuid`;
  if (!row || row.others === 0) {
    throw new AppError('CONFLICT', 'This is the last active platform admin. Make another account an admin first.', { reason: 'LAST_ADMIN' });
  }
}

/** The account, its row locked until the transaction ends, so concurrent role changes apply one after the other. */
async function findUserForUpdate(tx: Tx, id: string) {
  await tx.$queryRaw`SELECT 1 AS locked FROM "User" WHERE "id" = ${id}::uuid FOR UPDATE`;
  const user = await tx.user.findUnique({ where: { id }, select: { id: true, roles: true, disabledAt: true, deletedAt: true } });
  if (!user) throw new AppError('NOT_FOUND', 'User not found.');
  return user;
}

interface AdminChange<Q> {
  viewer: Viewer;
  client: ClientInfo;
  userId: string;
  query?: Q;
}

const audit = (input: AdminChange<unknown>, type: string, userId: string, data: Prisma.InputJsonValue) => ({
  type,
  actorUserId: input.viewer.userId,
  subjectUserId: userId,
  ip: input.client.ip,
  userAgent: input.client.userAgent,
  sessionKind: input.viewer.sessionKind,
  data,
});

/** Gives an account a platform role (platform admins only). Granting a role it holds is a no-op, not audited. */
export async function grantPlatformRole<Q extends UserQuery>(services: Services, input: AdminChange<Q> & { role: PlatformRole }) {
  assertPlatformAdmin(input.viewer);
  const id = parseId(input.userId, 'userId');
  await services.db.$transaction(async (tx) => {
    const user = await findUserForUpdate(tx, id);
    if (user.roles.includes(input.role)) return;
    await tx.user.update({ where: { id }, data: { roles: [...user.roles, input.role] } });
    await recordActivity(tx, audit(input, 'user.role_granted', id, { role: input.role }));
  });
  return services.db.user.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}

/**
 * Takes a platform role from an account (platform admins only; their own ADMIN too, while another enabled admin
 * remains: the last one is a CONFLICT). Revoking a role it does not hold is a no-op, not audited.
 */
export async function revokePlatformRole<Q extends UserQuery>(services: Services, input: AdminChange<Q> & { role: PlatformRole }) {
  assertPlatformAdmin(input.viewer);
  const id = parseId(input.userId, 'userId');
  await services.db.$transaction(async (tx) => {
    if (input.role === 'ADMIN') await lockPlatformAdmins(tx);
    const user = await findUserForUpdate(tx, id);
    if (!user.roles.includes(input.role)) return;
    if (input.role === 'ADMIN' && !user.disabledAt) await assertAnotherActiveAdmin(tx, id);
    await tx.user.update({ where: { id }, data: { roles: user.roles.filter((role) => role !== input.role) } });
    await recordActivity(tx, audit(input, 'user.role_revoked', id, { role: input.role }));
  });
  return services.db.user.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}

/**
 * Disables an account (platform admins only; not their own): it can no longer sign in, and its sessions are revoked
 * in the same transaction, so its next request is refused and its live streams are ended (the session guard is
 * told at once through the activity event). Disabling the last enabled admin is a CONFLICT.
 */
export async function disableUser<Q extends UserQuery>(services: Services, input: AdminChange<Q>) {
  assertPlatformAdmin(input.viewer);
  const id = parseId(input.userId, 'userId');
  if (id === input.viewer.userId) {
    throw new AppError('FORBIDDEN', 'You cannot disable your own account. Ask another platform admin.', { reason: 'SELF_DISABLE' });
  }
  await services.db.$transaction(async (tx) => {
    await lockPlatformAdmins(tx);
    const user = await findUserForUpdate(tx, id);
    if (user.disabledAt) return;
    if (user.roles.includes('ADMIN')) await assertAnotherActiveAdmin(tx, id);
    await tx.user.update({ where: { id }, data: { disabledAt: services.clock.now() } });
    const sessionsRevoked = await revokeSessions({ db: tx, clock: services.clock }, { where: { userId: id }, reason: 'account_disabled' });
    await recordActivity(tx, audit(input, 'user.disabled', id, { sessionsRevoked }));
  });
  // Committed: live streams of the account are checked now, on every instance, not at the guard's next tick.
  services.events.pubSub.publish('sessionsEnded', { userId: id });
  return services.db.user.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}

/** Enables a disabled account again (platform admins only). Its old sessions stay revoked: the person signs in again. */
export async function enableUser<Q extends UserQuery>(services: Services, input: AdminChange<Q>) {
  assertPlatformAdmin(input.viewer);
  const id = parseId(input.userId, 'userId');
  await services.db.$transaction(async (tx) => {
    const user = await findUserForUpdate(tx, id);
    if (!user.disabledAt) return;
    // A deleted account stays disabled: its person is gone and nothing of theirs is left to sign in with.
    if (user.deletedAt) throw new AppError('CONFLICT', 'This account was deleted by its owner and cannot be enabled again.', { reason: 'ACCOUNT_DELETED' });
    await tx.user.update({ where: { id }, data: { disabledAt: null } });
    await recordActivity(tx, audit(input, 'user.enabled', id, {}));
  });
  return services.db.user.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}

/**
 * Makes the account with `email` a platform admin on behalf of whoever runs the server (`npm run admin:grant`):
 * how the first admin of a fresh install is made. Audited with no actor and `via: 'command-line'`. Answers whether
 * the role was granted now (false: the account held it already).
 */
export async function grantPlatformAdminFromCommandLine(db: Db, input: { email: string }): Promise<{ userId: string; granted: boolean; disabled: boolean }> {
  const email = normaliseEmail(input.email);
  return db.$transaction(async (tx) => {
    const found = await tx.user.findUnique({ where: { email }, select: { id: true } });
    const user = found && (await findUserForUpdate(tx, found.id));
    if (!user) throw new AppError('NOT_FOUND', 'No account has that email. Sign up first, then run this command again.', { field: 'email' });
    const result = { userId: user.id, granted: !user.roles.includes('ADMIN'), disabled: user.disabledAt !== null };
    if (!result.granted) return result;
    await tx.user.update({ where: { id: user.id }, data: { roles: [...user.roles, 'ADMIN'] } });
    await recordActivity(tx, { type: 'user.role_granted', actorUserId: null, subjectUserId: user.id, data: { role: 'ADMIN', via: 'command-line' } });
    return result;
  });
}
