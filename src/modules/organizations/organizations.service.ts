import { randomBytes } from 'node:crypto';
import type { Prisma } from '../../generated/prisma/client.ts';
import type { PermissionKey } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import { hostName, integerInRange, optionalText, text } from '../../lib/validate.ts';
import { recordActivity } from '../activity/activity.service.ts';
import { PERMISSION_KEYS } from '../auth/permissions.ts';
import type { ClientInfo } from '../auth/sessions.service.ts';
import { assertAccountSession, type Viewer } from '../auth/viewer.ts';
import { memberOrganizationsWhere, readableOrganizationsWhere, requireMembership, requirePermission } from './organizations.policy.ts';

type OrganizationQuery = { include?: Prisma.OrganizationInclude; select?: Prisma.OrganizationSelect };
type LocationQuery = { include?: Prisma.LocationInclude; select?: Prisma.LocationSelect };

/** Names shown to people (and put in mail subjects): no control characters, so no header or line injection. */
export const PRINTABLE = /^[^\p{Cc}]+$/u;
const SLUG = /^[a-z0-9-]{3,60}$/;
const PLAN = /^[a-z0-9-]{2,40}$/;

/** The roles every new organization starts with. */
export const DEFAULT_ROLES: ReadonlyArray<{ name: string; permissions: PermissionKey[] }> = [
  { name: 'Owner', permissions: [...PERMISSION_KEYS] },
  { name: 'Manager', permissions: ['members', 'documents', 'loans', 'rcm', 'signing'] },
  { name: 'Staff', permissions: ['documents', 'loans'] },
];

export function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'P2002';
}

export function organizationName(value: string, field = 'name'): string {
  return text(value, field, { max: 200, pattern: PRINTABLE, hint: `${field} must not contain control characters.` });
}

/** Lower-case letters, digits and dashes from a name; may be too short to be a slug on its own. */
export function slugFromName(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    // Runs of dashes are single dashes by now, so one at each end is all there is to trim.
    .replace(/^-|-$/g, '')
    .slice(0, 50)
    .replace(/-$/, '');
}

export async function getOrganizationById<Q extends OrganizationQuery>(services: Pick<Services, 'db'>, options: { viewer: Viewer; id: string; query?: Q }) {
  const id = parseId(options.id);
  const organization = await services.db.organization.findFirst({ ...(options.query ?? {}), where: { AND: [{ id }, readableOrganizationsWhere(options.viewer)] } });
  if (!organization) throw new AppError('NOT_FOUND', 'Organization not found.');
  return organization;
}

/**
 * Creates an organization with its default roles and makes the caller its owner, all or nothing. Without a slug
 * one is derived from the name, with a random suffix if that one is taken; a slug the caller chose that is taken
 * is a CONFLICT.
 */
export async function createOrganization<Q extends OrganizationQuery>(
  services: Services,
  input: { viewer: Viewer; client: ClientInfo; name: string; slug?: string | null; query?: Q },
) {
  assertAccountSession(input.viewer, 'create organizations');
  const name = organizationName(input.name);
  const chosenSlug = input.slug === null || input.slug === undefined ? null : input.slug.trim().toLowerCase();
  if (chosenSlug !== null && !SLUG.test(chosenSlug)) {
    throw new AppError('BAD_USER_INPUT', 'slug must be 3 to 60 lower-case letters, digits or dashes.', { field: 'slug' });
  }
  const base = slugFromName(name);
  const candidates = chosenSlug
    ? [chosenSlug]
    : [base.length >= 3 ? base : null, ...Array.from({ length: 3 }, () => `${base.length > 0 ? base : 'org'}-${randomBytes(3).toString('hex')}`)].filter(
        (s): s is string => s !== null,
      );

  for (const [attempt, slug] of candidates.entries()) {
    try {
      const id = await services.db.$transaction(async (tx) => {
        const organization = await tx.organization.create({ data: { name, slug, subscriptionStatus: 'TRIALING' }, select: { id: true } });
        let ownerRoleId: string | undefined;
        for (const role of DEFAULT_ROLES) {
          const created = await tx.organizationRole.create({ data: { organizationId: organization.id, ...role }, select: { id: true } });
          if (role.name === 'Owner') ownerRoleId = created.id;
        }
        await tx.membership.create({ data: { organizationId: organization.id, userId: input.viewer.userId, roleId: ownerRoleId!, isOwner: true } });
        await recordActivity(tx, {
          type: 'organization.created',
          actorUserId: input.viewer.userId,
          subjectUserId: input.viewer.userId,
          organizationId: organization.id,
          ip: input.client.ip,
          userAgent: input.client.userAgent,
          data: { name, slug },
        });
        return organization.id;
      });
      return services.db.organization.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
    } catch (error) {
      if (!isUniqueViolation(error)) throw error;
      if (chosenSlug) throw new AppError('CONFLICT', 'That slug is already taken. Choose another.', { field: 'slug' });
      if (attempt === candidates.length - 1) throw new AppError('CONFLICT', 'Could not find a free slug for that name. Choose a slug.', { field: 'slug' });
    }
  }
  throw new AppError('CONFLICT', 'Could not find a free slug for that name. Choose a slug.', { field: 'slug' });
}

/** Name and sign-in domain. `signInDomain: null` (or blank) clears it; an absent field stays as it is. */
export async function updateOrganizationSettings<Q extends OrganizationQuery>(
  services: Services,
  input: { viewer: Viewer; client: ClientInfo; organizationId: string; name?: string | null; signInDomain?: string | null; query?: Q },
) {
  const organizationId = parseId(input.organizationId, 'organizationId');
  requirePermission(await requireMembership(input.viewer, organizationId), 'orgSettings');
  const data: Prisma.OrganizationUpdateInput = {};
  if (input.name !== undefined && input.name !== null) data.name = organizationName(input.name);
  if (input.signInDomain !== undefined) {
    const domain = input.signInDomain?.trim() ?? '';
    data.signInDomain = domain === '' ? null : hostName(domain, 'signInDomain', 'signInDomain must be a host name such as app.lender.example (no scheme, port or path).');
  }
  if (Object.keys(data).length === 0) throw new AppError('BAD_USER_INPUT', 'Give a name or a signInDomain to change.', { field: 'input' });
  await services.db.$transaction(async (tx) => {
    await tx.organization.update({ where: { id: organizationId }, data });
    await recordActivity(tx, {
      type: 'organization.settings_changed',
      actorUserId: input.viewer.userId,
      organizationId,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { changed: Object.keys(data), ...data } as Prisma.InputJsonValue,
    });
  });
  return services.db.organization.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: organizationId } });
}

/** Plan and seats; the subscription status follows the payment provider and is not set by clients. */
export async function updateBilling<Q extends OrganizationQuery>(
  services: Services,
  input: { viewer: Viewer; client: ClientInfo; organizationId: string; plan?: string | null; seats?: number | null; query?: Q },
) {
  const organizationId = parseId(input.organizationId, 'organizationId');
  requirePermission(await requireMembership(input.viewer, organizationId), 'billing');
  const data: { plan?: string; seats?: number } = {};
  if (input.plan !== undefined && input.plan !== null) {
    data.plan = text(input.plan.toLowerCase(), 'plan', { max: 40, pattern: PLAN, hint: 'plan must be 2 to 40 lower-case letters, digits or dashes.' });
  }
  if (input.seats !== undefined && input.seats !== null) data.seats = integerInRange(input.seats, 'seats', 1, 100_000);
  if (Object.keys(data).length === 0) throw new AppError('BAD_USER_INPUT', 'Give a plan or seats to change.', { field: 'input' });
  await services.db.$transaction(async (tx) => {
    if (data.seats !== undefined) {
      const members = await tx.membership.count({ where: { organizationId } });
      if (data.seats < members) {
        throw new AppError('BAD_USER_INPUT', `seats cannot be fewer than the ${members} current members.`, { field: 'seats', reason: 'SEATS_BELOW_MEMBERS' });
      }
    }
    const billing = await tx.organization.update({ where: { id: organizationId }, data, select: { plan: true, seats: true } });
    await recordActivity(tx, {
      type: 'organization.billing_changed',
      actorUserId: input.viewer.userId,
      organizationId,
      ip: input.client.ip,
      userAgent: input.client.userAgent,
      data: { changed: Object.keys(data), ...billing },
    });
  });
  return services.db.organization.findUniqueOrThrow({ ...(input.query ?? {}), where: { id: organizationId } });
}

export interface LocationFields {
  name?: string | null;
  code?: string | null;
  addressLine1?: string | null;
  city?: string | null;
  state?: string | null;
  postalCode?: string | null;
}

type OptionalLocationField = 'code' | 'addressLine1' | 'city' | 'state' | 'postalCode';
const OPTIONAL_LOCATION_FIELDS: ReadonlyArray<[OptionalLocationField, number]> = [
  ['code', 32],
  ['addressLine1', 200],
  ['city', 100],
  ['state', 50],
  ['postalCode', 20],
];

function locationName(value: string): string {
  return text(value, 'name', { max: 120, pattern: PRINTABLE, hint: 'name must not contain control characters.' });
}

/** Validated location fields: absent stays absent, null or blank clears an optional field. */
function locationData(input: LocationFields): { name?: string } & Partial<Record<OptionalLocationField, string | null>> {
  const data: { name?: string } & Partial<Record<OptionalLocationField, string | null>> = {};
  if (input.name !== undefined && input.name !== null) data.name = locationName(input.name);
  for (const [field, max] of OPTIONAL_LOCATION_FIELDS) {
    const value = input[field];
    if (value !== undefined) data[field] = optionalText(value, field, { max, pattern: PRINTABLE, hint: `${field} must not contain control characters.` });
  }
  return data;
}

const duplicateLocation = () => new AppError('CONFLICT', 'This organization already has a location with that name.', { field: 'name' });

export async function createLocation<Q extends LocationQuery>(
  services: Services,
  input: LocationFields & { viewer: Viewer; client: ClientInfo; organizationId: string; name: string; query?: Q },
) {
  const organizationId = parseId(input.organizationId, 'organizationId');
  requirePermission(await requireMembership(input.viewer, organizationId), 'orgSettings');
  const data = { ...locationData(input), name: locationName(input.name) };
  const id = await services.db
    .$transaction(async (tx) => {
      const location = await tx.location.create({ data: { ...data, organizationId }, select: { id: true, name: true } });
      await recordActivity(tx, {
        type: 'location.created',
        actorUserId: input.viewer.userId,
        organizationId,
        ip: input.client.ip,
        userAgent: input.client.userAgent,
        data: { locationId: location.id, name: location.name },
      });
      return location.id;
    })
    .catch((error: unknown) => {
      throw isUniqueViolation(error) ? duplicateLocation() : error;
    });
  return services.db.location.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}

export async function updateLocation<Q extends LocationQuery>(services: Services, input: LocationFields & { viewer: Viewer; client: ClientInfo; id: string; query?: Q }) {
  const id = parseId(input.id);
  const location = await services.db.location.findFirst({ where: { id, organization: memberOrganizationsWhere(input.viewer) }, select: { organizationId: true } });
  if (!location) throw new AppError('NOT_FOUND', 'Location not found.');
  requirePermission(await requireMembership(input.viewer, location.organizationId), 'orgSettings');
  const data = locationData(input);
  if (Object.keys(data).length === 0) throw new AppError('BAD_USER_INPUT', 'Give at least one field to change.', { field: 'input' });
  await services.db
    .$transaction(async (tx) => {
      await tx.location.update({ where: { id }, data });
      await recordActivity(tx, {
        type: 'location.updated',
        actorUserId: input.viewer.userId,
        organizationId: location.organizationId,
        ip: input.client.ip,
        userAgent: input.client.userAgent,
        data: { locationId: id, changed: Object.keys(data) },
      });
    })
    .catch((error: unknown) => {
      throw isUniqueViolation(error) ? duplicateLocation() : error;
    });
  return services.db.location.findUniqueOrThrow({ ...(input.query ?? {}), where: { id } });
}

/** Validates location ids and checks they all belong to the organization. */
export async function parseLocationIds(db: Services['db'], organizationId: string, raw: ReadonlyArray<string | number>): Promise<string[]> {
  if (raw.length > 200) throw new AppError('BAD_USER_INPUT', 'locationIds may hold at most 200 locations.', { field: 'locationIds' });
  const ids = [...new Set(raw.map((id) => parseId(String(id), 'locationIds')))];
  if (ids.length === 0) return ids;
  const found = await db.location.count({ where: { id: { in: ids }, organizationId } });
  if (found !== ids.length) throw new AppError('BAD_USER_INPUT', 'Every location must belong to this organization.', { field: 'locationIds' });
  return ids;
}
