import { ACCESS_COOKIE } from '../http/cookies.ts';
import type { JsonSchema } from './openapi.ts';

/**
 * The OpenAPI security schemes of the REST API, by the names routes use in `security`. The GraphQL-backed `/v1`
 * routes take `bearerAuth`; the seed-prescribed endpoints name the scheme their own documents define.
 */
export const securitySchemes: Record<string, JsonSchema> = {
  bearerAuth: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'A session access token (`session+jwt`): from signing in, from exchanging an authentication token, or the `X-Access-Token` of `POST /v1/Auth/SignAppin`.',
  },
  psAuth: {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description:
      'The app sign-in API key: `Authorization: PS-Auth key=<api key>; runas=<user email>;` with an optional `pwd=[<password>];`. Parameter names are case-insensitive and in any order; the password is written in square brackets so it may hold `;`. The request must come from a source address the API registration allows.',
  },
  oauth2: {
    type: 'oauth2',
    description:
      "An OAuth 2.0 access token (`at+jwt`) from the client credentials grant, sent as `Authorization: Bearer <access_token>`. The client's application user must be in a user group the API registration grants access to.",
    flows: {
      clientCredentials: {
        tokenUrl: '/v1/Auth/Connect/Token',
        scopes: { publicapi: 'The public API, as the application user the client runs as.' },
      },
    },
  },
  oauthClientBasic: {
    type: 'http',
    scheme: 'basic',
    description:
      'OAuth client authentication (RFC 6749 section 2.3.1): `client_id:client_secret`, each form-encoded, in HTTP Basic. The client may send `client_id` and `client_secret` as form fields instead, but never both ways.',
  },
  sessionCookie: {
    type: 'apiKey',
    in: 'cookie',
    name: ACCESS_COOKIE,
    description: 'The session cookie a browser sign-in sets (HttpOnly, SameSite=Lax): the same access token as `bearerAuth`.',
  },
  partnerKey: {
    type: 'apiKey',
    in: 'header',
    name: 'SW-PARTNER-ID',
    description: 'The partner organization identifier. Sent together with `SW-API-KEY`.',
  },
  partnerApiKey: {
    type: 'apiKey',
    in: 'header',
    name: 'SW-API-KEY',
    description: "The partner's API key. Server to server only: never embed it in a browser or mobile app.",
  },
};
