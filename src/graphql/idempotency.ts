import {
  getOperationAST,
  GraphQLError,
  Kind,
  Source,
  type DocumentNode,
  type ExecutionResult,
  type FragmentDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { AppError, toAppError } from '../lib/errors.ts';
import {
  graphqlFingerprint,
  IDEMPOTENCY_KEY_HEADER,
  IDEMPOTENT_REPLAYED_HEADER,
  idempotencyNotSupported,
  idempotencyScope,
  readIdempotencyKey,
  type IdempotencyStore,
  type StoredResponse,
} from '../rest/idempotency.ts';
import type { Context } from './context.ts';
import { httpExtension } from './errors.ts';

/**
 * Mutations whose answer carries a secret (session tokens, signing authentication tokens, API keys, client
 * secrets). Secrets are returned once and stored only as hashes, so these answers are never stored for replay: an
 * `Idempotency-Key` on them is refused (IDEMPOTENCY_NOT_SUPPORTED). test/idempotency.test.ts checks this list
 * against the schema.
 */
export const SECRET_RETURNING_MUTATIONS: ReadonlySet<string> = new Set([
  'signIn',
  'verifyEmail',
  'refreshSession',
  'exchangeAuthenticationToken',
  'createUserAuthenticationToken',
  'createSenderAuthenticationToken',
  'createSignerAuthenticationToken',
  'createApiRegistration',
  'createOAuthClient',
  'createPartner',
]);

/**
 * Mutations whose request carries a password. A key's fingerprint (a fast SHA-256 of the variables) is kept with
 * it, which for a password would be a guessable hash of it: an `Idempotency-Key` on them is refused as well.
 */
export const PASSWORD_CARRYING_MUTATIONS: ReadonlySet<string> = new Set(['signUp', 'changePassword', 'changeEmail', 'resetPassword', 'deleteAccount']);

interface GraphQLParams {
  query?: string | null;
  variables?: unknown;
  operationName?: string | null;
}

/** yoga adds the Fetch request and the parsed parameters to the context of an operation it runs over HTTP. */
type HttpContext = Context & { request?: Request; params?: GraphQLParams };

/** The root fields an operation selects, through fragments. */
function rootFieldNames(selectionSet: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, seen = new Set<string>()): string[] {
  const names: string[] = [];
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) names.push(selection.name.value);
    else if (selection.kind === Kind.INLINE_FRAGMENT) names.push(...rootFieldNames(selection.selectionSet, fragments, seen));
    else if (!seen.has(selection.name.value)) {
      seen.add(selection.name.value);
      const fragment = fragments.get(selection.name.value);
      if (fragment) names.push(...rootFieldNames(fragment.selectionSet, fragments, seen));
    }
  }
  return names;
}

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  return fragments;
}

/** An AppError that answers the whole request with its own status (400, 409, 422), not a 200 beside data. */
function requestError(error: AppError): GraphQLError {
  return new GraphQLError(error.message, { extensions: { ...error.toExtensions(), http: httpExtension(error) } });
}

interface StoredError {
  message: string;
  positions?: readonly number[];
  path?: ReadonlyArray<string | number>;
  extensions?: Record<string, unknown>;
}

interface StoredResult {
  data?: unknown;
  errors?: StoredError[];
  extensions?: Record<string, unknown>;
}

type HttpExtension = { status?: unknown };

/** The status yoga will answer for a result: the highest `extensions.http.status`, else 200 (500 with no data). */
function statusOf(result: ExecutionResult): number {
  let status = Number((result.extensions?.http as HttpExtension | undefined)?.status) || 0;
  for (const error of result.errors ?? []) {
    const errorStatus = Number((error.extensions?.http as HttpExtension | undefined)?.status) || 0;
    if (errorStatus > status) status = errorStatus;
  }
  if (status) return status;
  return 'data' in result ? 200 : 500;
}

/**
 * The (masked) execution result as stored: errors keep their `extensions` (with `http`, so a replay answers the
 * same status) and their positions in the query, which a replay maps back onto the same query text.
 */
function toStoredResponse(result: ExecutionResult): StoredResponse {
  const stored: StoredResult = {
    ...('data' in result ? { data: result.data } : {}),
    ...(result.errors
      ? {
          errors: result.errors.map((error) => ({
            message: error.message,
            ...(error.positions ? { positions: error.positions } : {}),
            ...(error.path ? { path: error.path } : {}),
            ...(Object.keys(error.extensions).length ? { extensions: error.extensions } : {}),
          })),
        }
      : {}),
    ...(result.extensions ? { extensions: result.extensions } : {}),
  };
  return { status: statusOf(result), headers: { 'content-type': 'application/json' }, body: JSON.stringify(stored) };
}

function fromStoredResponse(response: StoredResponse, query: string): ExecutionResult {
  const stored = JSON.parse(response.body) as StoredResult;
  const source = new Source(query);
  return {
    ...('data' in stored ? { data: stored.data as ExecutionResult['data'] } : {}),
    ...(stored.errors
      ? {
          errors: stored.errors.map(
            (error) => new GraphQLError(error.message, { source: error.positions ? source : undefined, positions: error.positions, path: error.path, extensions: error.extensions }),
          ),
        }
      : {}),
    ...(stored.extensions ? { extensions: stored.extensions } : {}),
  };
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The first run of a key: the answer to store once yoga has it (masked), and the store's run to wait for. */
interface PendingRun {
  answer: Deferred<StoredResponse>;
  run: Promise<unknown>;
}

/**
 * `Idempotency-Key` on GraphQL mutations sent over HTTP POST, through `store.run`. Queries and subscriptions
 * ignore the header; so do operations not sent to /graphql (REST routes and WebSocket operations run through
 * `getEnveloped`, which never calls `onParams`: REST routes apply the store themselves).
 *
 * The first request claims the key before execution and stores the execution result after masking, with the
 * status yoga answers for it; a replay answers that result without executing anything, with
 * `Idempotent-Replayed: true`. Refused with 400 before execution: a malformed key (INVALID_IDEMPOTENCY_KEY), a
 * mutation that returns secrets or a caller who is not signed in (IDEMPOTENCY_NOT_SUPPORTED).
 */
export function useIdempotency(store: IdempotencyStore): Plugin {
  const sentOverHttp = new WeakSet<Request>();
  const pending = new WeakMap<Request, PendingRun>();
  const replayed = new WeakSet<Request>();

  /** Hands the first run its answer (or its failure) and waits until the store has kept or released the key. */
  async function settle(request: Request, outcome: { result: ExecutionResult } | { error: unknown }): Promise<void> {
    const run = pending.get(request);
    if (!run) return;
    pending.delete(request);
    if ('result' in outcome) {
      const { result } = outcome;
      // An aborted request answers nothing at all: not an answer to keep.
      if (!('data' in result) && !result.errors?.length) run.answer.reject(new Error('The operation produced no answer'));
      else run.answer.resolve(toStoredResponse(result));
    } else {
      run.answer.reject(outcome.error);
    }
    await run.run.catch(() => undefined);
  }

  return {
    onParams({ request }) {
      if (request.method === 'POST' && request.headers.has(IDEMPOTENCY_KEY_HEADER)) sentOverHttp.add(request);
    },
    async onExecute({ args, setResultAndStopExecution }) {
      const context = args.contextValue as unknown as HttpContext;
      const request = context.request;
      if (!request || !sentOverHttp.has(request)) return;
      const operation = getOperationAST(args.document, args.operationName);
      if (operation?.operation !== 'mutation') return;
      try {
        const key = readIdempotencyKey(request.headers.get(IDEMPOTENCY_KEY_HEADER));
        if (key === undefined) return;
        const roots = rootFieldNames(operation.selectionSet, fragmentsOf(args.document));
        const secret = roots.find((name) => SECRET_RETURNING_MUTATIONS.has(name));
        if (secret) throw idempotencyNotSupported(`are not supported on ${secret}, whose answer carries secrets that are never stored`);
        const password = roots.find((name) => PASSWORD_CARRYING_MUTATIONS.has(name));
        if (password) throw idempotencyNotSupported(`are not supported on ${password}, whose request carries a password that is never stored`);
        const scope = idempotencyScope(context.viewer);
        const params = context.params ?? {};
        const answer = deferred<StoredResponse>();
        let started!: () => void;
        const producing = new Promise<'produce'>((resolve) => {
          started = () => resolve('produce');
        });
        const run = store.run({ scope, key, fingerprint: graphqlFingerprint(params) }, () => {
          started();
          return answer.promise;
        });
        // Handled by whoever reads it; never an unhandled rejection while execution runs.
        run.catch(() => undefined);
        const first = await Promise.race([producing, run]);
        if (first === 'produce') {
          pending.set(request, { answer, run });
          return;
        }
        replayed.add(request);
        setResultAndStopExecution(fromStoredResponse(first.response, params.query ?? ''));
      } catch (error) {
        const appError = toAppError(error);
        // Unexpected failures (the database) go to the masker as they are, to be logged and answered there.
        if (appError.code === 'INTERNAL' || appError.code === 'DATABASE_UNAVAILABLE') throw error;
        throw requestError(appError);
      }
    },
    async onExecutionResult({ request, result }) {
      if (pending.has(request)) await settle(request, { result: result as ExecutionResult });
    },
    async onResponse({ request, response }) {
      // Nothing else should reach here with a run still pending; if it does, the key is released, not left running.
      if (pending.has(request)) await settle(request, { error: new Error('The operation ended without a result') });
      if (replayed.has(request)) response.headers.set(IDEMPOTENT_REPLAYED_HEADER, 'true');
    },
  };
}
