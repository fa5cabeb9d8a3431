import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
  Kind,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLEnumType,
  type GraphQLInputObjectType,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type SelectionSetNode,
} from 'graphql';
import type { CompiledGraphqlRoute } from './graphql-route.ts';
import type { HttpMethod, RestRoute } from './router.ts';

/** A JSON Schema (2020-12, as OpenAPI 3.1 uses it). */
export type JsonSchema = Record<string, unknown>;

/** What a hand-written route (a seed's wire format) says about itself for the OpenAPI document. */
export interface RouteDoc {
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /**
   * The ways to authenticate, any one of which will do: a scheme name, or several names that must all be sent
   * together (`['partnerKey', 'partnerApiKey']`); `[]` as an entry makes credentials optional. `[]` for a public route.
   */
  security: Array<string | string[]>;
  parameters?: Array<{ name: string; in: 'query' | 'header' | 'path'; required?: boolean; description?: string; schema: JsonSchema }>;
  requestBody?: { contentType: string; schema: JsonSchema; example?: unknown };
  /** Status → what it answers. */
  responses: Record<string, { description: string; contentType?: string; schema?: JsonSchema; headers?: Record<string, string> }>;
}

/** Routes the document describes: hand-written ones carry a RouteDoc; GraphQL-backed ones are described from their operation. */
export type DocumentedRoute = (RestRoute & { doc?: RouteDoc }) | CompiledGraphqlRoute;

const SCALARS: Record<string, JsonSchema> = {
  ID: { type: 'string' },
  String: { type: 'string' },
  Int: { type: 'integer' },
  Float: { type: 'number' },
  Boolean: { type: 'boolean' },
  DateTime: { type: 'string', format: 'date-time' },
  Decimal: { type: 'string', pattern: '^-?\\d{1,12}(\\.\\d{1,4})?$', description: 'Money and rates as decimal strings, e.g. "1234.50".' },
};

function nullable(schema: JsonSchema): JsonSchema {
  if (typeof schema.$ref === 'string') return { oneOf: [schema, { type: 'null' }] };
  if (typeof schema.type === 'string') return { ...schema, type: [schema.type, 'null'] };
  return { oneOf: [schema, { type: 'null' }] };
}

/** Builds the document's components while describing routes: enums and input objects by reference. */
class SchemaWriter {
  readonly components: Record<string, JsonSchema> = {};

  constructor(private readonly schema: GraphQLSchema) {}

  named(type: GraphQLNamedType): JsonSchema {
    if (isScalarType(type)) return SCALARS[type.name] ?? { description: type.description ?? type.name };
    if (isEnumType(type)) return this.enumRef(type);
    if (isInputObjectType(type)) return this.inputRef(type);
    return {};
  }

  /** The properties of an object schema, through a `$ref` to one of the components. */
  propertiesOf(schema: JsonSchema): Record<string, JsonSchema> {
    const ref = typeof schema.$ref === 'string' ? this.components[schema.$ref.replace('#/components/schemas/', '')] : schema;
    return (ref?.properties ?? {}) as Record<string, JsonSchema>;
  }

  enumRef(type: GraphQLEnumType): JsonSchema {
    this.components[type.name] ??= { type: 'string', enum: type.getValues().map((v) => v.name), ...(type.description ? { description: type.description } : {}) };
    return { $ref: `#/components/schemas/${type.name}` };
  }

  inputRef(type: GraphQLInputObjectType): JsonSchema {
    if (!this.components[type.name]) {
      this.components[type.name] = {};
      this.components[type.name] = this.inputObject(type, new Set());
    }
    return { $ref: `#/components/schemas/${type.name}` };
  }

  /** An input object's schema, less the fields in `omit`. */
  inputObject(type: GraphQLInputObjectType, omit: ReadonlySet<string>): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const field of Object.values(type.getFields())) {
      if (omit.has(field.name)) continue;
      properties[field.name] = { ...this.input(field.type), ...(field.description ? { description: field.description } : {}) };
      if (isNonNullType(field.type) && field.defaultValue === undefined) required.push(field.name);
    }
    return { type: 'object', properties, ...(required.length ? { required } : {}), additionalProperties: false, ...(type.description ? { description: type.description } : {}) };
  }

  input(type: GraphQLInputType): JsonSchema {
    if (isNonNullType(type)) return this.inputNonNull(type.ofType);
    return nullable(this.inputNonNull(type));
  }

  private inputNonNull(type: GraphQLInputType): JsonSchema {
    if (isListType(type)) return { type: 'array', items: this.input(type.ofType) };
    return this.named(getNamedType(type));
  }

  /** What a selection of `type` answers: only the fields selected, with fragments spread in place. */
  output(type: GraphQLOutputType, selections: SelectionSetNode | undefined, fragments: Map<string, FragmentDefinitionNode>): JsonSchema {
    if (isNonNullType(type)) return this.outputNonNull(type.ofType, selections, fragments);
    return nullable(this.outputNonNull(type, selections, fragments));
  }

  private outputNonNull(type: GraphQLOutputType, selections: SelectionSetNode | undefined, fragments: Map<string, FragmentDefinitionNode>): JsonSchema {
    if (isListType(type)) return { type: 'array', items: this.output(type.ofType, selections, fragments) };
    const named = getNamedType(type);
    if (!selections || !(isObjectType(named) || isInterfaceType(named) || isUnionType(named))) return this.named(named);
    // A selection that is one named fragment is a component of its own (`fragment RestDocument` → `Document`).
    const only = selections.selections.length === 1 ? selections.selections[0] : undefined;
    const fragment = only?.kind === Kind.FRAGMENT_SPREAD ? fragments.get(only.name.value) : undefined;
    if (fragment && fragment.typeCondition.name.value === named.name) {
      const name = fragment.name.value.replace(/^Rest(?=[A-Z])/, '');
      if (!this.components[name]) {
        this.components[name] = {};
        this.components[name] = this.selectionObject(named, fragment.selectionSet, fragments);
      }
      return { $ref: `#/components/schemas/${name}` };
    }
    return this.selectionObject(named, selections, fragments);
  }

  private selectionObject(named: GraphQLNamedType, selections: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>): JsonSchema {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    const visit = (set: SelectionSetNode, on: GraphQLNamedType, certain: boolean) => {
      for (const selection of set.selections) {
        if (selection.kind === Kind.FRAGMENT_SPREAD) {
          const fragment = fragments.get(selection.name.value);
          if (fragment) visit(fragment.selectionSet, this.schema.getType(fragment.typeCondition.name.value) ?? on, certain && fragment.typeCondition.name.value === on.name);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          const condition = selection.typeCondition ? this.schema.getType(selection.typeCondition.name.value) : on;
          visit(selection.selectionSet, condition ?? on, certain && (!selection.typeCondition || condition === on));
        } else if (selection.name.value === '__typename') {
          properties[selection.alias?.value ?? '__typename'] = { type: 'string' };
        } else if (isObjectType(on) || isInterfaceType(on)) {
          const field = on.getFields()[selection.name.value];
          if (!field) continue;
          const key = selection.alias?.value ?? selection.name.value;
          properties[key] = { ...this.output(field.type, selection.selectionSet, fragments), ...(field.description ? { description: field.description } : {}) };
          if (certain && isNonNullType(field.type) && !required.includes(key)) required.push(key);
        }
      }
    };
    visit(selections, named, true);
    return { type: 'object', properties, ...(required.length ? { required } : {}) };
  }
}

const PROBLEM: JsonSchema = {
  type: 'object',
  description: 'An RFC 9457 problem details document. `code` is stable; `reason` refines it; `field` names the input at fault.',
  properties: {
    type: { type: 'string', const: 'about:blank' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', enum: ['UNAUTHENTICATED', 'FORBIDDEN', 'NOT_FOUND', 'BAD_USER_INPUT', 'CONFLICT', 'RATE_LIMITED', 'DATABASE_UNAVAILABLE', 'OVERLOADED', 'INTERNAL'] },
    reason: { type: 'string' },
    field: { type: 'string' },
    requestId: { type: 'string' },
  },
  required: ['type', 'title', 'status', 'detail', 'code', 'requestId'],
};

const problemResponse = (description: string) => ({ description, content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } } });

/** `/v1/documents/:id` as OpenAPI writes it: `/v1/documents/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

function isGraphqlRoute(route: DocumentedRoute): route is CompiledGraphqlRoute {
  return 'spec' in route;
}

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  return new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
}

function describeGraphqlRoute(writer: SchemaWriter, schema: GraphQLSchema, route: CompiledGraphqlRoute): Record<string, unknown> {
  const { spec, operation, document, inputs } = route;
  const fragments = fragmentsOf(document);
  const rootType = operation.operation === 'query' ? schema.getQueryType()! : schema.getMutationType()!;
  const root = operation.selectionSet.selections[0]!;
  if (root.kind !== Kind.FIELD) throw new Error('unreachable');
  const field = rootType.getFields()[root.name.value]!;
  const parameters: Array<Record<string, unknown>> = [];
  for (const [name, path] of Object.entries(spec.params ?? {})) {
    parameters.push({ name, in: 'path', required: true, schema: writer.input(inputs.get(path)!) });
  }
  for (const [name, path] of Object.entries(spec.query ?? {})) {
    parameters.push({ name, in: 'query', required: false, schema: writer.input(getNullable(inputs.get(path)!)) });
  }
  if (spec.ifMatch) {
    parameters.push({ name: 'If-Match', in: 'header', required: true, description: 'The ETag of the version this change applies to, e.g. `"3"`.', schema: { type: 'string', pattern: '^"\\d+"$' } });
  }
  if (spec.method === 'GET' && !spec.list) {
    parameters.push({ name: 'If-None-Match', in: 'header', required: false, description: 'An ETag you hold: 304 when it is still current.', schema: { type: 'string' } });
  }
  if (spec.method !== 'GET' && !spec.secretBody) {
    parameters.push({ name: 'Idempotency-Key', in: 'header', required: false, description: 'Retrying with the same key and body answers the first response and does nothing twice (24 hours).', schema: { type: 'string', minLength: 1, maxLength: 255 } });
  }
  let body: JsonSchema | undefined;
  if (spec.body) {
    const type = getNamedType(inputs.get(spec.body)!) as GraphQLInputObjectType;
    const omit = new Set([...Object.values(spec.params ?? {}), ...(spec.ifMatch ? [spec.ifMatch] : [])].filter((p) => p.startsWith(`${spec.body}.`)).map((p) => p.slice(spec.body!.length + 1)));
    body = writer.inputObject(type, omit);
  }
  if (spec.bodyFields) {
    const properties: Record<string, JsonSchema> = {};
    const required: string[] = [];
    for (const [name, path] of Object.entries(spec.bodyFields)) {
      const type = inputs.get(path)!;
      properties[name] = writer.input(type);
      const definition = operation.variableDefinitions?.find((d) => d.variable.name.value === path);
      if (isNonNullType(type) && !definition?.defaultValue) required.push(name);
    }
    body = { type: 'object', properties, ...(required.length ? { required } : {}), additionalProperties: false };
  }
  let result = writer.output(field.type, root.selectionSet, fragments);
  if (spec.unwrap) {
    const properties = (result.properties ?? (result.oneOf as JsonSchema[] | undefined)?.[0]?.properties) as Record<string, JsonSchema> | undefined;
    const inner = properties?.[spec.unwrap.field] ?? {};
    result = (inner.oneOf as JsonSchema[] | undefined)?.[0] ?? (Array.isArray(inner.type) ? { ...inner, type: inner.type[0] } : inner);
  }
  const versioned = 'version' in writer.propertiesOf(result);
  if (route.signer) {
    const signerRoot = route.signer.operation.selectionSet.selections[0]!;
    if (signerRoot.kind !== Kind.FIELD) throw new Error('unreachable');
    result = { anyOf: [result, writer.output(field.type, signerRoot.selectionSet, fragmentsOf(route.signer.document))], description: 'In full for its managers; as a signer may see it for a caller who reads it only as a signer.' };
  }
  const onePage = spec.list === true && result.type === 'array';
  if (onePage) {
    result = { type: 'object', properties: { items: result, next: { type: 'null', description: 'Always null: the whole list is one page.' } }, required: ['items', 'next'] };
  } else if (spec.list) {
    const edges = (result.properties as Record<string, JsonSchema>).edges!;
    const node = ((edges.items as JsonSchema).properties as Record<string, JsonSchema>).node!;
    result = {
      type: 'object',
      properties: { items: { type: 'array', items: node }, next: { type: ['string', 'null'], description: 'The `after` of the next page; null on the last.' } },
      required: ['items', 'next'],
    };
  }
  const success: Record<string, unknown> = spec.noContent
    ? { 204: { description: 'Done.' } }
    : {
        [spec.created ? 201 : spec.accepted ? 202 : 200]: {
          description: spec.created ? 'Created.' : spec.accepted ? 'Accepted: what follows arrives by mail.' : 'OK.',
          headers: {
            ...(spec.created ? { Location: { description: 'The new resource (absent when it is not read on its own, as an outreach attempt).', schema: { type: 'string', format: 'uri' } } } : {}),
            ...(versioned ? { ETag: { description: 'The version, for If-Match.', schema: { type: 'string' } } } : {}),
            ...(spec.list && !onePage ? { Link: { description: 'RFC 8288 link to the next page (`rel="next"`), when there is one.', schema: { type: 'string' } } } : {}),
          },
          content: { 'application/json': { schema: result } },
        },
      };
  const errors: Record<string, unknown> = {
    400: problemResponse('Invalid input (`BAD_USER_INPUT`, with `field`).'),
    401: problemResponse('No valid access token (`WWW-Authenticate: Bearer`).'),
    403: problemResponse('Signed in, but not allowed.'),
    404: problemResponse('Not found, or not yours to see.'),
    429: problemResponse('Rate limited (`Retry-After`).'),
  };
  if (spec.method !== 'GET') errors[409] = problemResponse('In conflict with the current state.');
  if (spec.method === 'GET' && !spec.list) errors[304] = { description: 'Not modified: the ETag in If-None-Match is current.' };
  if (spec.ifMatch) {
    errors[412] = problemResponse('The record changed since the ETag in If-Match (`STALE_VERSION`).');
    errors[428] = problemResponse('If-Match is missing (`PRECONDITION_REQUIRED`).');
  }
  if (spec.method !== 'GET' && !spec.secretBody) errors[422] = problemResponse('The Idempotency-Key was used with another request (`IDEMPOTENCY_KEY_REUSED`).');
  return {
    operationId: spec.operationId,
    tags: [spec.tag],
    summary: spec.summary,
    description: [spec.description, `Runs the GraphQL ${operation.operation} \`${field.name}\`.`].filter(Boolean).join('\n\n'),
    security: spec.public ? [] : [{ bearerAuth: [] }],
    parameters,
    ...(body ? { requestBody: { required: true, content: { 'application/json': { schema: body } } } } : {}),
    responses: { ...success, ...errors },
  };
}

function getNullable(type: GraphQLInputType): GraphQLInputType {
  return isNonNullType(type) ? type.ofType : type;
}

function describeRoute(route: RestRoute & { doc?: RouteDoc }): Record<string, unknown> | undefined {
  const doc = route.doc;
  if (!doc) return undefined;
  const pathParameters = [...route.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  return {
    operationId: doc.operationId,
    tags: [doc.tag],
    summary: doc.summary,
    ...(doc.description ? { description: doc.description } : {}),
    security: doc.security.map((names) => Object.fromEntries((typeof names === 'string' ? [names] : names).map((name) => [name, []]))),
    parameters: [
      ...pathParameters.filter((name) => !doc.parameters?.some((p) => p.in === 'path' && p.name === name)).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...(doc.parameters ?? []),
    ],
    ...(doc.requestBody
      ? { requestBody: { required: true, content: { [doc.requestBody.contentType]: { schema: doc.requestBody.schema, ...(doc.requestBody.example !== undefined ? { example: doc.requestBody.example } : {}) } } } }
      : {}),
    responses: Object.fromEntries(
      Object.entries(doc.responses).map(([status, response]) => [
        status,
        {
          description: response.description,
          ...(response.headers ? { headers: Object.fromEntries(Object.entries(response.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }])) } : {}),
          ...(response.schema ? { content: { [response.contentType ?? 'application/json']: { schema: response.schema } } } : {}),
        },
      ]),
    ),
  };
}

export interface OpenApiOptions {
  schema: GraphQLSchema;
  routes: DocumentedRoute[];
  publicUrl: string;
  version: string;
  /** The security schemes hand-written routes name (the GraphQL-backed ones use `bearerAuth`). */
  securitySchemes: Record<string, JsonSchema>;
}

/**
 * The OpenAPI 3.1 document of the REST API, generated from the route table: GraphQL-backed routes from their
 * operations and the schema's types, hand-written ones from the RouteDoc beside them. A route without either is left
 * out, and the test that compares the document with the route table fails.
 */
export function buildOpenApiDocument(options: OpenApiOptions): Record<string, unknown> {
  const writer = new SchemaWriter(options.schema);
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of options.routes) {
    const operation = isGraphqlRoute(route) ? describeGraphqlRoute(writer, options.schema, route) : describeRoute(route);
    if (!operation) continue;
    const path = openApiPath(route.path);
    (paths[path] ??= {})[route.method.toLowerCase() as Lowercase<HttpMethod>] = operation;
  }
  const tags = [...new Set(Object.values(paths).flatMap((p) => Object.values(p).map((o) => (o as { tags: string[] }).tags[0]!)))].sort();
  return {
    openapi: '3.1.0',
    info: {
      title: 'Safeclose REST API',
      version: options.version,
      description:
        'Chattel records, loans, RCM campaigns and signing for lenders, over REST. Every `/v1` resource route runs the same GraphQL operation a GraphQL client would (`/graphql`), with the same rules. Send `Authorization: Bearer <access token>`.',
    },
    servers: [{ url: options.publicUrl.replace(/\/$/, '') }],
    tags: tags.map((name) => ({ name })),
    paths,
    components: {
      schemas: { ...Object.fromEntries(Object.entries(writer.components).sort(([a], [b]) => a.localeCompare(b))), Problem: PROBLEM },
      securitySchemes: options.securitySchemes,
    },
  };
}
