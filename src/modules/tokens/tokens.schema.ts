import { builder } from '../../graphql/builder.ts';
import { AppError } from '../../lib/errors.ts';
import { AuthPayload, withSessionCookies } from '../auth/auth.schema.ts';
import { exchangeAuthToken, issueAuthToken, type IssuedAuthToken } from './tokens.service.ts';

const AuthenticationTokenRef = builder.objectRef<IssuedAuthToken>('AuthenticationToken').implement({
  description: 'A signing authentication token, to exchange for a session with exchangeAuthenticationToken. Its value is shown only here.',
  fields: (t) => ({
    value: t.exposeString('value', { description: 'Shown this once: only its hash is stored.' }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime' }),
    multiUse: t.boolean({
      description: 'True for a multi-use signer token (any number of exchanges until it expires); every other token works once.',
      resolve: (token) => token.kind === 'signerMultiUse',
    }),
    packageId: t.exposeID('packageId', { nullable: true, description: 'The package a sender or signer session will be limited to.' }),
    signerId: t.exposeString('signerId', { nullable: true, description: 'The signer as you named it: the slot id or its email.' }),
  }),
});

builder.mutationFields((t) => ({
  createUserAuthenticationToken: t.withAuth({ signedIn: true }).field({
    type: AuthenticationTokenRef,
    description: 'A single-use token for a full session of your account (USER_TOKEN). POST /api/cs-authenticationTokens/user.',
    resolve: (_root, _args, context) => issueAuthToken(context.services, { viewer: context.viewer, kind: 'user', client: context.client }),
  }),
  createSenderAuthenticationToken: t.withAuth({ signedIn: true }).field({
    type: AuthenticationTokenRef,
    description:
      'A single-use token for a session of your account limited to one DRAFT or SENT package you manage (SENDER_TOKEN). POST /api/cs-authenticationTokens/sender.',
    args: { packageId: t.arg.id({ required: true }) },
    resolve: (_root, args, context) =>
      issueAuthToken(context.services, { viewer: context.viewer, kind: 'sender', packageId: String(args.packageId), client: context.client }),
  }),
  createSignerAuthenticationToken: t.withAuth({ signedIn: true }).field({
    type: AuthenticationTokenRef,
    description:
      "A token for a session of the signer's account limited to one signer slot of a SENT package you manage (SIGNER_TOKEN). POST /api/cs-authenticationTokens/signer/multiUse or singleUse.",
    args: {
      packageId: t.arg.id({ required: true }),
      signerId: t.arg.string({ required: true, description: "The signer slot's id or its email; the slot needs a linked platform account." }),
      multiUse: t.arg.boolean({ required: false, defaultValue: false, description: 'Exchangeable any number of times until it expires; single-use otherwise.' }),
    },
    resolve: (_root, args, context) =>
      issueAuthToken(context.services, {
        viewer: context.viewer,
        kind: args.multiUse ? 'signerMultiUse' : 'signerSingleUse',
        packageId: String(args.packageId),
        signerId: args.signerId,
        client: context.client,
      }),
  }),
  exchangeAuthenticationToken: t.field({
    type: AuthPayload,
    authScopes: { public: true },
    description:
      'Trades a signing authentication token for a session (USER_TOKEN, SENDER_TOKEN or SIGNER_TOKEN), like signIn. Also sets HttpOnly session cookies for browsers.',
    args: { value: t.arg.string({ required: true }) },
    resolve: async (_root, args, context) => {
      if (args.value === '') throw new AppError('BAD_USER_INPUT', 'value is required.', { field: 'value' });
      return withSessionCookies(context, await exchangeAuthToken(context.services, { value: args.value, client: context.client }));
    },
  }),
}));
