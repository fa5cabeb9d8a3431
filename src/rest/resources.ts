import { validate, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { activityResources } from '../modules/activity/activity.rest.ts';
import { accountResources } from '../modules/auth/auth.rest.ts';
import { documentResources } from '../modules/documents/documents.rest.ts';
import { identityResources } from '../modules/identities/identities.rest.ts';
import { organizationResources } from '../modules/organizations/organizations.rest.ts';
import { rcmResources } from '../modules/rcm/rcm.rest.ts';
import { signingResources } from '../modules/signing/signing.rest.ts';
import { userResources } from '../modules/users/users.rest.ts';
import type { GraphQLServer } from '../transports/graphql-http.ts';
import type { IdempotencyStore } from './idempotency.ts';
import { compileGraphqlRoute, type CompiledGraphqlRoute, type GraphqlRouteSpec, type OperationRunner } from './graphql-route.ts';

/** Every `/v1` resource route, declared in its domain's `<d>.rest.ts`. */
export const resourceSpecs: readonly GraphqlRouteSpec[] = [...accountResources, ...organizationResources, ...identityResources, ...documentResources, ...rcmResources, ...signingResources, ...userResources, ...activityResources];


/**
 * Runs a route's operation as yoga runs a GraphQL request: the same context factory (the viewer from the Bearer
 * token), the same enveloped execute (scope-auth, input limits, variable errors, error masking). REST takes the
 * Authorization header only, never the session cookie, so no REST route can be driven across sites.
 */
export function createOperationRunner(yoga: GraphQLServer): OperationRunner {
  return async (ctx) => {
    const headers = new Headers();
    if (ctx.req.headers.authorization) headers.set('authorization', ctx.req.headers.authorization);
    const enveloped = yoga.getEnveloped({ requestId: ctx.requestId, req: ctx.req, request: { headers } as Request });
    const contextValue = await enveloped.contextFactory();
    return {
      viewer: contextValue.viewer,
      execute: async ({ document, operationName, variables }) =>
        (await enveloped.execute({ schema: enveloped.schema, document, operationName, variableValues: variables, contextValue })) as ExecutionResult,
    };
  };
}

/**
 * Parses and validates every resource route's operation once, against the schema's own rules. The abuse limits
 * (depth, aliases, cost) guard against documents clients send; a route's operation is the server's own, so a low
 * limit set for clients (GRAPHQL_MAX_DEPTH=2) must not keep the server from starting.
 */
export function createResourceRoutes(yoga: GraphQLServer, options: { idempotency?: IdempotencyStore; specs?: readonly GraphqlRouteSpec[] } = {}): CompiledGraphqlRoute[] {
  const { schema } = yoga.getEnveloped({});
  return compileResourceRoutes(schema, { run: createOperationRunner(yoga), validate: (document) => validate(schema, document), idempotency: options.idempotency }, options.specs);
}

/** The routes compiled against `schema` with the given runner and validation: the app's, or the OpenAPI printer's. */
export function compileResourceRoutes(
  schema: GraphQLSchema,
  deps: Parameters<typeof compileGraphqlRoute>[2],
  specs: readonly GraphqlRouteSpec[] = resourceSpecs,
): CompiledGraphqlRoute[] {
  return specs.map((spec) => compileGraphqlRoute(schema, spec, deps));
}
