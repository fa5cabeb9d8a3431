import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import {
  bindMigrationAwareSqlAdapterFactory,
  DriverAdapterError,
  type ErrorRegistry,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import * as bindings from '@prisma/schema-engine-wasm/schema_engine_bg';
import type { SchemaEngine, SchemaFilter } from '@prisma/schema-engine-wasm/schema_engine_bg';

export type { MigrationDirectory, MigrationList, SchemaEngine } from '@prisma/schema-engine-wasm/schema_engine_bg';

/** No tables or enums are managed outside Prisma here. */
export const NO_EXTERNAL_ENTITIES: SchemaFilter = { externalTables: [], externalEnums: [] };

/** An error reported by the schema engine, with Prisma's error code (e.g. P1012) when it gave one. */
export class SchemaEngineError extends Error {
  override name = 'SchemaEngineError';
  constructor(
    message: string,
    readonly code: string | undefined,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

const LOADED = Symbol.for('safeclose.schema-engine-wasm');
type Loaded = { [LOADED]?: Promise<void> };
type PanicRegistryHolder = { PRISMA_WASM_PANIC_REGISTRY?: { set_message(message: string): void } };

/**
 * The package entry imports the .wasm file as an ES module, which Node 20 cannot do, so the bindings are wired up by
 * hand. The bindings module keeps the instance (and cached views of its memory) in module state, so it must be
 * instantiated once per process: the promise lives on globalThis rather than in this module, which a test runner may
 * evaluate more than once while the package itself stays loaded.
 */
function loadBindings(): Promise<void> {
  const holder = globalThis as Loaded;
  holder[LOADED] ??= instantiate().catch((error: unknown) => {
    delete holder[LOADED];
    throw error;
  });
  return holder[LOADED];
}

async function instantiate(): Promise<void> {
  // A Rust panic reports its message here just before the engine traps (which no caller can catch, so the process
  // dies); without a registry the message is lost behind a TypeError about this global.
  (globalThis as PanicRegistryHolder).PRISMA_WASM_PANIC_REGISTRY ??= {
    set_message: (message) => process.emitWarning(message, 'SchemaEnginePanic'),
  };
  // The package does not export the .wasm path; it sits next to the bindings module.
  const bindingsPath = createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const bytes = await readFile(bindingsPath.replace(/\.js$/, '.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './schema_engine_bg.js': bindings });
  bindings.__wbg_set_wasm(instance.exports);
  (instance.exports.__wbindgen_start as () => void)();
}

/**
 * Runs `run` with a schema engine connected through `adapterFactory`, freeing it afterwards. Engine failures become a
 * SchemaEngineError whose message says what was being done.
 */
export async function withSchemaEngine<T>(
  adapterFactory: SqlMigrationAwareDriverAdapterFactory,
  operation: string,
  run: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  await loadBindings();
  const bound = bindMigrationAwareSqlAdapterFactory(adapterFactory);
  let engine: SchemaEngine | undefined;
  let failure: SchemaEngineError | undefined;
  try {
    // No initial datamodel: applyMigrations and diff take what they need as arguments. (An empty list, unlike
    // undefined, makes the engine panic.)
    engine = await bindings.SchemaEngine.new({ datamodels: undefined }, ignoreEngineLog, bound);
    return await run(engine);
  } catch (error) {
    failure = toSchemaEngineError(operation, error, bound.errorRegistry);
    throw failure;
  } finally {
    try {
      engine?.free();
    } catch (freeError) {
      // After a panic the engine cannot be freed; the error that led here is the one worth reporting.
      if (!failure) throw freeError;
    }
  }
}

/** The engine logs only its own start-up at the default level; failures come back as rejected promises instead. */
function ignoreEngineLog(): void {}

function toSchemaEngineError(operation: string, error: unknown, registry: ErrorRegistry): SchemaEngineError {
  const raw = error instanceof Error ? error.message : String(error);
  // Errors thrown by adapter code that are not database errors reach the engine only as an id in this registry.
  const resolved = raw.replace(/External error id#(\d+)/g, (text, id: string) => {
    const record = registry.consumeError(Number(id));
    return record ? messageOf(record.error) : text;
  });
  // The engine appends a span trace ("   0: module::function ..."); only the migration it names is worth keeping.
  const traceStart = resolved.search(/^\s+0: /m);
  const summary = (traceStart === -1 ? resolved : resolved.slice(0, traceStart)).trim();
  const migration = quotedAfter(resolved, 'migration_name="');
  const where = migration ? ` (migration ${migration})` : '';
  const code = (error as { code?: unknown } | null)?.code;
  return new SchemaEngineError(`Could not ${operation}${where}: ${summary}`, typeof code === 'string' ? code : undefined, {
    cause: error,
  });
}

/** The text between `prefix` and the next double quote, if there is one (indexOf rather than a backtracking pattern). */
function quotedAfter(text: string, prefix: string): string | undefined {
  const start = text.indexOf(prefix);
  if (start === -1) return undefined;
  const end = text.indexOf('"', start + prefix.length);
  return end > start + prefix.length ? text.slice(start + prefix.length, end) : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Replaces a driver adapter's `executeScript`, which the engine uses to run migration files, by `runScript`.
 * Neither adapter runs a script the way `prisma migrate deploy` does: @prisma/adapter-pg splits it on every `;`
 * (breaking on semicolons inside literals, and losing the single implicit transaction of a multi-statement query),
 * and pglite-prisma-adapter does not await it, so a failing migration is recorded as applied and its error becomes
 * an unhandled rejection. `runScript` should send the whole script as one simple query.
 */
export function withScriptRunner(adapter: SqlDriverAdapter, runScript: (script: string) => Promise<unknown>): SqlDriverAdapter {
  return {
    provider: adapter.provider,
    adapterName: adapter.adapterName,
    queryRaw: (query) => adapter.queryRaw(query),
    executeRaw: (query) => adapter.executeRaw(query),
    startTransaction: (isolationLevel) => adapter.startTransaction(isolationLevel),
    getConnectionInfo: adapter.getConnectionInfo?.bind(adapter),
    dispose: () => adapter.dispose(),
    async executeScript(script) {
      try {
        await runScript(script);
      } catch (error) {
        throw asDriverAdapterError(error);
      }
    },
  };
}

type PostgresError = Error & { code: string; severity: string; detail?: string; column?: string; hint?: string };

function isPostgresError(error: unknown): error is PostgresError {
  const e = error as Partial<PostgresError> | null;
  return error instanceof Error && typeof e?.code === 'string' && typeof e.severity === 'string';
}

/**
 * A database error the engine recognises is rendered by it (e.g. "No such table: nope") and stored in the failed
 * migration's `logs`; anything else would appear there only as "External error id#N".
 */
function asDriverAdapterError(error: unknown): unknown {
  if (!isPostgresError(error)) return error;
  return new DriverAdapterError({
    kind: 'postgres',
    code: error.code,
    severity: error.severity,
    message: error.message,
    detail: error.detail,
    column: error.column,
    hint: error.hint,
    originalCode: error.code,
    originalMessage: error.message,
  });
}
