import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/schema.ts';
import { appRoutes } from '../src/modules/apps/apps.rest.ts';
import { partnerRoutes } from '../src/modules/partners/partners.rest.ts';
import { tokenRoutes } from '../src/modules/tokens/tokens.rest.ts';
import { buildOpenApiDocument, openApiPath } from '../src/rest/openapi.ts';
import { securitySchemes } from '../src/rest/security-schemes.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { appOrganization, post, psAuth } from './support/apps.ts';
import { createUser, signInAs } from './support/factories.ts';

type Json = Record<string, unknown>;
interface Operation {
  operationId: string;
  tags: string[];
  security: Array<Record<string, string[]>>;
  requestBody?: { content: Record<string, { schema: Json; example?: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: Json }> }>;
}

const seedRoutes = [...appRoutes, ...partnerRoutes, ...tokenRoutes];
const doc = buildOpenApiDocument({ schema, routes: seedRoutes, publicUrl: 'http://safeclose.test', version: '1', securitySchemes });
const paths = doc.paths as Record<string, Record<string, Operation>>;
const operation = (method: string, path: string) => paths[path]?.[method.toLowerCase()];

/** JSON Schema 2020-12, as OpenAPI 3.1 uses it; `$ref`s resolve inside the document (its components included). */
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema(doc, 'openapi.json');
const pointer = (...segments: string[]) => segments.map((s) => encodeURIComponent(s.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');

/** The errors of `body` against what the document says `method path` answers with `status`; none when it matches. */
function mismatch(method: string, path: string, status: number, body: unknown, contentType = 'application/json') {
  const validate = ajv.compile({ $ref: `openapi.json#/${pointer('paths', path, method.toLowerCase(), 'responses', String(status), 'content', contentType, 'schema')}` });
  return validate(body) ? [] : (validate.errors ?? []);
}

describe('the OpenAPI document of the seed-prescribed endpoints', () => {
  it('describes every seed route at its path and method, and nothing else', () => {
    for (const route of seedRoutes) {
      const described = operation(route.method, openApiPath(route.path));
      expect(described, `${route.method} ${route.path}`).toBeDefined();
      expect(described!.operationId).toMatch(/^[a-z][A-Za-z]+$/);
    }
    const documented = Object.values(paths).flatMap((methods) => Object.values(methods));
    expect(documented).toHaveLength(seedRoutes.length);
    expect(new Set(documented.map((o) => o.operationId)).size).toBe(seedRoutes.length);
    expect(new Set(documented.map((o) => o.tags[0]))).toEqual(new Set(['App sign-in', 'OAuth', 'Partner integrations', 'Signing authentication tokens']));
  });

  it('is a valid OpenAPI 3.1 document', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(doc));
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
  });

  it('rejects a document with a parameter in no valid place, so the validation above can fail', async () => {
    const broken = structuredClone(doc) as { paths: Record<string, Record<string, { parameters: Json[] }>> };
    broken.paths['/api/v1/integrations/customer/{customerId}/magic-link']!.post!.parameters[0]!.in = 'body';
    expect((await new Validator().validate(broken)).valid).toBe(false);
  });

  it('names only security schemes it defines, and asks for both partner headers together', () => {
    const defined = new Set(Object.keys(securitySchemes));
    for (const methods of Object.values(paths)) {
      for (const described of Object.values(methods)) {
        for (const requirement of described.security) for (const name of Object.keys(requirement)) expect(defined).toContain(name);
      }
    }
    expect(operation('POST', '/api/v1/integrations/customer/{customerId}/magic-link')!.security).toEqual([{ partnerKey: [], partnerApiKey: [] }]);
    expect(operation('POST', '/v1/Auth/SignAppin')!.security).toEqual([{ psAuth: [] }, { oauth2: [] }]);
    expect(operation('POST', '/api/cs-authenticationTokens/exchange')!.security).toEqual([]);
    expect(securitySchemes.partnerKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'SW-PARTNER-ID' });
    expect(securitySchemes.partnerApiKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'SW-API-KEY' });
    expect(securitySchemes.oauth2).toMatchObject({ type: 'oauth2', flows: { clientCredentials: { tokenUrl: '/v1/Auth/Connect/Token' } } });
  });

  it('gives every request body an example that its own schema accepts', () => {
    let bodies = 0;
    for (const [path, methods] of Object.entries(paths)) {
      for (const [method, described] of Object.entries(methods)) {
        for (const [contentType, media] of Object.entries(described.requestBody?.content ?? {})) {
          bodies++;
          const validate = ajv.compile({ $ref: `openapi.json#/${pointer('paths', path, method, 'requestBody', 'content', contentType, 'schema')}` });
          expect(validate(media.example), `${method} ${path}: ${JSON.stringify(validate.errors)}`).toBe(true);
          expect(validate({}), `${method} ${path} accepts an empty body`).toBe(false);
        }
      }
    }
    expect(bodies).toBe(8);
  });
});

describe('what the seed endpoints answer matches what the document says', () => {
  let t: TestApp;
  let org: Awaited<ReturnType<typeof appOrganization>>;
  let apiKey: string;
  let client: { clientId: string; clientSecret: string };

  const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
  const jsonHeaders = (token?: string) => ({ 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) });

  beforeAll(async () => {
    t = await startTestApp();
    org = await appOrganization(t);
    const registration = await org.createRegistration(['127.0.0.1', '::1']);
    apiKey = registration.key;
    client = await org.createClient(registration.id);
  });
  afterAll(() => t?.close());

  it('POST /v1/Auth/Connect/Token: the access token, and RFC 6749 invalid_client for a wrong secret', async () => {
    const path = '/v1/Auth/Connect/Token';
    const issued = await post(`${t.url}${path}`, { ...FORM, authorization: basic(client.clientId, client.clientSecret) }, 'grant_type=client_credentials');
    expect(issued.status).toBe(200);
    expect(mismatch('POST', path, 200, issued.body)).toEqual([]);

    const refused = await post(`${t.url}${path}`, { ...FORM, authorization: basic(client.clientId, 'wrong-secret') }, 'grant_type=client_credentials');
    expect(refused.status).toBe(401);
    expect(refused.body.error).toBe('invalid_client');
    expect(mismatch('POST', path, 401, refused.body)).toEqual([]);
    // Each schema tells the two answers apart.
    expect(mismatch('POST', path, 200, refused.body)).not.toEqual([]);
    expect(mismatch('POST', path, 401, issued.body)).not.toEqual([]);
  });

  it('POST /v1/Auth/SignAppin: the user model with PS-Auth, the error envelope without credentials', async () => {
    const path = '/v1/Auth/SignAppin';
    const signedIn = await post(`${t.url}${path}`, { authorization: psAuth(apiKey, org.runner.email) });
    expect(signedIn.status).toBe(200);
    expect(signedIn.body.EmailAddress).toBe(org.runner.email);
    expect(mismatch('POST', path, 200, signedIn.body)).toEqual([]);

    const anonymous = await post(`${t.url}${path}`);
    expect(anonymous.status).toBe(401);
    expect(mismatch('POST', path, 401, anonymous.body)).toEqual([]);
    expect(mismatch('POST', path, 200, anonymous.body)).not.toEqual([]);
    expect(mismatch('POST', path, 401, signedIn.body)).not.toEqual([]);
  });

  it('POST /api/cs-authenticationTokens/user and /exchange: the token and the session; a spent token and no session are refused in the envelope', async () => {
    const { token } = await signInAs(t.app.services, org.runner.id);
    const issued = await post(`${t.url}/api/cs-authenticationTokens/user`, jsonHeaders(token));
    expect(issued.status).toBe(200);
    expect(mismatch('POST', '/api/cs-authenticationTokens/user', 200, issued.body)).toEqual([]);

    const anonymous = await post(`${t.url}/api/cs-authenticationTokens/user`);
    expect(anonymous.status).toBe(401);
    expect(mismatch('POST', '/api/cs-authenticationTokens/user', 401, anonymous.body)).toEqual([]);
    expect(mismatch('POST', '/api/cs-authenticationTokens/user', 200, anonymous.body)).not.toEqual([]);

    const exchangePath = '/api/cs-authenticationTokens/exchange';
    const body = JSON.stringify({ value: issued.body.value });
    const session = await post(`${t.url}${exchangePath}`, jsonHeaders(), body);
    expect(session.status).toBe(200);
    expect(session.body.sessionKind).toBe('USER_TOKEN');
    expect(mismatch('POST', exchangePath, 200, session.body)).toEqual([]);

    const spent = await post(`${t.url}${exchangePath}`, jsonHeaders(), body);
    expect(spent.status).toBe(401);
    expect(mismatch('POST', exchangePath, 401, spent.body)).toEqual([]);
    expect(mismatch('POST', exchangePath, 200, spent.body)).not.toEqual([]);
  });

  it('POST /api/v1/integrations/customer/{customerId}/magic-link: the URL for a partner, its own envelope without headers or for a bad id', async () => {
    const admin = await createUser(t.db.prisma, { roles: ['ADMIN'] });
    const adminToken = (await signInAs(t.app.services, admin.id)).token;
    const gql = async (query: string, variables: unknown) => {
      const { body } = await t.graphql<Json, unknown>(query, variables, { token: adminToken });
      expect(body.errors).toBeUndefined();
      return body.data!;
    };
    const created = (await gql('mutation($input: CreatePartnerInput!) { createPartner(input: $input) { apiKey partner { id partnerKey } } }', {
      input: { name: 'Acme Lending', partnerKey: 'acme-openapi' },
    })) as { createPartner: { apiKey: string; partner: { id: string; partnerKey: string } } };
    const customer = (await gql('mutation($input: CreatePartnerCustomerInput!) { createPartnerCustomer(input: $input) { id } }', {
      input: { partnerId: created.createPartner.partner.id, name: 'Dana Whitfield', email: 'dana@openapi.test', userEmail: org.runner.email },
    })) as { createPartnerCustomer: { id: string } };
    const path = '/api/v1/integrations/customer/{customerId}/magic-link';
    const partnerHeaders = { 'SW-PARTNER-ID': created.createPartner.partner.partnerKey, 'SW-API-KEY': created.createPartner.apiKey };
    const url = (customerId: string) => `${t.url}/api/v1/integrations/customer/${customerId}/magic-link`;

    const link = await post(url(customer.createPartnerCustomer.id), partnerHeaders);
    expect(link.status).toBe(200);
    expect(mismatch('POST', path, 200, link.body)).toEqual([]);

    const anonymous = await post(url(customer.createPartnerCustomer.id));
    expect(anonymous.status).toBe(401);
    expect(mismatch('POST', path, 401, anonymous.body)).toEqual([]);
    expect(mismatch('POST', path, 200, anonymous.body)).not.toEqual([]);

    const badId = await post(url('not-a-uuid'), partnerHeaders);
    expect(badId.status).toBe(422);
    expect(mismatch('POST', path, 422, badId.body)).toEqual([]);
    // The 422 schema holds its own message: the 401 answer does not pass as a 422.
    expect(mismatch('POST', path, 422, anonymous.body)).not.toEqual([]);
  });
});
