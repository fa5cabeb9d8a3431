import {
  getNamedType,
  getOperationAST,
  GraphQLError,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isScalarType,
  Kind,
  parse,
  typeFromAST,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLInputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import { AppError, type ErrorCode } from '../lib/errors.ts';
import type { Viewer } from '../modules/auth/viewer.ts';
import { IDEMPOTENT_REPLAYED_HEADER, idempotencyNotSupported, idempotencyScope, readIdempotencyKey, requestFingerprint, type IdempotencyStore, type StoredResponse } from './idempotency.ts';
import { PROBLEM_CONTENT_TYPE, problemBody, problemHeaders, statusOf, type Problem } from './problem.ts';
import type { HttpMethod, RestContext, RestRoute } from './router.ts';

/**
 * A `/v1` resource route: one GraphQL operation, and how the request's path, query string, body and `If-Match`
 * header become its variables. The operation runs through the same yoga pipeline as a GraphQL request (scopes,
 * validation, limits, error masking), so a route adds no rule of its own. Declared in its domain's `<d>.rest.ts`.
 */
export interface GraphqlRouteSpec {
  method: HttpMethod;
  /** Literal segments and `:name` parameters. */
  path: string;
  /** A stable name for the operation in the OpenAPI document (`listDocuments`). */
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** One named operation with one root field, whose value is the response body. */
  operation: string;
  /** Each path parameter and the variable it fills, as a dotted path: `{ id: 'input.id' }`. */
  params?: Record<string, string>;
  /** Query-string parameters and the variables they fill, as dotted paths: `{ status: 'filter.status' }`. */
  query?: Record<string, string>;
  /**
   * The JSON body fills this variable (`input`), less the fields a path parameter or `If-Match` fills, which the body
   * may not carry.
   */
  body?: string;
  /**
   * For operations that take scalars rather than one input object: each member of the JSON body and the variable it
   * fills, as a dotted path (`{ reason: 'reason' }`). Other members are refused. Not together with `body`.
   */
  bodyFields?: Record<string, string>;
  /**
   * The body carries secrets (passwords). `Idempotency-Key` is refused (IDEMPOTENCY_NOT_SUPPORTED): its fingerprint,
   * kept in the database, would be a fast hash of them.
   */
  secretBody?: boolean;
  /** Callable without a session (signing up and in): documented without a security requirement. */
  public?: boolean;
  /**
   * The variable `If-Match` fills with the version the change applies to. Such a route answers 428 without the
   * header and 412 when the record has moved on (`STALE_VERSION`).
   */
  ifMatch?: string;
  /**
   * A creation: answered 201 with `Location`, the path of the new resource (from the result or the variables), or
   * none when the resource is not read on its own (null).
   */
  created?: (result: Record<string, unknown>, variables: Record<string, unknown>) => string | null;
  /** The body is this field of the root field's value; when it is null, 404 with this reason. */
  unwrap?: { field: string; missing: { reason: string; message: string } };
  /**
   * The root field (or the `unwrap` field) is a connection: answered as `{ items, next }` with an RFC 8288
   * `Link: <…>; rel="next"`. A plain GraphQL list is answered as `{ items, next: null }`, one page.
   */
  list?: boolean;
  /** Answered 202 Accepted: the request was taken and its effect comes later, outside this exchange (a mailed link). */
  accepted?: boolean;
  /** The answer is empty (204) when the root field's value is `true`. */
  noContent?: boolean;
  /**
   * For a GET whose operation selects fields only a record's managers see: the same query with the narrower
   * selection a signer may read (SIGNER_VISIBLE_FIELDS). It answers instead when the operation is refused with
   * NOT_FOR_SIGNERS, so one path serves both; the OpenAPI response is either shape.
   */
  signerOperation?: string;
}

/** A route and what the OpenAPI document is generated from: the parsed operation and its variables' types. */
export interface CompiledGraphqlRoute extends RestRoute {
  spec: GraphqlRouteSpec;
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** The root field's response key. */
  rootField: string;
  /** Each dotted variable path the request fills, and its GraphQL input type. */
  inputs: Map<string, GraphQLInputType>;
  /** The parsed `signerOperation`, if the route has one. */
  signer?: { document: DocumentNode; operation: OperationDefinitionNode };
}

/**
 * Opens a REST request's GraphQL context (the viewer from its Bearer token) and runs a parsed, validated operation
 * in it through the GraphQL pipeline.
 */
export type OperationRunner = (ctx: RestContext) => Promise<{
  viewer: Viewer | null;
  execute(run: { document: DocumentNode; operationName: string; variables: Record<string, unknown> }): Promise<ExecutionResult>;
}>;

const VERSION_TAG = /^"(\d{1,9})"$/;

/** The type at a dotted path below the operation's variables (`input.id`), or undefined if there is none. */
function typeAt(schema: GraphQLSchema, operation: OperationDefinitionNode, path: string): GraphQLInputType | undefined {
  const [variable, ...fields] = path.split('.');
  const definition = operation.variableDefinitions?.find((d) => d.variable.name.value === variable);
  let type = definition ? (typeFromAST(schema, definition.type) as GraphQLInputType | undefined) : undefined;
  for (const field of fields) {
    const named = type && getNamedType(type);
    type = named && isInputObjectType(named) ? named.getFields()[field]?.type : undefined;
  }
  return type;
}

function setAt(target: Record<string, unknown>, path: string, value: unknown): void {
  const fields = path.split('.');
  let node = target;
  for (const field of fields.slice(0, -1)) {
    const next = node[field];
    node = (next && typeof next === 'object' && !Array.isArray(next) ? next : (node[field] = {})) as Record<string, unknown>;
  }
  node[fields.at(-1)!] = value;
}

/** A query-string or path value as its variable's type: integers and booleans are parsed, the rest stays text. */
function fromText(type: GraphQLInputType, value: string, name: string): unknown {
  const named = getNamedType(type);
  if (isListType(isNonNullType(type) ? type.ofType : type)) return value.split(',');
  if (isScalarType(named) && named.name === 'Int') {
    if (!/^-?\d{1,9}$/.test(value)) throw new AppError('BAD_USER_INPUT', `${name} must be a whole number.`, { field: name });
    return Number(value);
  }
  if (isScalarType(named) && named.name === 'Boolean') {
    if (value !== 'true' && value !== 'false') throw new AppError('BAD_USER_INPUT', `${name} must be true or false.`, { field: name });
    return value === 'true';
  }
  if (isEnumType(named) && !named.getValue(value)) {
    const allowed = named.getValues().map((v) => v.name);
    throw new AppError('BAD_USER_INPUT', `${name} must be one of ${allowed.join(', ')}.`, { field: name });
  }
  return value;
}

/** Parses the route's operation once, at start-up, and checks that every mapping names a variable of its type. */
export function compileGraphqlRoute(
  schema: GraphQLSchema,
  spec: GraphqlRouteSpec,
  deps: { run: OperationRunner; validate: (document: DocumentNode) => readonly GraphQLError[]; idempotency?: IdempotencyStore },
): CompiledGraphqlRoute {
  const { run, validate } = deps;
  const document = parse(spec.operation, { noLocation: true });
  const operation = getOperationAST(document);
  if (!operation?.name) throw new Error(`${spec.method} ${spec.path}: the operation must be one named operation.`);
  const errors = validate(document);
  if (errors.length) throw new Error(`${spec.method} ${spec.path}: ${errors.map((e) => e.message).join('; ')}`);
  const roots = operation.selectionSet.selections;
  const root = roots[0];
  if (roots.length !== 1 || root?.kind !== Kind.FIELD) throw new Error(`${spec.method} ${spec.path}: the operation must select exactly one root field.`);
  if (spec.body && spec.bodyFields) throw new Error(`${spec.method} ${spec.path}: give body or bodyFields, not both.`);
  const inputs = new Map<string, GraphQLInputType>();
  const mapped = [...Object.values(spec.params ?? {}), ...Object.values(spec.query ?? {}), ...(spec.body ? [spec.body] : []), ...Object.values(spec.bodyFields ?? {}), ...(spec.ifMatch ? [spec.ifMatch] : [])];
  for (const path of mapped) {
    const type = typeAt(schema, operation, path);
    if (!type) throw new Error(`${spec.method} ${spec.path}: ${path} is not a variable (or a field of one) of ${operation.name.value}.`);
    inputs.set(path, type);
  }
  const compiled: CompiledGraphqlRoute = {
    method: spec.method,
    path: spec.path,
    spec,
    document,
    operation,
    rootField: root.alias?.value ?? root.name.value,
    inputs,
    ...(spec.signerOperation ? { signer: compileSignerOperation(schema, spec, root.name.value, mapped, validate) } : {}),
    handler: (ctx) => handleGraphqlRoute(ctx, compiled, run, deps.idempotency),
    problemDetails: true,
  };
  return compiled;
}

/** The signer's twin of a GET's operation: the same root field, filled by the same variables. */
function compileSignerOperation(
  schema: GraphQLSchema,
  spec: GraphqlRouteSpec,
  rootName: string,
  mapped: readonly string[],
  validate: (document: DocumentNode) => readonly GraphQLError[],
): { document: DocumentNode; operation: OperationDefinitionNode } {
  const where = `${spec.method} ${spec.path} (signerOperation)`;
  if (spec.method !== 'GET' || spec.list || spec.unwrap) throw new Error(`${where}: only a GET of one record may answer a narrower operation (so nothing runs twice).`);
  const document = parse(spec.signerOperation!, { noLocation: true });
  const operation = getOperationAST(document);
  if (!operation?.name) throw new Error(`${where}: the operation must be one named operation.`);
  const errors = validate(document);
  if (errors.length) throw new Error(`${where}: ${errors.map((e) => e.message).join('; ')}`);
  const [root, ...rest] = operation.selectionSet.selections;
  if (rest.length || root?.kind !== Kind.FIELD || root.name.value !== rootName || root.alias) throw new Error(`${where}: it must select the same one root field, ${rootName}.`);
  for (const path of mapped) {
    if (!typeAt(schema, operation, path)) throw new Error(`${where}: ${path} is not a variable (or a field of one) of ${operation.name.value}.`);
  }
  return { document, operation };
}

/** REST names for the variable paths a route fills: what an error's `field` and message say instead. */
function restNames(spec: GraphqlRouteSpec): Array<[variablePath: string, restName: string]> {
  const names: Array<[string, string]> = [
    ...Object.entries(spec.params ?? {}).map(([name, path]) => [path, name] as [string, string]),
    ...Object.entries(spec.query ?? {}).map(([name, path]) => [path, name] as [string, string]),
    ...Object.entries(spec.bodyFields ?? {}).map(([name, path]) => [path, name] as [string, string]),
  ];
  if (spec.ifMatch) names.push([spec.ifMatch, 'If-Match']);
  // Longest first, so `input.id` is renamed before the body's own `input`.
  names.sort((a, b) => b[0].length - a[0].length);
  return names;
}

/** An error's `field` as the REST client named it: a path parameter, a query parameter, If-Match or a body field. */
function restField(spec: GraphqlRouteSpec, field: string): string {
  for (const [path, name] of restNames(spec)) {
    if (field === path || field.startsWith(`${path}.`) || field.startsWith(`${path}[`)) return name + field.slice(path.length);
  }
  if (spec.body && field.startsWith(`${spec.body}.`)) return field.slice(spec.body.length + 1);
  if (spec.body && field.startsWith(`${spec.body}[`)) return field.slice(spec.body.length);
  return field;
}

const VARIABLE_MESSAGE = /^Variable "\$\w+" got an invalid value(?: at "[^"]*")?: /;

/** The first error of a result as a problem, in the REST client's terms. */
function problemOf(spec: GraphqlRouteSpec, error: GraphQLError): Problem {
  const extensions = error.extensions ?? {};
  const code = typeof extensions.code === 'string' ? extensions.code : 'INTERNAL';
  const http = extensions.http as { status?: number } | undefined;
  const reason = typeof extensions.reason === 'string' ? extensions.reason : undefined;
  const field = typeof extensions.field === 'string' ? restField(spec, extensions.field) : undefined;
  let status = statusOf(code, http?.status);
  // Parse and validation failures cannot come from a route's fixed operation; a variable's type can.
  if (code === 'GRAPHQL_VALIDATION_FAILED' || code === 'GRAPHQL_PARSE_FAILED') status = 400;
  if (reason === 'STALE_VERSION' && spec.ifMatch) status = 412;
  const message = field && VARIABLE_MESSAGE.test(error.message) ? `Invalid ${field}: ${error.message.replace(VARIABLE_MESSAGE, '')}` : error.message;
  const retryAfter = typeof extensions.retryAfter === 'number' ? extensions.retryAfter : undefined;
  return { status, code: code.startsWith('GRAPHQL_') ? 'BAD_USER_INPUT' : code, message, reason, field, retryAfter };
}

function appProblem(error: AppError): Problem {
  return { status: error.status, code: error.code, message: error.message, reason: error.reason, field: error.field, retryAfter: error.retryAfterSeconds };
}

/** The variables of one request, from its path, query string, body and If-Match; BAD_USER_INPUT when they cannot be. */
async function variablesOf(ctx: RestContext, route: CompiledGraphqlRoute): Promise<{ variables: Record<string, unknown>; body: unknown }> {
  const { spec, inputs } = route;
  const variables: Record<string, unknown> = {};
  let body: unknown;
  if (spec.body) {
    body = await ctx.readJson();
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new AppError('BAD_USER_INPUT', 'The request body must be a JSON object.', { reason: 'INVALID_BODY' });
    }
    const filled = new Set([...Object.values(spec.params ?? {}), ...(spec.ifMatch ? [spec.ifMatch] : [])]);
    for (const key of Object.keys(body)) {
      const path = `${spec.body}.${key}`;
      if (filled.has(path)) {
        const from = restNames(spec).find(([p]) => p === path)?.[1] ?? key;
        throw new AppError('BAD_USER_INPUT', `${key} comes from ${from === 'If-Match' ? 'the If-Match header' : `the path (${from})`}, not the body.`, { field: key });
      }
    }
    setAt(variables, spec.body, { ...body });
  }
  if (spec.bodyFields) {
    body = await ctx.readJson();
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new AppError('BAD_USER_INPUT', 'The request body must be a JSON object.', { reason: 'INVALID_BODY' });
    }
    for (const [key, value] of Object.entries(body)) {
      if (!Object.hasOwn(spec.bodyFields, key)) {
        const shown = key.length <= 64 && /^[\w.-]+$/.test(key);
        throw new AppError('BAD_USER_INPUT', shown ? `Unknown body member ${key}.` : 'Unknown body member.', { ...(shown ? { field: key } : {}), reason: 'UNKNOWN_PARAMETER' });
      }
      setAt(variables, spec.bodyFields[key]!, value);
    }
  }
  for (const [name, path] of Object.entries(spec.params ?? {})) setAt(variables, path, fromText(inputs.get(path)!, ctx.params[name] ?? '', name));
  for (const [name, path] of Object.entries(spec.query ?? {})) {
    const values = ctx.query.getAll(name);
    if (values.length === 0) continue;
    if (values.length > 1) throw new AppError('BAD_USER_INPUT', `Give ${name} once.`, { field: name });
    setAt(variables, path, fromText(inputs.get(path)!, values[0]!, name));
  }
  for (const name of ctx.query.keys()) {
    if (!spec.query || !Object.hasOwn(spec.query, name)) {
      const shown = name.length <= 64 && /^[\w.-]+$/.test(name);
      throw new AppError('BAD_USER_INPUT', shown ? `Unknown query parameter ${name}.` : 'Unknown query parameter.', { ...(shown ? { field: name } : {}), reason: 'UNKNOWN_PARAMETER' });
    }
  }
  if (spec.ifMatch) {
    const header = ctx.req.headers['if-match'];
    if (header === undefined) {
      throw new AppError('BAD_USER_INPUT', 'This change needs If-Match with the ETag of the version it applies to.', { field: 'If-Match', reason: 'PRECONDITION_REQUIRED', status: 428 });
    }
    const version = VERSION_TAG.exec(header.trim())?.[1];
    if (!version) throw new AppError('BAD_USER_INPUT', 'If-Match must be one ETag from this API, such as "3".', { field: 'If-Match', reason: 'INVALID_PRECONDITION' });
    setAt(variables, spec.ifMatch, Number(version));
  }
  return { variables, body };
}

/** The URL of the next page: this request's own, with `after` moved on. */
function nextPageUrl(ctx: RestContext, cursor: string): string {
  const url = new URL(ctx.req.url ?? '/', ctx.services.config.publicUrl);
  url.searchParams.set('after', cursor);
  return `${ctx.services.config.publicUrl.replace(/\/$/, '')}${url.pathname}?${url.searchParams.toString()}`;
}

/** A REST answer before it is written: what an idempotent request stores and replays. */
type Answer = StoredResponse;

function problemAnswer(problem: Problem, requestId: string): Answer {
  return { status: problem.status, headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...problemHeaders(problem) }, body: problemBody(problem, requestId) };
}

/** A versioned record read with GET may be kept by the client and revalidated with If-None-Match; nothing else. */
function jsonAnswer(ctx: RestContext, status: number, body: unknown, headers: Record<string, string> = {}): Answer {
  const caching = ctx.req.method === 'GET' && headers.etag ? 'private, no-cache' : 'no-store';
  return { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': caching, ...headers }, body: JSON.stringify(body) };
}

function write(ctx: RestContext, answer: Answer, extra: Record<string, string> = {}): void {
  const headers: Record<string, string | number> = { 'cache-control': 'no-store', ...answer.headers, ...extra };
  if (answer.status !== 204 && answer.status !== 304) headers['content-length'] = Buffer.byteLength(answer.body);
  ctx.res.writeHead(answer.status, headers);
  ctx.res.end(answer.status === 204 || answer.status === 304 ? undefined : answer.body);
}

/** A failure before or outside execution as the route answers it. */
function failureAnswer(ctx: RestContext, spec: GraphqlRouteSpec, error: unknown): Answer {
  // yoga turns what the context factory throws (an invalid token's UNAUTHENTICATED) into a coded GraphQLError.
  if (error instanceof GraphQLError && !error.originalError && typeof error.extensions.code === 'string') {
    const reason = typeof error.extensions.reason === 'string' ? error.extensions.reason : undefined;
    ctx.reportError(new AppError(error.extensions.code as ErrorCode, error.message, { reason }));
    return problemAnswer(problemOf(spec, error), ctx.requestId);
  }
  const original = error instanceof GraphQLError && error.originalError ? error.originalError : error;
  return problemAnswer(appProblem(ctx.reportError(original)), ctx.requestId);
}

/** The answer to an executed operation: its root field's value as the resource, or its first error as a problem. */
function resultAnswer(ctx: RestContext, route: CompiledGraphqlRoute, result: ExecutionResult, variables: Record<string, unknown>): Answer {
  const { spec } = route;
  const root = result.data?.[route.rootField] as unknown;
  const value = spec.unwrap && root ? (root as Record<string, unknown>)[spec.unwrap.field] : root;
  if (spec.unwrap && root && (value === null || value === undefined)) {
    return problemAnswer({ status: 404, code: 'NOT_FOUND', ...spec.unwrap.missing }, ctx.requestId);
  }
  const failure = result.errors?.find((e) => e.extensions?.code === 'INTERNAL') ?? (value === null || value === undefined ? result.errors?.[0] : undefined);
  if (failure) return problemAnswer(problemOf(spec, failure), ctx.requestId);
  if (value === null || value === undefined) return problemAnswer({ status: 404, code: 'NOT_FOUND', message: 'Not found.' }, ctx.requestId);
  if (spec.noContent) return { status: 204, headers: {}, body: '' };
  if (spec.list && Array.isArray(value)) return jsonAnswer(ctx, 200, { items: value, next: null });
  if (spec.list) {
    const connection = value as { edges: Array<{ node: unknown }>; pageInfo: { hasNextPage: boolean; endCursor: string | null }; totalCount?: number };
    const next = connection.pageInfo.hasNextPage ? connection.pageInfo.endCursor : null;
    const headers: Record<string, string> = next ? { link: `<${nextPageUrl(ctx, next)}>; rel="next"` } : {};
    return jsonAnswer(ctx, 200, { items: connection.edges.map((e) => e.node), next, ...(connection.totalCount !== undefined ? { totalCount: connection.totalCount } : {}) }, headers);
  }
  const record = value as Record<string, unknown>;
  const headers: Record<string, string> = {};
  if (typeof record.version === 'number') headers.etag = `"${record.version}"`;
  if (spec.created) {
    const location = spec.created(record, variables);
    if (location) headers.location = `${ctx.services.config.publicUrl.replace(/\/$/, '')}${location}`;
    return jsonAnswer(ctx, 201, record, headers);
  }
  if (spec.accepted) return jsonAnswer(ctx, 202, record, headers);
  if (spec.method === 'GET' && headers.etag && ctx.req.headers['if-none-match']?.split(',').some((tag) => tag.trim().replace(/^W\//, '') === headers.etag)) {
    return { status: 304, headers: { etag: headers.etag, 'cache-control': 'private, no-cache' }, body: '' };
  }
  return jsonAnswer(ctx, 200, record, headers);
}

async function handleGraphqlRoute(ctx: RestContext, route: CompiledGraphqlRoute, open: OperationRunner, idempotency: IdempotencyStore | undefined): Promise<void> {
  const { spec } = route;
  try {
    const { variables, body } = await variablesOf(ctx, route);
    const key = spec.method === 'GET' ? undefined : readIdempotencyKey(ctx.req.headers['idempotency-key'] as string | undefined);
    if (key !== undefined && spec.secretBody) throw idempotencyNotSupported('are not supported here, whose request carries secrets');
    const operation = await open(ctx);
    const execute = async () => {
      let result = await operation.execute({ document: route.document, operationName: route.operation.name!.value, variables });
      if (route.signer && result.errors?.some((e) => e.extensions?.reason === 'NOT_FOR_SIGNERS')) {
        result = await operation.execute({ document: route.signer.document, operationName: route.signer.operation.name!.value, variables });
      }
      return resultAnswer(ctx, route, result, variables);
    };
    if (!key || !idempotency) return write(ctx, await execute());
    const input = { scope: idempotencyScope(operation.viewer), key, fingerprint: requestFingerprint({ method: spec.method, path: ctx.req.url ?? spec.path, body }) };
    const { replayed, response } = await idempotency.run(input, execute);
    return write(ctx, response, replayed ? { [IDEMPOTENT_REPLAYED_HEADER.toLowerCase()]: 'true' } : {});
  } catch (error) {
    return write(ctx, failureAnswer(ctx, spec, error));
  }
}
