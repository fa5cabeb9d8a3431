import { builder } from '../../graphql/builder.ts';
import { CREATION_ORDER, PAGE_SIZES } from '../../graphql/connections.ts';
import { PlatformRoleEnum } from '../auth/auth.schema.ts';
import { countUsers, disableUser, enableUser, getUserForAdmin, grantPlatformRole, listUsersPage, revokePlatformRole } from './users.service.ts';

const UserOrderEnum = builder.enumType('UserOrder', { values: CREATION_ORDER });

const PlatformRoleChangeInput = builder.inputType('PlatformRoleChangeInput', {
  fields: (t) => ({
    userId: t.id({ required: true }),
    role: t.field({ type: PlatformRoleEnum, required: true }),
  }),
});

builder.prismaObjectField('User', 'disabledAt', (t) =>
  t.expose('disabledAt', {
    type: 'DateTime',
    nullable: true,
    authScopes: { admin: true },
    description: 'When the account was disabled (it cannot sign in, its sessions were ended); null while enabled. Platform admins only.',
  }),
);

builder.queryFields((t) => ({
  users: t.withAuth({ admin: true }).prismaConnection(
    {
      type: 'User',
      cursor: 'id',
      ...PAGE_SIZES,
      description: 'Every account on the platform, a page at a time. Platform admins only.',
      args: {
        search: t.arg.string({ required: false, description: 'Part of the email or name, any case.' }),
        disabled: t.arg.boolean({ required: false, description: 'true: only disabled accounts; false: only enabled ones.' }),
        orderBy: t.arg({ type: UserOrderEnum, required: false, defaultValue: 'NEWEST_FIRST' }),
      },
      totalCount: (_root, args, context) => countUsers(context.services, { viewer: context.viewer, filter: args }),
      resolve: (query, _root, args, context) =>
        listUsersPage(context.services, { viewer: context.viewer, filter: args, order: args.orderBy ?? 'NEWEST_FIRST', query }),
    },
    { name: 'UserConnection' },
  ),
  user: t.withAuth({ admin: true }).prismaField({
    type: 'User',
    description: 'One account by id. Platform admins only.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, context) => getUserForAdmin(context.services, { viewer: context.viewer, id: String(args.id), query }),
  }),
}));

builder.mutationFields((t) => ({
  grantPlatformRole: t.withAuth({ admin: true }).prismaField({
    type: 'User',
    description: 'Gives an account a platform role (granting one it holds changes nothing). Platform admins only.',
    args: { input: t.arg({ type: PlatformRoleChangeInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      grantPlatformRole(context.services, { viewer: context.viewer, client: context.client, userId: String(input.userId), role: input.role, query }),
  }),
  revokePlatformRole: t.withAuth({ admin: true }).prismaField({
    type: 'User',
    description: 'Takes a platform role from an account. The last enabled platform admin keeps ADMIN: CONFLICT (LAST_ADMIN). Platform admins only.',
    args: { input: t.arg({ type: PlatformRoleChangeInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      revokePlatformRole(context.services, { viewer: context.viewer, client: context.client, userId: String(input.userId), role: input.role, query }),
  }),
  disableUser: t.withAuth({ admin: true }).prismaField({
    type: 'User',
    description:
      'Disables an account: it cannot sign in, and its sessions and live connections end at once. Not your own; not the last enabled platform admin (CONFLICT). Platform admins only.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, context) => disableUser(context.services, { viewer: context.viewer, client: context.client, userId: String(args.id), query }),
  }),
  enableUser: t.withAuth({ admin: true }).prismaField({
    type: 'User',
    description: 'Enables a disabled account again; the person signs in anew. Platform admins only.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, context) => enableUser(context.services, { viewer: context.viewer, client: context.client, userId: String(args.id), query }),
  }),
}));
