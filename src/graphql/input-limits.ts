import { Kind, visit, type ASTNode, type DocumentNode, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { hasDisallowedControl } from '../lib/control-characters.ts';
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

type Fault = 'TOO_LONG' | 'CONTROL_CHARACTERS';

function faultOf(text: string, max: number): Fault | undefined {
  if (text.length > max) return 'TOO_LONG';
  return hasDisallowedControl(text) ? 'CONTROL_CHARACTERS' : undefined;
}

/** The first string written inline in the document that is longer than `max` or carries a disallowed control. */
function faultyLiteral(document: DocumentNode, max: number): { field: string; fault: Fault } | undefined {
  let found: { field: string; fault: Fault } | undefined;
  visit(document, {
    StringValue(node, _key, parent, _path, ancestors) {
      const fault = found ? undefined : faultOf(node.value, max);
      if (!fault) return;
      found = { field: fieldOf([...ancestors, ...(parent ? [parent as ASTNode] : [])]) ?? 'value', fault };
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
 * The first string (or object key) anywhere in the variables that is longer than `max` or carries a disallowed
 * control character, as sent: before coercion, so no scalar parser, resolver or database has seen it. Walked with
 * an explicit stack, so deep nesting cannot overflow the call stack.
 */
function faultyVariable(variables: unknown, max: number, document: DocumentNode): { field: string; fault: Fault } | undefined {
  if (!variables || typeof variables !== 'object') return undefined;
  let usages: Map<string, string> | undefined;
  const stack: Array<{ value: unknown; path: string[] }> = Object.entries(variables).map(([name, value]) => ({ value, path: [name] }));
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value, path } = item;
    const isObject = value !== null && typeof value === 'object' && !Array.isArray(value);
    let fault = typeof value === 'string' ? faultOf(value, max) : undefined;
    if (!fault && isObject) {
      for (const key of Object.keys(value)) {
        fault = faultOf(key, max);
        if (fault) break;
      }
    }
    if (fault) {
      const [variable = '', ...inside] = path;
      usages ??= variableFields(document);
      const field = inside.length > 0 ? inside.map(shownKey).join('.') : (usages.get(variable) ?? shownKey(variable));
      return { field, fault };
    }
    if (Array.isArray(value)) for (const entry of value) stack.push({ value: entry, path });
    else if (isObject) for (const [key, entry] of Object.entries(value)) stack.push({ value: entry, path: [...path, key] });
  }
  return undefined;
}

function refusal(found: { field: string; fault: Fault }, max: number): ExecutionResult {
  const { field, fault } = found;
  const error =
    fault === 'TOO_LONG'
      ? new AppError('BAD_USER_INPUT', `${field} must be at most ${max} characters.`, { field, reason: 'TOO_LONG' })
      : new AppError('BAD_USER_INPUT', `${field} must not contain control characters.`, { field, reason: 'CONTROL_CHARACTERS' });
  return { errors: [toGraphQLError(error)] };
}

/**
 * Refuses an operation carrying any string longer than `maxLength` (GRAPHQL_MAX_STRING_LENGTH), or any string with
 * NUL or another C0 control character but tab, line feed and carriage return, inline or in its variables, before
 * variables are coerced and before any resolver, validator, pattern or database reads it. Field validators have
 * their own, tighter rules; this one bounds everything else (passwords, emails, tokens, ids, cursors, custom
 * scalars) on every transport: HTTP, server-sent events and WebSocket.
 */
export function useInputLengthLimit(maxLength: number): Plugin {
  // Yoga reuses the parsed document of a repeated query, so its literals are walked once.
  const literals = new WeakMap<DocumentNode, { field: string; fault: Fault } | null>();
  const check = (document: DocumentNode, variables: unknown) => {
    let literal = literals.get(document);
    if (literal === undefined) literals.set(document, (literal = faultyLiteral(document, maxLength) ?? null));
    const found = literal ?? faultyVariable(variables, maxLength, document);
    return found ? refusal(found, maxLength) : undefined;
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
