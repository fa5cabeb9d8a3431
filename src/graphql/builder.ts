import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type PrismaTypes from '../generated/pothos-types.ts';
import { getDatamodel } from '../generated/pothos-types.ts';
import { AppError } from '../lib/errors.ts';
import type { PermissionKey } from '../generated/prisma/enums.ts';
import { isLimitedSession, limitedSessionError, type Viewer } from '../modules/auth/viewer.ts';
import SignerVisibilityPlugin from '../modules/signing/signing.visibility.ts';
import type { Context } from './context.ts';

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: {
    /** Fields anyone may call: sign-in, sign-up, password reset. */
    public: boolean;
    /** A full session: signed in any way but with a sender or signer token. */
    signedIn: boolean;
    /** A sender token session: manages its one package. The few package-level fields it may call name it. */
    senderSession: boolean;
    /** A signer token session: acts as its one signer slot. The few package-level fields it may call name it. */
    signerSession: boolean;
    admin: boolean;
    manager: boolean;
    signer: boolean;
    /** A member of the organization (any role). */
    orgMember: string;
    /** A member whose role in the organization holds the permission key (owners always hold billing). */
    orgPermission: { organizationId: string; permission: PermissionKey };
    orgOwner: string;
  };
  AuthContexts: {
    signedIn: Context & { viewer: Viewer };
    senderSession: Context & { viewer: Viewer };
    signerSession: Context & { viewer: Viewer };
    admin: Context & { viewer: Viewer };
    manager: Context & { viewer: Viewer };
    signer: Context & { viewer: Viewer };
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    Decimal: { Input: string; Output: { toString(): string } };
    /** An uploaded file (GraphQL multipart request); input only. */
    File: { Input: File; Output: never };
  };
  DefaultFieldNullability: false;
}>({
  defaultFieldNullability: false,
  // Scope-auth answers first; then what a signer may see (signing.visibility.ts), before any field loads data.
  plugins: [ScopeAuthPlugin, SignerVisibilityPlugin, PrismaPlugin, RelayPlugin],
  scopeAuth: {
    authorizeOnSubscribe: true,
    treatErrorsAsUnauthorized: false,
    authScopes: (context) => ({
      public: true,
      signedIn: context.viewer !== null && !isLimitedSession(context.viewer),
      senderSession: context.viewer?.sessionKind === 'SENDER_TOKEN',
      signerSession: context.viewer?.sessionKind === 'SIGNER_TOKEN',
      admin: context.viewer?.roles.includes('ADMIN') ?? false,
      manager: context.viewer?.roles.includes('MANAGER') ?? false,
      signer: context.viewer?.roles.includes('SIGNER') ?? false,
      orgMember: async (organizationId) =>
        (await context.viewer?.memberships())?.some((m) => m.organizationId === organizationId) ?? false,
      orgPermission: async ({ organizationId, permission }) =>
        (await context.viewer?.memberships())?.some((m) => m.organizationId === organizationId && m.permissions.has(permission)) ?? false,
      orgOwner: async (organizationId) =>
        (await context.viewer?.memberships())?.some((m) => m.organizationId === organizationId && m.isOwner) ?? false,
    }),
    // 401 asks "who are you?"; 403 says "I know you, and your role lacks this". A sender or signer session lacks
    // everything but its package, so it gets one reason whatever the field.
    unauthorizedError: (_parent, context) => {
      if (!context.viewer) return new AppError('UNAUTHENTICATED', 'Sign in to continue.');
      if (isLimitedSession(context.viewer)) return limitedSessionError();
      return new AppError('FORBIDDEN', 'Your role does not have permission for this action.');
    },
  },
  prisma: {
    client: (context) => context.services.db,
    dmmf: getDatamodel(),
    exposeDescriptions: false,
    filterConnectionTotalCount: true,
    onUnusedQuery: null,
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    // A global node lookup would bypass the per-domain policies; records are fetched through their own fields.
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});

builder.queryType();
builder.mutationType();
builder.subscriptionType();
