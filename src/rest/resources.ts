import type { ExecutionResult } from 'graphql';
import type { YogaServerInstance } from 'graphql-yoga';
import { documentResources } from '../modules/documents/documents.rest.ts';
import { compileGraphqlRoute, type CompiledGraphqlRoute, type GraphqlRouteSpec, type OperationRunner } from './graphql-route.ts';

/** Every `/v1` resource route, declared in its domain's `<d>.rest.ts`. */
export const resourceSpecs: readonly GraphqlRouteSpec[] = [...documentResources];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- yoga's server and user context types do not matter here
type AnyYoga = YogaServerInstance<any, any>;

/**
 * Runs a route's operation as yoga runs a GraphQL request: the same context factory (the viewer from the Bearer
 * token), the same enveloped execute (scope-auth, input limits, variable errors, error masking). REST takes the
 * Authorization header only, never the session cookie, so no REST route can be driven across sites.
 */
export function createOperationRunner(yoga: AnyYoga): OperationRunner {
  return async (ctx, { document, operationName, variables }) => {
    const headers = new Headers();
    if (ctx.req.headers.authorization) headers.set('authorization', ctx.req.headers.authorization);
    const enveloped = yoga.getEnveloped({
      requestId: ctx.requestId,
      req: ctx.req,
      request: { headers } as Request,
      params: { operationName, variables },
    });
    const contextValue = await enveloped.contextFactory();
    return (await enveloped.execute({ schema: enveloped.schema, document, operationName, variableValues: variables, contextValue })) as ExecutionResult;
  };
}

/** Parses and validates every resource route's operation once, with the pipeline's own rules (depth, cost, ...). */
export function createResourceRoutes(yoga: AnyYoga, specs: readonly GraphqlRouteSpec[] = resourceSpecs): CompiledGraphqlRoute[] {
  const run = createOperationRunner(yoga);
  const { schema, validate } = yoga.getEnveloped({});
  return specs.map((spec) => compileGraphqlRoute(schema, spec, run, (document) => validate(schema, document)));
}
