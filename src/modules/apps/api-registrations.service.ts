import type { Prisma } from '../../generated/prisma/client.ts';
import type { PermissionKey } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import { formatAddressRange, InvalidAddressRange, parseAddressRange } from '../../lib/ip.ts';
import { generateSecret, hashSecret } from '../../lib/tokens.ts';
import { text } from '../../lib/validate.ts';
import { auditFields, recordActivity, type Actor as AuditActor } from '../activity/activity.service.ts';
import { assertAccountSession, type Viewer } from '../auth/viewer.ts';
import type { MembershipAccess } from '../auth/permissions.ts';
import { memberOrganizationsWhere, requireMembership, requirePermission } from '../organizations/organizations.policy.ts';
import { isUniqueViolation, PRINTABLE } from '../organizations/organizations.service.ts';

/** API keys start with this, so a leaked key is recognisable (secret scanners, logs) and its owner findable. */
export const API_KEY_PREFIX = 'scak_';
/** The start of a key kept beside its hash: it names the registration (in listings and limits) without being its secret. */
export const apiKeyPrefix = (key: string): string => key.slice(0, API_KEY_PREFIX.length + 8);
/** OAuth client ids and secrets, likewise. */
export const CLIENT_ID_PREFIX = 'scc_';
export const CLIENT_SECRET_PREFIX = 'scs_';
/** The one scope of the public API. */
export const PUBLIC_API_SCOPE = 'publicapi';

const MAX_SOURCES = 100;
const MAX_GROUPS = 100;

type GroupQuery = { include?: Prisma.UserGroupInclude; select?: Prisma.UserGroupSelect };
type RegistrationQuery = { include?: Prisma.ApiRegistrationInclude; select?: Prisma.ApiRegistrationSelect };
type ClientQuery = { include?: Prisma.OAuthClientInclude; select?: Prisma.OAuthClientSelect };

interface Actor extends AuditActor {
  viewer: Viewer;
}


const name = (value: string) => text(value, 'name', { max: 120, pattern: PRINTABLE, hint: 'name must not contain control characters.' });

/** The actor's membership in the organization, holding orgSettings: API access is part of the settings. Full sessions only. */
async function settingsMembership(viewer: Viewer, organizationId: string): Promise<MembershipAccess> {
  // A key must not mint keys: a credential made from an app session would outlive the one it came in with.
  assertAccountSession(viewer, 'manage app access');
  const membership = await requireMembership(viewer, organizationId);
  requirePermission(membership, 'orgSettings');
  return membership;
}

/**
 * Whoever holds an app credential can act as the users it runs as. So nobody may make a user reachable that way
 * unless they could grant that user's permissions themselves, and only owners may expose an owner.
 */
async function assertMayDelegate(services: Services, actor: MembershipAccess, organizationId: string, userId: string): Promise<void> {
  const target = await services.db.membership.findUnique({
    where: { userId_organizationId: { userId, organizationId } },
    select: { isOwner: true, role: { select: { permissions: true } } },
  });
  if (!target) throw new AppError('BAD_USER_INPUT', 'That user is not a member of this organization.', { field: 'userId', reason: 'NOT_A_MEMBER' });
  if (target.isOwner && !actor.isOwner) {
    throw new AppError('FORBIDDEN', 'Only an owner can give app access to an owner.', { reason: 'PERMISSION_ESCALATION' });
  }
  assertHoldsAll(actor, target.role.permissions);
}

function assertHoldsAll(actor: MembershipAccess, permissions: readonly PermissionKey[]): void {
  if (actor.isOwner) return;
  const missing = [...new Set(permissions)].filter((permission) => !actor.permissions.has(permission));
  if (missing.length > 0) {
    throw new AppError('FORBIDDEN', `Only an owner can give app access to members with permissions you do not hold (${missing.join(', ')}).`, {
      reason: 'PERMISSION_ESCALATION',
    });
  }
}

/**
 * Granting groups on a registration makes every member of them reachable through its key, so the same rule as
 * assertMayDelegate holds for each member of each group.
 */
async function assertMayDelegateGroups(services: Services, actor: MembershipAccess, organizationId: string, groupIds: readonly string[]): Promise<void> {
  if (actor.isOwner || groupIds.length === 0) return;
  const members = await services.db.membership.findMany({
    where: { organizationId, user: { groupMemberships: { some: { groupId: { in: [...groupIds] } } } } },
    select: { isOwner: true, role: { select: { permissions: true } } },
  });
  if (members.some((member) => member.isOwner)) {
    throw new AppError('FORBIDDEN', 'Only an owner can give app access to a group that has an owner in it.', { reason: 'PERMISSION_ESCALATION', field: 'groupIds' });
  }
  assertHoldsAll(actor, members.flatMap((member) => member.role.permissions));
}

/** Validates and normalises allowed source addresses: single IPs and CIDR ranges, IPv4 and IPv6. */
export function parseAllowedSources(values: readonly string[]): string[] {
  if (values.length > MAX_SOURCES) throw new AppError('BAD_USER_INPUT', `Give at most ${MAX_SOURCES} allowed sources.`, { field: 'allowedSources' });
  const normalised = values.map((value) => {
    try {
      return formatAddressRange(parseAddressRange(value));
    } catch (error) {
      if (error instanceof InvalidAddressRange) throw new AppError('BAD_USER_INPUT', error.message, { field: 'allowedSources', reason: 'INVALID_ADDRESS' });
      throw error;
    }
  });
  return [...new Set(normalised)];
}

async function parseGroupIds(services: Services, organizationId: string, values: ReadonlyArray<string | number>): Promise<string[]> {
  if (values.length > MAX_GROUPS) throw new AppError('BAD_USER_INPUT', `Give at most ${MAX_GROUPS} groups.`, { field: 'groupIds' });
  const ids = [...new Set(values.map((value) => parseId(String(value), 'groupIds')))];
  const found = await services.db.userGroup.count({ where: { id: { in: ids }, organizationId } });
  if (found !== ids.length) throw new AppError('NOT_FOUND', 'Every group must be a user group of this organization.', { field: 'groupIds' });
  return ids;
}

// ---------------------------------------------------------------------------------------------------------------
// User groups

export async function createUserGroup<Q extends GroupQuery>(services: Services, input: Actor & { organizationId: string; name: string; query?: Q }) {
  const organizationId = parseId(input.organizationId, 'organizationId');
  await settingsMembership(input.viewer, organizationId);
  const groupName = name(input.name);
  const id = await services.db
    .$transaction(async (tx) => {
      const group = await tx.userGroup.create({ data: { organizationId, name: groupName, createdAt: services.clock.now() }, select: { id: true } });
      await recordActivity(tx, { type: 'user_group.created', ...auditFields(input, organizationId), data: { groupId: group.id, name: groupName } });
      return group.id;
    })
    .catch((error: unknown) => {
      throw isUniqueViolation(error) ? new AppError('CONFLICT', 'This organization already has a group with that name.', { field: 'name' }) : error;
    });
  return services.db.userGroup.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}

async function groupForSettings(services: Services, viewer: Viewer, rawId: string) {
  const id = parseId(rawId, 'groupId');
  const group = await services.db.userGroup.findFirst({ where: { id, organization: memberOrganizationsWhere(viewer) }, select: { id: true, organizationId: true } });
  if (!group) throw new AppError('NOT_FOUND', 'User group not found.', { field: 'groupId' });
  return { group, membership: await settingsMembership(viewer, group.organizationId) };
}

export async function addUserGroupMember<Q extends GroupQuery>(services: Services, input: Actor & { groupId: string; userId: string; query?: Q }) {
  const { group, membership } = await groupForSettings(services, input.viewer, input.groupId);
  const userId = parseId(input.userId, 'userId');
  await assertMayDelegate(services, membership, group.organizationId, userId);
  await services.db.$transaction(async (tx) => {
    await tx.userGroupMember.upsert({ where: { groupId_userId: { groupId: group.id, userId } }, create: { groupId: group.id, userId }, update: {} });
    await recordActivity(tx, { type: 'user_group.member_added', ...auditFields(input, group.organizationId), subjectUserId: userId, data: { groupId: group.id } });
  });
  return services.db.userGroup.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: group.id } });
}

export async function removeUserGroupMember<Q extends GroupQuery>(services: Services, input: Actor & { groupId: string; userId: string; query?: Q }) {
  const { group } = await groupForSettings(services, input.viewer, input.groupId);
  const userId = parseId(input.userId, 'userId');
  await services.db.$transaction(async (tx) => {
    const { count } = await tx.userGroupMember.deleteMany({ where: { groupId: group.id, userId } });
    if (count === 0) throw new AppError('NOT_FOUND', 'That user is not in this group.', { field: 'userId' });
    await recordActivity(tx, { type: 'user_group.member_removed', ...auditFields(input, group.organizationId), subjectUserId: userId, data: { groupId: group.id } });
  });
  return services.db.userGroup.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: group.id } });
}

// ---------------------------------------------------------------------------------------------------------------
// API registrations

export interface CreatedApiRegistration<R> {
  apiRegistration: R;
  /** Shown this once; only its SHA-256 is stored. */
  key: string;
}

/** An API registration and its key. The key is shown only in this answer. */
export async function createApiRegistration<Q extends RegistrationQuery>(
  services: Services,
  input: Actor & { organizationId: string; name: string; allowedSources: readonly string[]; groupIds: ReadonlyArray<string | number>; query?: Q },
): Promise<CreatedApiRegistration<Prisma.ApiRegistrationGetPayload<Q & { where: { id: string } }>>> {
  const organizationId = parseId(input.organizationId, 'organizationId');
  const membership = await settingsMembership(input.viewer, organizationId);
  const registrationName = name(input.name);
  const allowedSources = parseAllowedSources(input.allowedSources);
  const groupIds = await parseGroupIds(services, organizationId, input.groupIds);
  await assertMayDelegateGroups(services, membership, organizationId, groupIds);
  const key = `${API_KEY_PREFIX}${generateSecret()}`;
  const id = await services.db.$transaction(async (tx) => {
    const registration = await tx.apiRegistration.create({
      data: {
        organizationId,
        name: registrationName,
        keyPrefix: apiKeyPrefix(key),
        keyHash: hashSecret(key),
        allowedSources,
        createdById: input.viewer.userId,
        createdAt: services.clock.now(),
        groups: { create: groupIds.map((groupId) => ({ groupId })) },
      },
      select: { id: true },
    });
    await recordActivity(tx, { type: 'api_registration.created', ...auditFields(input, organizationId), data: { apiRegistrationId: registration.id, allowedSources, groupIds } });
    return registration.id;
  });
  const apiRegistration = await services.db.apiRegistration.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
  return { apiRegistration: apiRegistration as Prisma.ApiRegistrationGetPayload<Q & { where: { id: string } }>, key };
}

async function registrationForSettings(services: Services, viewer: Viewer, rawId: string, field = 'id') {
  const id = parseId(rawId, field);
  const registration = await services.db.apiRegistration.findFirst({
    where: { id, organization: memberOrganizationsWhere(viewer) },
    select: { id: true, organizationId: true, disabledAt: true },
  });
  if (!registration) throw new AppError('NOT_FOUND', 'API registration not found.', { field });
  return { registration, membership: await settingsMembership(viewer, registration.organizationId) };
}

/** Changes the name, the allowed sources or the groups; omitted fields stay as they are. */
export async function updateApiRegistration<Q extends RegistrationQuery>(
  services: Services,
  input: Actor & { id: string; name?: string | null; allowedSources?: readonly string[] | null; groupIds?: ReadonlyArray<string | number> | null; query?: Q },
) {
  const { registration, membership } = await registrationForSettings(services, input.viewer, input.id);
  const data: Prisma.ApiRegistrationUpdateInput = {};
  if (input.name !== undefined && input.name !== null) data.name = name(input.name);
  if (input.allowedSources !== undefined && input.allowedSources !== null) data.allowedSources = parseAllowedSources(input.allowedSources);
  const groupIds = input.groupIds === undefined || input.groupIds === null ? undefined : await parseGroupIds(services, registration.organizationId, input.groupIds);
  if (groupIds) await assertMayDelegateGroups(services, membership, registration.organizationId, groupIds);
  if (Object.keys(data).length === 0 && !groupIds) throw new AppError('BAD_USER_INPUT', 'Give at least one field to change.', { field: 'input' });
  await services.db.$transaction(async (tx) => {
    await tx.apiRegistration.update({ where: { id: registration.id }, data });
    if (groupIds) {
      await tx.apiRegistrationAccess.deleteMany({ where: { apiRegistrationId: registration.id } });
      await tx.apiRegistrationAccess.createMany({ data: groupIds.map((groupId) => ({ apiRegistrationId: registration.id, groupId })) });
    }
    await recordActivity(tx, {
      type: 'api_registration.updated',
      ...auditFields(input, registration.organizationId),
      data: { apiRegistrationId: registration.id, changed: [...Object.keys(data), ...(groupIds ? ['groupIds'] : [])] },
    });
  });
  return services.db.apiRegistration.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: registration.id } });
}

/**
 * Disables the registration for good: its key stops working, the sessions opened with it end, and so do its OAuth
 * clients and their tokens.
 */
export async function revokeApiRegistration<Q extends RegistrationQuery>(services: Services, input: Actor & { id: string; query?: Q }) {
  const { registration } = await registrationForSettings(services, input.viewer, input.id);
  const now = services.clock.now();
  if (!registration.disabledAt) {
    await services.db.$transaction(async (tx) => {
      await tx.apiRegistration.update({ where: { id: registration.id }, data: { disabledAt: now } });
      await tx.oAuthClient.updateMany({ where: { apiRegistrationId: registration.id, disabledAt: null }, data: { disabledAt: now } });
      await tx.authToken.updateMany({ where: { purpose: 'OAUTH_ACCESS', oauthClient: { apiRegistrationId: registration.id }, revokedAt: null }, data: { revokedAt: now } });
      await tx.loginSession.updateMany({
        where: { revokedAt: null, OR: [{ apiRegistrationId: registration.id }, { oauthToken: { oauthClient: { apiRegistrationId: registration.id } } }] },
        data: { revokedAt: now, revokedReason: 'api_registration_revoked' },
      });
      await recordActivity(tx, { type: 'api_registration.revoked', ...auditFields(input, registration.organizationId), data: { apiRegistrationId: registration.id } });
    });
  }
  return services.db.apiRegistration.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: registration.id } });
}

// ---------------------------------------------------------------------------------------------------------------
// OAuth clients

export interface CreatedOAuthClient<C> {
  oauthClient: C;
  clientId: string;
  /** Shown this once; only its SHA-256 is stored. */
  clientSecret: string;
}

/**
 * An OAuth client (client credentials grant) on an API registration, acting as an application user: a member of
 * the organization who must be in one of the registration's groups whenever the client is used.
 */
export async function createOAuthClient<Q extends ClientQuery>(
  services: Services,
  input: Actor & { apiRegistrationId: string; name: string; runAsUserId: string; query?: Q },
): Promise<CreatedOAuthClient<Prisma.OAuthClientGetPayload<Q & { where: { id: string } }>>> {
  const { registration, membership } = await registrationForSettings(services, input.viewer, input.apiRegistrationId, 'apiRegistrationId');
  if (registration.disabledAt) throw new AppError('CONFLICT', 'This API registration has been revoked.', { field: 'apiRegistrationId', reason: 'REGISTRATION_REVOKED' });
  const runAsUserId = parseId(input.runAsUserId, 'runAsUserId');
  await assertMayDelegate(services, membership, registration.organizationId, runAsUserId);
  const clientName = name(input.name);
  const clientId = `${CLIENT_ID_PREFIX}${generateSecret(16)}`;
  const clientSecret = `${CLIENT_SECRET_PREFIX}${generateSecret()}`;
  const id = await services.db.$transaction(async (tx) => {
    const created = await tx.oAuthClient.create({
      data: {
        organizationId: registration.organizationId,
        apiRegistrationId: registration.id,
        clientId,
        secretHash: hashSecret(clientSecret),
        name: clientName,
        scopes: [PUBLIC_API_SCOPE],
        userId: runAsUserId,
        createdAt: services.clock.now(),
      },
      select: { id: true },
    });
    await recordActivity(tx, {
      type: 'oauth_client.created',
      ...auditFields(input, registration.organizationId),
      subjectUserId: runAsUserId,
      data: { oauthClientId: created.id, clientId, apiRegistrationId: registration.id },
    });
    return created.id;
  });
  const oauthClient = await services.db.oAuthClient.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
  return { oauthClient: oauthClient as Prisma.OAuthClientGetPayload<Q & { where: { id: string } }>, clientId, clientSecret };
}

/** Disables the client: its tokens stop working and the sessions they opened end. */
export async function revokeOAuthClient<Q extends ClientQuery>(services: Services, input: Actor & { id: string; query?: Q }) {
  const id = parseId(input.id);
  const client = await services.db.oAuthClient.findFirst({ where: { id, organization: memberOrganizationsWhere(input.viewer) }, select: { id: true, organizationId: true, disabledAt: true } });
  if (!client) throw new AppError('NOT_FOUND', 'OAuth client not found.', { field: 'id' });
  await settingsMembership(input.viewer, client.organizationId);
  const now = services.clock.now();
  if (!client.disabledAt) {
    await services.db.$transaction(async (tx) => {
      await tx.oAuthClient.update({ where: { id }, data: { disabledAt: now } });
      await tx.authToken.updateMany({ where: { oauthClientId: id, revokedAt: null }, data: { revokedAt: now } });
      await tx.loginSession.updateMany({ where: { revokedAt: null, oauthToken: { oauthClientId: id } }, data: { revokedAt: now, revokedReason: 'oauth_client_revoked' } });
      await recordActivity(tx, { type: 'oauth_client.revoked', ...auditFields(input, client.organizationId), data: { oauthClientId: id } });
    });
  }
  return services.db.oAuthClient.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}
