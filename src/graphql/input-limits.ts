import { Kind, visit, type ASTNode, type DocumentNode, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { AppError } from '../lib/errors.ts';
import { matchesWithin } from '../lib/validate.ts';
import { toGraphQLError } from './errors.ts';

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** A key as it may be shown in an error: a GraphQL name of sensible length, else `*` (keys are client-chosen). */
const shownKey = (key: string) => (matchesWithin(key, 64, GRAPHQL_NAME) ? key : '*');

/** The argument or input field a node sits in: `input.email` → `email`, `search: "..."` → `search`. */
function fieldOf(ancestors: ReadonlyArray<ASTNode | ReadonlyArray<ASTNode>>): string | undefined {
  const names: string[] = [];
  for (const ancestor of ancestors) {
    if (Array.isArray(ancestor) || !('kind' in ancestor)) continue;
    const node = ancestor as ASTNode;
    if (node.kind === Kind.VARIABLE_DEFINITION) return undefined;
    if (node.kind === Kind.ARGUMENT) names.length = 0;
    if (node.kind === Kind.ARGUMENT || node.kind === Kind.OBJECT_FIELD) names.push(node.name.value);
  }
  if (names.length === 0) return undefined;
  return names.length > 1 ? names.slice(1).join('.') : names[0];
}

/** The first string longer than `max` written inline in the document, and the field it is for. */
function overlongLiteral(document: DocumentNode, max: number): { field: string } | undefined {
  let found: { field: string } | undefined;
  visit(document, {
    StringValue(node, _key, parent, _path, ancestors) {
      if (found || node.value.length <= max) return;
      found = { field: fieldOf([...ancestors, ...(parent ? [parent as ASTNode] : [])]) ?? 'value' };
    },
  });
  return found;
}

/** For each variable, the argument or input field it fills (first use), to name the field at fault. */
function variableFields(document: DocumentNode): Map<string, string> {
  const fields = new Map<string, string>();
  visit(document, {
    Variable(node, _key, parent, _path, ancestors) {
      const field = fieldOf([...ancestors, ...(parent ? [parent as ASTNode] : [])]);
      if (field && !fields.has(node.name.value)) fields.set(node.name.value, field);
    },
  });
  return fields;
}

/**
 * The first string (or object key) longer than `max` anywhere in the variables, as sent: before coercion, so no
 * scalar parser or resolver has seen it. Walked with an explicit stack, so deep nesting cannot overflow the call stack.
 */
function overlongVariable(variables: unknown, max: number, document: DocumentNode): { field: string } | undefined {
  if (!variables || typeof variables !== 'object') return undefined;
  let usages: Map<string, string> | undefined;
  const stack: Array<{ value: unknown; path: string[] }> = Object.entries(variables).map(([name, value]) => ({ value, path: [name] }));
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value, path } = item;
    const tooLong = typeof value === 'string' && value.length > max;
    const badKey = !tooLong && value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).some((key) => key.length > max);
    if (tooLong || badKey) {
      const [variable = '', ...inside] = path;
      usages ??= variableFields(document);
      const field = inside.length > 0 ? inside.map(shownKey).join('.') : (usages.get(variable) ?? shownKey(variable));
      return { field };
    }
    if (Array.isArray(value)) for (const entry of value) stack.push({ value: entry, path });
    else if (value !== null && typeof value === 'object') for (const [key, entry] of Object.entries(value)) stack.push({ value: entry, path: [...path, key] });
  }
  return undefined;
}

function refusal(field: string, max: number): ExecutionResult {
  const error = new AppError('BAD_USER_INPUT', `${field} must be at most ${max} characters.`, { field, reason: 'TOO_LONG' });
  return { errors: [toGraphQLError(error)] };
}

/**
 * Refuses an operation carrying any string longer than `maxLength` (GRAPHQL_MAX_STRING_LENGTH), inline or in its
 * variables, before variables are coerced and before any resolver, validator or pattern reads it. Field validators
 * have their own, tighter caps; this one bounds everything else (passwords, tokens, ids, cursors, custom scalars)
 * on every transport: HTTP, server-sent events and WebSocket.
 */
export function useInputLengthLimit(maxLength: number): Plugin {
  // Yoga reuses the parsed document of a repeated query, so its literals are walked once.
  const literals = new WeakMap<DocumentNode, { field: string } | null>();
  const check = (document: DocumentNode, variables: unknown) => {
    let literal = literals.get(document);
    if (literal === undefined) literals.set(document, (literal = overlongLiteral(document, maxLength) ?? null));
    const found = literal ?? overlongVariable(variables, maxLength, document);
    return found ? refusal(found.field, maxLength) : undefined;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refused = check(args.document, args.variableValues);
      if (refused) setResultAndStopExecution(refused);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = check(args.document, args.variableValues);
      if (refused) setResultAndStopExecution(refused);
    },
  };
}
