import SchemaBuilder, { BasePlugin, type PothosOutputFieldConfig, type PothosOutputFieldType, type SchemaTypes } from '@pothos/core';
import type { GraphQLFieldResolver } from 'graphql';
import type { Context } from '../../graphql/context.ts';
import { isOwnSlot, notForSignersError, READS_ON_ITS_OWN, SIGNER_ENTRY_TYPES, SIGNER_VISIBLE_FIELDS } from './signing.policy.ts';

/**
 * Enforces SIGNER_VISIBLE_FIELDS (signing.policy.ts) on every field of every object type, so no field can be
 * forgotten: each object remembers how it was reached (with the viewer's full read, or only as a signer), and a
 * field of an object the viewer sees only as a signer resolves only if the policy lists it. The check runs after
 * scope-auth's (so its refusals keep their reasons) and before the field's own resolver and Prisma loading.
 */

/** How an object was reached: from the root or a record the viewer reads whole ('full'), or only as a signer. */
type Reach = 'full' | 'signer';
/** What the viewer sees of one object: all of it, or these fields. */
type View = 'all' | ReadonlySet<string>;

interface RequestState {
  reachedAs: WeakMap<object, Reach>;
  views: WeakMap<object, View | Promise<View>>;
}

// Keyed by the request's context, so nothing outlives the request or crosses to another viewer.
const requestStates = new WeakMap<object, RequestState>();

function stateOf(context: object): RequestState {
  let state = requestStates.get(context);
  if (!state) {
    state = { reachedAs: new WeakMap(), views: new WeakMap() };
    requestStates.set(context, state);
  }
  return state;
}

const NOTHING: ReadonlySet<string> = new Set();
const visibleFields = new Map(
  Object.entries(SIGNER_VISIBLE_FIELDS).map(([typeName, entry]) => [
    typeName,
    { fields: new Set(entry.fields) as ReadonlySet<string>, ownSlot: entry.ownSlotFields ? (new Set([...entry.fields, ...entry.ownSlotFields]) as ReadonlySet<string>) : null },
  ]),
);

async function signerView(context: Context, typeName: string, row: Record<string, unknown>): Promise<View> {
  const viewer = context.viewer!;
  const readsOnItsOwn = READS_ON_ITS_OWN[typeName];
  if (readsOnItsOwn && (await readsOnItsOwn(viewer, row))) return 'all';
  const visible = visibleFields.get(typeName);
  if (!visible) return NOTHING;
  if (visible.ownSlot && (await isOwnSlot(context.services.db, viewer, row))) return visible.ownSlot;
  return visible.fields;
}

function viewOf(context: Context, typeName: string, row: object): View | Promise<View> {
  const state = stateOf(context);
  const known = state.views.get(row);
  if (known) return known;
  // A record a signer meets the lender through is judged on its own, however it was reached; every other object
  // is seen as the record it was reached through.
  if (!context.viewer || (!SIGNER_ENTRY_TYPES.has(typeName) && state.reachedAs.get(row) !== 'signer')) {
    state.views.set(row, 'all');
    return 'all';
  }
  const view = signerView(context, typeName, row as Record<string, unknown>);
  state.views.set(row, view);
  return view;
}

const isThenable = (value: unknown): value is PromiseLike<unknown> =>
  value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';

/** Records how each object in a field's result was reached; a signer's reach wins over a full one. */
function markReached(state: RequestState, value: unknown, reach: Reach): unknown {
  if (isThenable(value)) return Promise.resolve(value).then((resolved) => markReached(state, resolved, reach));
  if (Array.isArray(value)) return value.some(isThenable) ? value.map((item) => markReached(state, item, reach)) : (value.forEach((item) => markReached(state, item, reach)), value);
  if (value !== null && typeof value === 'object' && (reach === 'signer' || !state.reachedAs.has(value))) state.reachedAs.set(value, reach);
  return value;
}

function returnsObjects(type: PothosOutputFieldType<SchemaTypes>): boolean {
  return type.kind === 'List' ? returnsObjects(type.type) : type.kind === 'Object' || type.kind === 'Interface' || type.kind === 'Union';
}

export class SignerVisibilityPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  override wrapResolve(
    resolver: GraphQLFieldResolver<unknown, Types['Context'], object>,
    fieldConfig: PothosOutputFieldConfig<Types>,
  ): GraphQLFieldResolver<unknown, Types['Context'], object> {
    const parentKind = this.buildCache.getTypeConfig(fieldConfig.parentType).kind;
    if (parentKind !== 'Object' && parentKind !== 'Interface') return resolver;
    const typeName = fieldConfig.parentType;
    const fieldName = fieldConfig.name;
    const nullable = fieldConfig.type.nullable;
    const objects = returnsObjects(fieldConfig.type as PothosOutputFieldType<SchemaTypes>);
    return (parent, args, context, info) => {
      if (parent === null || typeof parent !== 'object') return resolver(parent, args, context, info);
      const ctx = context as Context;
      const resolveWith = (view: View) => {
        if (view !== 'all' && !view.has(fieldName)) {
          if (nullable) return null;
          throw notForSignersError(typeName, fieldName);
        }
        const result = resolver(parent, args, context, info);
        return objects ? markReached(stateOf(ctx), result, view === 'all' ? 'full' : 'signer') : result;
      };
      const view = viewOf(ctx, typeName, parent);
      return view instanceof Promise ? view.then(resolveWith) : resolveWith(view);
    };
  }
}

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      signerVisibility: SignerVisibilityPlugin<Types>;
    }
  }
}

const pluginName = 'signerVisibility';
// Re-evaluating this module (a test runner reusing a process) must replace the plugin, not keep a copy bound to
// the previous evaluation's modules; other plugins keep Pothos's guard against registering twice.
const allowReRegistration = SchemaBuilder.allowPluginReRegistration;
SchemaBuilder.allowPluginReRegistration = true;
SchemaBuilder.registerPlugin(pluginName, SignerVisibilityPlugin);
SchemaBuilder.allowPluginReRegistration = allowReRegistration;

export default pluginName;
