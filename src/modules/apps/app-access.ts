import type { SubscriptionStatus } from '../../generated/prisma/enums.ts';
import type { Services } from '../../graphql/context.ts';
import { AddressMatcher } from '../../lib/ip.ts';

/** Subscriptions that count as a valid license for app sign-in and the public API. */
export const LICENSED_STATUSES: readonly SubscriptionStatus[] = ['ACTIVE', 'TRIALING'];

export type AppAccessDenial =
  | { status: 401; reason: 'INVALID_CREDENTIALS'; message: string }
  | { status: 403; reason: 'SOURCE_ADDRESS_NOT_ALLOWED' | 'GROUP_NOT_ALLOWED' | 'LICENSE_INACTIVE'; message: string };

export const INVALID_CREDENTIALS: AppAccessDenial = { status: 401, reason: 'INVALID_CREDENTIALS', message: 'The API key or the run-as user is not valid.' };

export const SOURCE_NOT_ALLOWED: AppAccessDenial = {
  status: 403,
  reason: 'SOURCE_ADDRESS_NOT_ALLOWED',
  message: 'Requests from this address are not allowed for this API registration.',
};

const GROUP_NOT_ALLOWED: AppAccessDenial = {
  status: 403,
  reason: 'GROUP_NOT_ALLOWED',
  message: 'None of the user groups this user belongs to has access to this API registration.',
};

const LICENSE_INACTIVE: AppAccessDenial = {
  status: 403,
  reason: 'LICENSE_INACTIVE',
  message: "The organization's subscription is not active.",
};

/** An empty list allows nobody: a registration is usable only from the sources written on it. */
export function sourceAllowed(allowedSources: readonly string[], ip: string | undefined): boolean {
  return new AddressMatcher(allowedSources).matches(ip);
}

/**
 * What an app credential needs at every use, whoever presents it: the registration is live, the request comes
 * from one of its sources, the run-as user is an enabled member of its organization in one of its groups, and the
 * organization's subscription is active (`checkSource: false` skips the address, for questions asked from elsewhere,
 * such as introspection). Null when all hold; else the first failure, in that order, so that a
 * caller at a wrong address learns nothing about users.
 */
export async function checkAppAccess(
  services: Services,
  input: { apiRegistrationId: string | null; userId: string; ip: string | undefined; checkSource?: boolean },
): Promise<AppAccessDenial | null> {
  return (await appAccessStanding(services, input)).denial;
}

/** checkAppAccess, also naming the registration's organization when access holds. */
async function appAccessStanding(
  services: Services,
  input: { apiRegistrationId: string | null; userId: string; ip: string | undefined; checkSource?: boolean },
): Promise<{ denial: AppAccessDenial; organizationId?: undefined } | { denial: null; organizationId: string }> {
  const deny = (denial: AppAccessDenial) => ({ denial });
  if (!input.apiRegistrationId) return deny(INVALID_CREDENTIALS);
  const registration = await services.db.apiRegistration.findUnique({
    where: { id: input.apiRegistrationId },
    select: {
      organizationId: true,
      allowedSources: true,
      disabledAt: true,
      organization: { select: { subscriptionStatus: true } },
      groups: { where: { group: { members: { some: { userId: input.userId } } } }, select: { groupId: true }, take: 1 },
    },
  });
  if (!registration || registration.disabledAt) return deny(INVALID_CREDENTIALS);
  if (input.checkSource !== false && !sourceAllowed(registration.allowedSources, input.ip)) return deny(SOURCE_NOT_ALLOWED);
  const member = await services.db.membership.findUnique({
    where: { userId_organizationId: { userId: input.userId, organizationId: registration.organizationId } },
    select: { user: { select: { disabledAt: true } } },
  });
  if (!member || member.user.disabledAt) return deny(INVALID_CREDENTIALS);
  if (registration.groups.length === 0) return deny(GROUP_NOT_ALLOWED);
  if (!LICENSED_STATUSES.includes(registration.organization.subscriptionStatus)) return deny(LICENSE_INACTIVE);
  return { denial: null, organizationId: registration.organizationId };
}

/**
 * The organization an app sign-in session still acts in, checked on every request: null once its registration is
 * revoked, its user has left the organization or the registration's groups, or the subscription has lapsed. The
 * source address is checked at sign-in only.
 */
export async function appSessionOrganization(services: Services, input: { apiRegistrationId: string; userId: string }): Promise<string | null> {
  const standing = await appAccessStanding(services, { apiRegistrationId: input.apiRegistrationId, userId: input.userId, ip: undefined, checkSource: false });
  return standing.organizationId ?? null;
}
