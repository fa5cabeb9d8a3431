import { builder } from '../../graphql/builder.ts';
import { CREATION_ORDER, PAGE_SIZES } from '../../graphql/connections.ts';
import type { Context } from '../../graphql/context.ts';
import { clearedSessionCookies, deviceCookie, sessionCookies } from '../../http/cookies.ts';
import { AppError } from '../../lib/errors.ts';
import { parseId } from '../../lib/ids.ts';
import {
  changeEmail,
  changePassword,
  countActiveSessions,
  getUserById,
  listActiveSessions,
  listActiveSessionsPage,
  requestPasswordReset,
  resetPassword,
  revokeOwnSession,
  signIn,
  signOut,
  signUp,
  verifyEmail,
  EMAIL_VERIFICATION_TTL_SECONDS,
  type SignUpAcceptance,
} from './accounts.service.ts';
import { deleteAccount } from './account-deletion.ts';
import { LocationRef } from '../organizations/organizations.schema.ts';
import { effectivePermissions } from './permissions.ts';
import { rotateRefreshToken, type IssuedSession } from './sessions.service.ts';
import { DEVICE_TOKEN_TTL_SECONDS } from './trusted-devices.ts';

export const PlatformRoleEnum = builder.enumType('PlatformRole', { values: ['ADMIN', 'MANAGER', 'SIGNER'] as const });
export const PermissionKeyEnum = builder.enumType('PermissionKey', {
  values: ['orgSettings', 'billing', 'members', 'documents', 'loans', 'rcm', 'signing'] as const,
});
const SessionKindEnum = builder.enumType('SessionKind', {
  values: ['PASSWORD', 'SSO', 'MAGIC_LINK', 'APP_SIGN_IN', 'USER_TOKEN', 'SENDER_TOKEN', 'SIGNER_TOKEN'] as const,
});
const SessionOrderEnum = builder.enumType('SessionOrder', { values: CREATION_ORDER });
export const IdentityKindEnum = builder.enumType('IdentityKind', { values: ['ADMIN', 'MANAGER', 'SIGNER'] as const });

/** The issued session, handed out once: the refresh token is never shown again. */
export const AuthPayload = builder.objectRef<IssuedSession & { deviceToken?: string }>('AuthPayload').implement({
  description: 'A new or refreshed session. Store the refresh token now: it is never shown again.',
  fields: (t) => ({
    accessToken: t.exposeString('accessToken', { description: 'Send as `Authorization: Bearer <accessToken>`.' }),
    accessTokenExpiresAt: t.expose('accessTokenExpiresAt', { type: 'DateTime' }),
    refreshToken: t.exposeString('refreshToken', { description: 'Single use: refreshSession returns a new one.' }),
    refreshTokenExpiresAt: t.expose('refreshTokenExpiresAt', { type: 'DateTime' }),
    tokenType: t.string({ resolve: () => 'Bearer' }),
    deviceToken: t.string({
      nullable: true,
      description:
        'After signIn and verifyEmail: marks this client as one that signed in to the account before, so it keeps a failure budget of its own. ' +
        'Browsers get it as an HttpOnly cookie; other clients keep it and send it as `SignInInput.deviceToken`. Null after refreshSession.',
      resolve: (session) => session.deviceToken ?? null,
    }),
    user: t.prismaField({
      type: 'User',
      resolve: (query, session, _args, context) => getUserById(context.services, { id: session.userId, query }),
    }),
  }),
});

// Memberships and identities reach beyond one package, so a sender or signer session does not see them.
const isSelf = (user: { id: string }, _args: unknown, context: Context) => (user.id === context.viewer?.userId ? { signedIn: true } : false);
/** An app sign-in session sees only what lies in its organization, of its own account too. */
const inScope = (context: Context) => (context.viewer?.organizationScope ? { organizationId: context.viewer.organizationScope } : {});

builder.prismaObject('User', {
  fields: (t) => ({
    id: t.exposeID('id'),
    email: t.exposeString('email'),
    emailVerified: t.boolean({
      description: 'Whether the address was proven by following a link mailed to it. Unverified accounts cannot accept invitations or be linked to signing identities.',
      select: { emailVerifiedAt: true },
      resolve: (user) => user.emailVerifiedAt !== null,
    }),
    name: t.exposeString('name'),
    roles: t.expose('roles', { type: [PlatformRoleEnum], description: 'Platform roles; one account may hold several.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    memberships: t.relation('memberships', {
      authScopes: isSelf,
      description: "Only on your own account, in a full session; an app sign-in session sees its organization's only. Closed organizations are not listed.",
      query: (_args, context) => ({ where: { ...inScope(context), organization: { closedAt: null } } }),
    }),
    identities: t.relation('identities', {
      authScopes: isSelf,
      description: 'Signing identities linked to your account (only on your own account, in a full session).',
      query: (_args, context) => ({ where: { revokedAt: null, ...inScope(context) }, orderBy: { linkedAt: 'asc' } }),
    }),
  }),
});

builder.prismaObject('OrganizationRole', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    permissions: t.expose('permissions', { type: [PermissionKeyEnum] }),
  }),
});

builder.prismaObject('Membership', {
  fields: (t) => ({
    id: t.exposeID('id'),
    isOwner: t.exposeBoolean('isOwner'),
    organization: t.relation('organization'),
    role: t.relation('role'),
    locations: t.field({
      type: [LocationRef],
      description: 'The locations this membership is limited to; empty means the whole organization.',
      select: { locations: { select: { location: true } } },
      resolve: (membership) => membership.locations.map((l) => l.location),
    }),
    permissions: t.field({
      type: [PermissionKeyEnum],
      description: "Effective permission keys: the role's, plus billing for owners.",
      select: { isOwner: true, role: { select: { permissions: true } } },
      resolve: (membership) => [...effectivePermissions(membership.role.permissions, membership.isOwner)],
    }),
  }),
});

builder.prismaObject('SigningIdentity', {
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.expose('kind', { type: IdentityKindEnum }),
    email: t.exposeString('email', { nullable: true }),
    organization: t.relation('organization'),
    location: t.relation('location', { nullable: true }),
    linkedAt: t.expose('linkedAt', { type: 'DateTime' }),
    linkedByName: t.string({ select: { linkedBy: { select: { name: true } } }, resolve: (identity) => identity.linkedBy.name }),
  }),
});

builder.prismaObject('LoginSession', {
  name: 'Session',
  fields: (t) => ({
    id: t.exposeID('id'),
    kind: t.expose('kind', { type: SessionKindEnum }),
    ip: t.exposeString('ip', { nullable: true }),
    userAgent: t.exposeString('userAgent', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastSeenAt: t.expose('lastSeenAt', { type: 'DateTime' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    current: t.boolean({ resolve: (session, _args, context) => session.id === context.viewer?.sessionId }),
  }),
});

/** Hands a new session to the client: in the answer, and as HttpOnly cookies for browsers (with its device token, if any). */
export function withSessionCookies<S extends IssuedSession & { deviceToken?: string }>(context: Context, session: S): S {
  context.responseCookies.push(...sessionCookies(context.services.config, session, context.services.clock.now()));
  if (session.deviceToken) context.responseCookies.push(deviceCookie(context.services.config, session.deviceToken, DEVICE_TOKEN_TTL_SECONDS));
  return session;
}

builder.queryFields((t) => ({
  me: t.withAuth({ signedIn: true, senderSession: true, signerSession: true }).prismaField({
    type: 'User',
    description: 'The signed-in account: profile, platform roles, linked identities, memberships (the last two not in a sender or signer session).',
    resolve: (query, _root, _args, context) => getUserById(context.services, { id: context.viewer.userId, query }),
  }),
  mySessions: t.withAuth({ signedIn: true }).prismaField({
    type: ['LoginSession'],
    description: 'Your active sessions, newest first.',
    deprecationReason: 'Use mySessionsConnection.',
    resolve: (query, _root, _args, context) => listActiveSessions(context.services, { viewer: context.viewer, query }),
  }),
  mySessionsConnection: t.withAuth({ signedIn: true }).prismaConnection(
    {
      type: 'LoginSession',
      cursor: 'id',
      ...PAGE_SIZES,
      description: 'Your active sessions, a page at a time.',
      args: { orderBy: t.arg({ type: SessionOrderEnum, required: false, defaultValue: 'NEWEST_FIRST' }) },
      totalCount: (_root, _args, context) => countActiveSessions(context.services, { viewer: context.viewer }),
      resolve: (query, _root, args, context) => listActiveSessionsPage(context.services, { viewer: context.viewer, order: args.orderBy ?? 'NEWEST_FIRST', query }),
    },
    { name: 'SessionConnection' },
  ),
}));

const SignUpInput = builder.inputType('SignUpInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true, description: '8 to 128 characters, used exactly as typed.' }),
    name: t.string({ required: true }),
  }),
});

/** The same answer for a new and a registered address; what differs is the mail, which only the address's owner reads. */
const SignUpResult = builder.objectRef<SignUpAcceptance>('SignUpResult').implement({
  description: 'A sign-up was accepted: a message is on its way to the address. No session yet: follow the link in it (verifyEmail).',
  fields: (t) => ({
    email: t.exposeString('email', { description: 'Where the message went, as the address is stored (trimmed, lower-cased).' }),
    message: t.string({
      resolve: () => `Check your inbox: follow the link we sent within ${EMAIL_VERIFICATION_TTL_SECONDS / 3600} hours to finish signing up.`,
    }),
  }),
});

const SignInInput = builder.inputType('SignInInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
    deviceToken: t.string({
      required: false,
      description: 'The deviceToken of an earlier sign-in to this account, for clients without a cookie jar (browsers send the cookie).',
    }),
  }),
});

builder.mutationFields((t) => ({
  signUp: t.field({
    type: SignUpResult,
    authScopes: { public: true },
    description:
      'Answers the same whether or not the email has an account, and starts no session: a new address gets a link that verifies it and signs in ' +
      '(verifyEmail, within 24 hours); a registered one gets a mail pointing to sign-in and password reset. Limited per address and per email.',
    args: { input: t.arg({ type: SignUpInput, required: true }) },
    resolve: (_root, { input }, context) => signUp(context.services, { ...input, client: context.client }),
  }),
  verifyEmail: t.field({
    type: AuthPayload,
    authScopes: { public: true },
    description:
      'Follows a link from a sign-up or an email change (the `token` of its `/verify-email?token=` URL): the address becomes the verified email of the account ' +
      'and a session starts. Each link works once, for 24 hours. Also sets HttpOnly session cookies for browsers.',
    args: { token: t.arg.string({ required: true }) },
    resolve: async (_root, args, context) => withSessionCookies(context, await verifyEmail(context.services, { token: args.token, client: context.client })),
  }),
  changeEmail: t.withAuth({ signedIn: true }).boolean({
    description:
      'Mails a link to the new address (after your password); the change takes effect when it is followed (verifyEmail). Answers true whether or not the address is free.',
    args: { newEmail: t.arg.string({ required: true }), password: t.arg.string({ required: true }) },
    resolve: async (_root, args, context) => {
      await changeEmail(context.services, { viewer: context.viewer, newEmail: args.newEmail, password: args.password, client: context.client });
      return true;
    },
  }),
  signIn: t.field({
    type: AuthPayload,
    // Nullable, so each aliased attempt in one request runs (and counts against the limits) on its own.
    nullable: true,
    authScopes: { public: true },
    description: 'Email and password sign-in. Also sets HttpOnly session cookies for browsers.',
    args: { input: t.arg({ type: SignInInput, required: true }) },
    resolve: async (_root, { input }, context) =>
      withSessionCookies(context, await signIn(context.services, { email: input.email, password: input.password, deviceToken: input.deviceToken ?? context.deviceCookie, client: context.client })),
  }),
  refreshSession: t.field({
    type: AuthPayload,
    authScopes: { public: true },
    description: 'Trades a refresh token (argument, or the refresh cookie) for a new access token and refresh token.',
    args: { refreshToken: t.arg.string({ required: false }) },
    resolve: async (_root, args, context) => {
      const refreshToken = args.refreshToken ?? context.refreshCookie;
      if (!refreshToken) throw new AppError('UNAUTHENTICATED', 'A refresh token is required.', { reason: 'INVALID_REFRESH_TOKEN' });
      return withSessionCookies(context, await rotateRefreshToken(context.services, { refreshToken, client: context.client }));
    },
  }),
  signOut: t.withAuth({ signedIn: true, senderSession: true, signerSession: true }).boolean({
    description: 'Ends the current session at once, everywhere its tokens are used.',
    resolve: async (_root, _args, context) => {
      await signOut(context.services, { viewer: context.viewer, client: context.client });
      context.responseCookies.push(...clearedSessionCookies(context.services.config));
      return true;
    },
  }),
  requestPasswordReset: t.boolean({
    authScopes: { public: true },
    description: 'Mails a single-use reset link if the email has an account. Answers true either way.',
    args: { email: t.arg.string({ required: true }) },
    resolve: async (_root, { email }, context) => {
      await requestPasswordReset(context.services, { email, client: context.client });
      return true;
    },
  }),
  resetPassword: t.boolean({
    authScopes: { public: true },
    description: 'Sets a new password with the token from a reset link, and ends every session of the account.',
    args: { token: t.arg.string({ required: true }), newPassword: t.arg.string({ required: true }) },
    resolve: async (_root, args, context) => {
      await resetPassword(context.services, { token: args.token, newPassword: args.newPassword, client: context.client });
      return true;
    },
  }),
  changePassword: t.withAuth({ signedIn: true }).boolean({
    description: 'Changes your password and ends your other sessions.',
    args: { currentPassword: t.arg.string({ required: true }), newPassword: t.arg.string({ required: true }) },
    resolve: async (_root, args, context) => {
      await changePassword(context.services, { viewer: context.viewer, ...args, client: context.client });
      return true;
    },
  }),
  deleteAccount: t.withAuth({ signedIn: true }).boolean({
    description:
      'Deletes your account after you confirm your password: your name, email and credentials are erased, every session ends at once, and you leave your organizations. ' +
      'What you created stays with your organizations. CONFLICT (ORGANIZATION_OWNER) while you are the only owner of an open organization: transfer ownership or close it first.',
    args: { password: t.arg.string({ required: true }) },
    resolve: async (_root, args, context) => {
      await deleteAccount(context.services, { viewer: context.viewer, password: args.password, client: context.client });
      context.responseCookies.push(...clearedSessionCookies(context.services.config));
      return true;
    },
  }),
  revokeSession: t.withAuth({ signedIn: true }).boolean({
    description: 'Ends one of your sessions. Sessions of other accounts are NOT_FOUND.',
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, args, context) => {
      await revokeOwnSession(context.services, { viewer: context.viewer, sessionId: parseId(String(args.id)), client: context.client });
      return true;
    },
  }),
}));
