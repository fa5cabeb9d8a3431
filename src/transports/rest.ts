import type { GraphQLSchema } from 'graphql';
import type { Services } from '../graphql/context.ts';
import type { ErrorLog } from '../lib/error-log.ts';
import { activityRoutes } from '../modules/activity/activity.rest.ts';
import { appRoutes } from '../modules/apps/apps.rest.ts';
import { documentImportRoutes } from '../modules/documents/documents.import.rest.ts';
import { partnerRoutes } from '../modules/partners/partners.rest.ts';
import { tokenRoutes } from '../modules/tokens/tokens.rest.ts';
import { docsRoutes } from '../rest/docs-page.ts';
import type { CompiledGraphqlRoute } from '../rest/graphql-route.ts';
import type { IdempotencyStore } from '../rest/idempotency.ts';
import { buildOpenApiDocument, type DocumentedRoute } from '../rest/openapi.ts';
import { createResourceRoutes } from '../rest/resources.ts';
import { createRestRouter, type RestRoute } from '../rest/router.ts';
import { securitySchemes } from '../rest/security-schemes.ts';
import type { GraphQLServer } from './graphql-http.ts';

/** The REST API's version, as the OpenAPI document states it. */
export const REST_API_VERSION = '1.0.0';

/** The seed-prescribed endpoints, whose wire formats GraphQL cannot express: hand-written, calling their services. */
export const seedRoutes: RestRoute[] = [...appRoutes, ...partnerRoutes, ...tokenRoutes];

/**
 * Every REST route in one table: the seed endpoints, the `/v1` resources, the OpenAPI document generated from that
 * same table (at the first request for it), and the reference page at `/v1/docs` that renders it.
 */
export function restRoutes(schema: GraphQLSchema, resources: CompiledGraphqlRoute[], publicUrl: string): RestRoute[] {
  // The CSV routes come before the resources, so /v1/documents/export is not read as /v1/documents/:id.
  const routes: DocumentedRoute[] = [...seedRoutes, ...activityRoutes, ...documentImportRoutes, ...resources];
  let openApi: string | undefined;
  const openApiRoute: RestRoute = {
    method: 'GET',
    path: '/v1/openapi.json',
    handler: ({ res }) => {
      openApi ??= JSON.stringify(openApiDocument(schema, routes, publicUrl));
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(openApi), 'Cache-Control': 'public, max-age=300' });
      res.end(openApi);
    },
    doc: {
      operationId: 'getOpenApiDocument',
      tag: 'Reference',
      summary: 'This OpenAPI document',
      security: [],
      responses: { 200: { description: 'The OpenAPI 3.1 document of the REST API.', schema: { type: 'object' } } },
    },
  };
  // The reference rendered from that document, with its assets from this server.
  routes.push(openApiRoute, ...docsRoutes());
  return routes;
}

/** The OpenAPI document of `routes`. */
export function openApiDocument(schema: GraphQLSchema, routes: DocumentedRoute[], publicUrl: string): Record<string, unknown> {
  return buildOpenApiDocument({ schema, routes, publicUrl, version: REST_API_VERSION, securitySchemes });
}

/** The REST transport: the route table behind one router (problem details for resources, the seed envelopes for the rest). */
export function createRestTransport(deps: { services: Services; yoga: GraphQLServer; errorLog: ErrorLog; idempotency?: IdempotencyStore }) {
  const resources = createResourceRoutes(deps.yoga, { idempotency: deps.idempotency });
  return createRestRouter(deps.services, restRoutes(deps.yoga.getEnveloped({}).schema, resources, deps.services.config.publicUrl), { errorLog: deps.errorLog });
}
