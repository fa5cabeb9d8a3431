// `npm run openapi:print -- <file>` writes the REST API's OpenAPI document (what `/v1/openapi.json` serves) without
// starting a server; `npm run codegen` generates the typed REST client types for the tests from it.
import fs from 'node:fs';
import { validate } from 'graphql';
import { schema } from '../graphql/schema.ts';
import { openApiDocument, restRoutes } from '../transports/rest.ts';
import { compileResourceRoutes } from './resources.ts';

const file = process.argv[2];
const notServed = async (): Promise<never> => {
  throw new Error('The OpenAPI printer runs no operations.');
};
const resources = compileResourceRoutes(schema, { run: notServed, validate: (document) => validate(schema, document) });
const publicUrl = process.env.PUBLIC_URL ?? 'http://localhost:4000';
const document = JSON.stringify(openApiDocument(schema, restRoutes(schema, resources, publicUrl), publicUrl), null, 2);
if (file) fs.writeFileSync(file, `${document}\n`);
else process.stdout.write(`${document}\n`);
