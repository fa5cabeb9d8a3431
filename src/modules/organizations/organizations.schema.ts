import { builder } from '../../graphql/builder.ts';
import { getOrganizationById } from './organizations.service.ts';

const SubscriptionStatusEnum = builder.enumType('SubscriptionStatus', {
  values: ['TRIALING', 'ACTIVE', 'PAST_DUE', 'CANCELED', 'SUSPENDED'] as const,
});

interface BillingShape {
  plan: string;
  seats: number;
  subscriptionStatus: (typeof SubscriptionStatusEnum)['$inferType'];
}

const OrganizationBilling = builder.objectRef<BillingShape>('OrganizationBilling').implement({
  fields: (t) => ({
    plan: t.exposeString('plan'),
    seats: t.exposeInt('seats'),
    subscriptionStatus: t.expose('subscriptionStatus', { type: SubscriptionStatusEnum }),
  }),
});

interface SettingsShape {
  name: string;
  slug: string;
  signInDomain: string | null;
}

const OrganizationSettings = builder.objectRef<SettingsShape>('OrganizationSettings').implement({
  fields: (t) => ({
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    signInDomain: t.exposeString('signInDomain', { nullable: true, description: 'Host of the first-party sign-in pages.' }),
  }),
});

export const OrganizationRef = builder.prismaObject('Organization', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    slug: t.exposeString('slug'),
    settings: t.field({
      type: OrganizationSettings,
      description: 'Needs the orgSettings permission in this organization.',
      authScopes: (organization) => ({ orgPermission: { organizationId: organization.id, permission: 'orgSettings' } }),
      select: { name: true, slug: true, signInDomain: true },
      resolve: (organization) => organization,
    }),
    billing: t.field({
      type: OrganizationBilling,
      description: 'Needs the billing permission in this organization; owners always have it.',
      authScopes: (organization) => ({ orgPermission: { organizationId: organization.id, permission: 'billing' } }),
      select: { plan: true, seats: true, subscriptionStatus: true },
      resolve: (organization) => organization,
    }),
  }),
});

export const LocationRef = builder.prismaObject('Location', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    code: t.exposeString('code', { nullable: true }),
  }),
});

builder.queryField('organization', (t) =>
  t.withAuth({ signedIn: true }).prismaField({
    type: 'Organization',
    description: 'One organization you are a member of (any, for admins); others are NOT_FOUND.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, context) => getOrganizationById(context.services, { viewer: context.viewer, id: String(args.id), query }),
  }),
);
