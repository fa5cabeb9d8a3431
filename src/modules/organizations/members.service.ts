import type { Prisma } from '../../generated/prisma/client.ts';
import type { PermissionKey } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import { text } from '../../lib/validate.ts';
import { auditFields, recordActivity, type Actor as AuditActor } from '../activity/activity.service.ts';
import type { Viewer } from '../auth/viewer.ts';
import { assertMayGrant, assertMayManageMember, memberOrganizationsWhere, requireMembership, requirePermission } from './organizations.policy.ts';
import { PRINTABLE, isUniqueViolation, parseLocationIds } from './organizations.service.ts';

type RoleQuery = { include?: Prisma.OrganizationRoleInclude; select?: Prisma.OrganizationRoleSelect };
type MembershipQuery = { include?: Prisma.MembershipInclude; select?: Prisma.MembershipSelect };
type Tx = Parameters<Parameters<Services['db']['$transaction']>[0]>[0];

interface Actor extends AuditActor {
  viewer: Viewer;
}


/** Serialises ownership changes within one organization, so two of them cannot leave it without an owner. */
async function lockOrganization(tx: Tx, organizationId: string): Promise<void> {
  await tx.$queryRaw`SELECT 1 FROM "Organization" WHERE "id" = ${organizationId}::uuid FOR UPDATE`;
}

function roleName(value: string): string {
  return text(value, 'name', { max: 60, pattern: PRINTABLE, hint: 'name must not contain control characters.' });
}

function permissionList(value: readonly PermissionKey[]): PermissionKey[] {
  return [...new Set(value)];
}

const duplicateRole = () => new AppError('CONFLICT', 'This organization already has a role with that name.', { field: 'name' });

export async function createOrganizationRole<Q extends RoleQuery>(
  services: Services,
  input: Actor & { organizationId: string; name: string; permissions: readonly PermissionKey[]; query?: Q },
) {
  const organizationId = parseId(input.organizationId, 'organizationId');
  const actor = await requireMembership(input.viewer, organizationId);
  requirePermission(actor, 'members');
  const name = roleName(input.name);
  const permissions = permissionList(input.permissions);
  assertMayGrant(actor, permissions);
  const id = await services.db
    .$transaction(async (tx) => {
      const role = await tx.organizationRole.create({ data: { organizationId, name, permissions }, select: { id: true } });
      await recordActivity(tx, { type: 'role.created', ...auditFields(input, organizationId), data: { roleId: role.id, name, permissions } });
      return role.id;
    })
    .catch((error: unknown) => {
      throw isUniqueViolation(error) ? duplicateRole() : error;
    });
  return services.db.organizationRole.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}

/** A role in one of the viewer's organizations, with the viewer's membership there; anything else is NOT_FOUND. */
async function roleForMemberAdmin(services: Services, viewer: Viewer, rawId: string) {
  const id = parseId(rawId);
  const role = await services.db.organizationRole.findFirst({ where: { id, organization: memberOrganizationsWhere(viewer) } });
  if (!role) throw new AppError('NOT_FOUND', 'Role not found.');
  const actor = await requireMembership(viewer, role.organizationId, 'Role not found.');
  requirePermission(actor, 'members');
  assertMayGrant(actor, role.permissions);
  return { role, actor };
}

export async function updateOrganizationRole<Q extends RoleQuery>(
  services: Services,
  input: Actor & { id: string; name?: string | null; permissions?: readonly PermissionKey[] | null; query?: Q },
) {
  const { role, actor } = await roleForMemberAdmin(services, input.viewer, input.id);
  const name = input.name === undefined || input.name === null ? undefined : roleName(input.name);
  const permissions = input.permissions === undefined || input.permissions === null ? undefined : permissionList(input.permissions);
  if (name === undefined && permissions === undefined) throw new AppError('BAD_USER_INPUT', 'Give a name or permissions to change.', { field: 'input' });
  if (permissions) assertMayGrant(actor, permissions);
  await services.db
    .$transaction(async (tx) => {
      await tx.organizationRole.update({ where: { id: role.id }, data: { ...(name === undefined ? {} : { name }), ...(permissions === undefined ? {} : { permissions }) } });
      if (name !== undefined && name !== role.name) {
        await recordActivity(tx, { type: 'role.renamed', ...auditFields(input, role.organizationId), data: { roleId: role.id, from: role.name, to: name } });
      }
      if (permissions !== undefined) {
        await recordActivity(tx, {
          type: 'role.permissions_changed',
          ...auditFields(input, role.organizationId),
          data: { roleId: role.id, from: role.permissions, to: permissions },
        });
      }
    })
    .catch((error: unknown) => {
      throw isUniqueViolation(error) ? duplicateRole() : error;
    });
  return services.db.organizationRole.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: role.id } });
}

/** Deletes a role nobody holds and no pending invitation offers; otherwise CONFLICT. */
export async function deleteOrganizationRole(services: Services, input: Actor & { id: string }): Promise<void> {
  const { role } = await roleForMemberAdmin(services, input.viewer, input.id);
  const inUse = () => new AppError('CONFLICT', 'Members or pending invitations still use this role. Move them to another role first.', { reason: 'ROLE_IN_USE' });
  await services.db
    .$transaction(async (tx) => {
      const members = await tx.membership.count({ where: { roleId: role.id } });
      const invitations = await tx.invitation.count({ where: { roleId: role.id, status: 'PENDING' } });
      if (members > 0 || invitations > 0) throw inUse();
      await tx.organizationRole.delete({ where: { id: role.id } });
      await recordActivity(tx, { type: 'role.deleted', ...auditFields(input, role.organizationId), data: { roleId: role.id, name: role.name, permissions: role.permissions } });
    })
    .catch((error: unknown) => {
      // A member assigned the role between the count and the delete trips the foreign key instead.
      throw (error as { code?: unknown }).code === 'P2003' ? inUse() : error;
    });
}

/** A membership in one of the viewer's organizations, with the viewer's own membership there. */
async function membershipForMemberAdmin(services: Services, viewer: Viewer, rawId: string, field: string) {
  const id = parseId(rawId, field);
  const target = await services.db.membership.findFirst({
    where: { id, organization: memberOrganizationsWhere(viewer) },
    select: { id: true, userId: true, organizationId: true, isOwner: true, roleId: true, role: { select: { permissions: true } }, locations: { select: { locationId: true } } },
  });
  if (!target) throw new AppError('NOT_FOUND', 'Member not found.', { field });
  const actor = await requireMembership(viewer, target.organizationId, 'Member not found.');
  requirePermission(actor, 'members');
  assertMayManageMember(actor, target);
  return { target, actor };
}

/** Changes a member's role and/or locations (`[]` means the whole organization). */
export async function updateMember<Q extends MembershipQuery>(
  services: Services,
  input: Actor & { membershipId: string; roleId?: string | null; locationIds?: ReadonlyArray<string | number> | null; query?: Q },
) {
  const { target, actor } = await membershipForMemberAdmin(services, input.viewer, input.membershipId, 'membershipId');
  if ((input.roleId === undefined || input.roleId === null) && (input.locationIds === undefined || input.locationIds === null)) {
    throw new AppError('BAD_USER_INPUT', 'Give a roleId or locationIds to change.', { field: 'input' });
  }
  let roleId: string | undefined;
  if (input.roleId !== undefined && input.roleId !== null) {
    roleId = parseId(input.roleId, 'roleId');
    const role = await services.db.organizationRole.findFirst({ where: { id: roleId, organizationId: target.organizationId }, select: { permissions: true } });
    if (!role) throw new AppError('BAD_USER_INPUT', 'That role is not in this organization.', { field: 'roleId' });
    assertMayGrant(actor, role.permissions);
  }
  const locationIds = input.locationIds === undefined || input.locationIds === null ? undefined : await parseLocationIds(services.db, target.organizationId, input.locationIds);

  await services.db.$transaction(async (tx) => {
    if (roleId !== undefined && roleId !== target.roleId) {
      await tx.membership.update({ where: { id: target.id }, data: { roleId } });
      await recordActivity(tx, {
        type: 'member.role_changed',
        ...auditFields(input, target.organizationId),
        subjectUserId: target.userId,
        data: { membershipId: target.id, fromRoleId: target.roleId, toRoleId: roleId },
      });
    }
    if (locationIds !== undefined) {
      await tx.membershipLocation.deleteMany({ where: { membershipId: target.id } });
      if (locationIds.length > 0) await tx.membershipLocation.createMany({ data: locationIds.map((locationId) => ({ membershipId: target.id, locationId })) });
      await recordActivity(tx, {
        type: 'member.locations_changed',
        ...auditFields(input, target.organizationId),
        subjectUserId: target.userId,
        data: { membershipId: target.id, from: target.locations.map((l) => l.locationId), to: locationIds },
      });
    }
  });
  return services.db.membership.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: target.id } });
}

/**
 * Removes a member. Their access ends on their next request (memberships are read per request), and their
 * signing identities in the organization end with it. The last owner cannot be removed.
 */
export async function removeMember(services: Services, input: Actor & { membershipId: string }): Promise<void> {
  const { target } = await membershipForMemberAdmin(services, input.viewer, input.membershipId, 'membershipId');
  const now = services.clock.now();
  await services.db.$transaction(async (tx) => {
    await lockOrganization(tx, target.organizationId);
    if (target.isOwner) {
      const owners = await tx.membership.count({ where: { organizationId: target.organizationId, isOwner: true } });
      if (owners <= 1) throw new AppError('CONFLICT', 'An organization needs at least one owner. Transfer ownership before removing this member.', { reason: 'LAST_OWNER' });
    }
    const removed = await tx.membership.deleteMany({ where: { id: target.id } });
    if (removed.count !== 1) throw new AppError('NOT_FOUND', 'Member not found.', { field: 'membershipId' });
    await tx.signingIdentity.updateMany({ where: { userId: target.userId, organizationId: target.organizationId, revokedAt: null }, data: { revokedAt: now } });
    await recordActivity(tx, {
      type: 'member.removed',
      ...auditFields(input, target.organizationId),
      subjectUserId: target.userId,
      data: { membershipId: target.id, wasOwner: target.isOwner },
    });
  });
}

/** Makes another member the owner and ends the caller's ownership, together. Roles stay as they are. */
export async function transferOwnership<Q extends MembershipQuery>(
  services: Services,
  input: Actor & { organizationId: string; toMembershipId: string; query?: Q },
) {
  const organizationId = parseId(input.organizationId, 'organizationId');
  const toMembershipId = parseId(input.toMembershipId, 'toMembershipId');
  const actor = await requireMembership(input.viewer, organizationId);
  if (!actor.isOwner) throw new AppError('FORBIDDEN', 'Only an owner can transfer ownership.');
  const target = await services.db.membership.findFirst({ where: { id: toMembershipId, organizationId }, select: { id: true, userId: true } });
  if (!target) throw new AppError('NOT_FOUND', 'Member not found.', { field: 'toMembershipId' });
  if (target.userId === input.viewer.userId) throw new AppError('BAD_USER_INPUT', 'Choose another member to transfer ownership to.', { field: 'toMembershipId' });
  await services.db.$transaction(async (tx) => {
    await lockOrganization(tx, organizationId);
    const steppedDown = await tx.membership.updateMany({ where: { organizationId, userId: input.viewer.userId, isOwner: true }, data: { isOwner: false } });
    if (steppedDown.count !== 1) throw new AppError('FORBIDDEN', 'Only an owner can transfer ownership.');
    const promoted = await tx.membership.updateMany({ where: { id: target.id, organizationId }, data: { isOwner: true } });
    if (promoted.count !== 1) throw new AppError('NOT_FOUND', 'Member not found.', { field: 'toMembershipId' });
    await recordActivity(tx, {
      type: 'ownership.transferred',
      ...auditFields(input, organizationId),
      subjectUserId: target.userId,
      data: { fromUserId: input.viewer.userId, toUserId: target.userId, toMembershipId: target.id },
    });
  });
  return services.db.membership.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: target.id } });
}
