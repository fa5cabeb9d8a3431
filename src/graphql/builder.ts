import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type PrismaTypes from '../generated/pothos-types.ts';
import { getDatamodel } from '../generated/pothos-types.ts';
import { AppError } from '../lib/errors.ts';
import type { PermissionKey } from '../generated/prisma/enums.ts';
import type { Viewer } from '../modules/auth/viewer.ts';
import type { Context } from './context.ts';

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  AuthScopes: {
    /** Fields anyone may call: sign-in, sign-up, password reset. */
    public: boolean;
    signedIn: boolean;
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
    admin: Context & { viewer: Viewer };
    manager: Context & { viewer: Viewer };
    signer: Context & { viewer: Viewer };
  };
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    Decimal: { Input: string; Output: { toString(): string } };
  };
  DefaultFieldNullability: false;
}>({
  defaultFieldNullability: false,
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin],
  scopeAuth: {
    authorizeOnSubscribe: true,
    treatErrorsAsUnauthorized: false,
    authScopes: (context) => ({
      public: true,
      signedIn: context.viewer !== null,
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
    // 401 asks "who are you?"; 403 says "I know you, and your role lacks this".
    unauthorizedError: (_parent, context) =>
      context.viewer
        ? new AppError('FORBIDDEN', 'Your role does not have permission for this action.')
        : new AppError('UNAUTHENTICATED', 'Sign in to continue.'),
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
