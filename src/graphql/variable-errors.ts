import {
  getOperationAST,
  GraphQLError,
  isEnumType,
  isInputObjectType,
  isInputType,
  isLeafType,
  isListType,
  isNonNullType,
  isSpecifiedScalarType,
  Kind,
  print,
  typeFromAST,
  type DocumentNode,
  type ExecutionResult,
  type GraphQLInputType,
  type GraphQLLeafType,
  type GraphQLSchema,
  type VariableDefinitionNode,
} from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';
import { AppError } from '../lib/errors.ts';
import { toGraphQLError } from './errors.ts';

/**
 * graphql-js explains a variable that fails coercion by quoting it: `Variable "$i" got invalid value { email: …,
 * password: "…" }`, `String cannot represent a non string value: …`, `Value "…" does not exist in … enum`. Those
 * messages reach the client and, since the masker sees them as errors, the log. This plugin replaces every
 * variable error of an execute or subscribe result, before masking, on every transport, with one that names the
 * variable path and the expected type, never the value: BAD_USER_INPUT with `extensions.field` set to the path.
 *
 * The replacement is worked out again from the schema and the variables, rather than by editing graphql-js's
 * messages, so no form of echo (including a custom scalar's own message) can slip through.
 *
 * Variables that are not even JSON fare the same: the JSON parser's message quotes the text around the fault, which
 * yoga passes on as `extensions.originalError` (a POST body) or lets out as an unexpected error, logged and answered
 * INTERNAL (the `variables` parameter of a GET or form request). Both become a plain 400 BAD_REQUEST.
 */
export function useSafeVariableErrors(options: { suggestions: boolean }): Plugin {
  const rewrite = (args: ExecutionArgsLike, result: ExecutionResult, setResult: (result: ExecutionResult) => void) => {
    const errors = result.errors;
    if (!errors?.some((error) => variableDefinitionOf(error))) return;
    setResult({ ...result, errors: safeVariableErrors(args, errors, options.suggestions) });
  };
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      // Runs after yoga's own hooks have chosen the parser for this request's method and content type.
      if (!requestParser) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          throw unreadableRequest(error) ?? error;
        }
      });
    },
    onExecute({ args }) {
      return {
        onExecuteDone({ result, setResult }) {
          if (isExecutionResult(result)) rewrite(args, result, setResult);
        },
      };
    },
    onSubscribe({ args }) {
      return {
        onSubscribeResult({ result, setResult }) {
          if (isExecutionResult(result)) rewrite(args, result, setResult);
        },
      };
    },
  };
}

/** A request whose JSON cannot be read, told without any of its text; undefined for any other failure. */
function unreadableRequest(error: unknown): GraphQLError | undefined {
  const extensions = { code: 'BAD_REQUEST', http: { status: 400 } };
  if (error instanceof SyntaxError) {
    return createGraphQLError('The "variables" or "extensions" parameter is not valid JSON.', { extensions });
  }
  if (error instanceof GraphQLError && error.extensions.originalError) {
    return createGraphQLError(error.message, { extensions: { ...extensions, code: error.extensions.code ?? extensions.code } });
  }
  return undefined;
}

interface ExecutionArgsLike {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Readonly<Record<string, unknown>> | null;
}

function isExecutionResult(result: unknown): result is ExecutionResult {
  return typeof result === 'object' && result !== null && !(Symbol.asyncIterator in result);
}

/** Errors about a variable carry its definition as their node; nothing else does. */
function variableDefinitionOf(error: GraphQLError): VariableDefinitionNode | undefined {
  const node = error.nodes?.[0];
  return node?.kind === Kind.VARIABLE_DEFINITION ? node : undefined;
}

/** Every problem above this count is dropped, as graphql-js stops at 50 variable errors. */
const MAX_PROBLEMS = 50;

function safeVariableErrors(args: ExecutionArgsLike, errors: readonly GraphQLError[], suggestions: boolean): GraphQLError[] {
  const operation = getOperationAST(args.document, args.operationName);
  const variables = args.variableValues ?? {};
  const explained = new Set<string>();
  const out: GraphQLError[] = [];
  for (const error of errors) {
    const definition = variableDefinitionOf(error);
    if (!definition) {
      out.push(error);
      continue;
    }
    const name = definition.variable.name.value;
    if (explained.has(name)) continue;
    explained.add(name);
    // The operation's own definition, so the type comes from the document that ran.
    const own = operation?.variableDefinitions?.find((d) => d.variable.name.value === name) ?? definition;
    const problems = explainVariable(args.schema, own, variables, suggestions);
    if (!problems.length) problems.push({ path: [name], message: 'it does not match its declared type.' });
    for (const problem of problems.slice(0, MAX_PROBLEMS)) {
      const field = printPath(problem.path);
      const where = problem.path.length > 1 ? ` at "${field}"` : '';
      const message = problem.whole ?? `Variable "$${name}" got an invalid value${where}: ${problem.message}`;
      out.push(toGraphQLError(new AppError('BAD_USER_INPUT', message, { field }), error));
    }
  }
  return out;
}

interface Problem {
  /** The variable's name, then field names and list indexes. */
  path: Array<string | number>;
  message: string;
  /** A complete message, for problems with the variable as a whole. */
  whole?: string;
}

function explainVariable(schema: GraphQLSchema, definition: VariableDefinitionNode, variables: Readonly<Record<string, unknown>>, suggestions: boolean): Problem[] {
  const name = definition.variable.name.value;
  const declared = print(definition.type);
  const type = typeFromAST(schema, definition.type);
  if (!type || !isInputType(type)) {
    return [{ path: [name], message: '', whole: `Variable "$${name}" has type "${declared}", which cannot be used as an input type.` }];
  }
  if (!Object.hasOwn(variables, name)) {
    if (isNonNullType(type) && !definition.defaultValue) {
      return [{ path: [name], message: '', whole: `Variable "$${name}" of required type "${declared}" was not provided.` }];
    }
    return [];
  }
  const value = variables[name];
  if (value === null && isNonNullType(type)) {
    return [{ path: [name], message: '', whole: `Variable "$${name}" of non-null type "${declared}" must not be null.` }];
  }
  const problems: Problem[] = [];
  explainValue(value, type, [name], problems, suggestions);
  return problems;
}

/** Walks the value as graphql-js coerces it, noting each place it fails, described without the value. */
function explainValue(value: unknown, type: GraphQLInputType, path: Array<string | number>, problems: Problem[], suggestions: boolean): void {
  if (problems.length >= MAX_PROBLEMS) return;
  if (isNonNullType(type)) {
    if (value === null || value === undefined) {
      problems.push({ path, message: `expected a value of type "${String(type)}", got null.` });
      return;
    }
    explainValue(value, type.ofType, path, problems, suggestions);
    return;
  }
  if (value === null || value === undefined) return;
  if (isListType(type)) {
    // A single value stands for a list of one.
    if (Array.isArray(value)) value.forEach((item, index) => explainValue(item, type.ofType, [...path, index], problems, suggestions));
    else explainValue(value, type.ofType, path, problems, suggestions);
    return;
  }
  if (isInputObjectType(type)) {
    if (typeof value !== 'object' || Array.isArray(value)) {
      problems.push({ path, message: `expected an object of type "${type.name}", got ${kindOf(value)}.` });
      return;
    }
    const fields = type.getFields();
    const record = value as Record<string, unknown>;
    for (const field of Object.values(fields)) {
      const fieldValue = record[field.name];
      if (fieldValue === undefined) {
        if (field.defaultValue === undefined && isNonNullType(field.type)) {
          problems.push({ path: [...path, field.name], message: `field "${field.name}" of required type "${String(field.type)}" was not provided.` });
        }
        continue;
      }
      explainValue(fieldValue, field.type, [...path, field.name], problems, suggestions);
    }
    for (const key of Object.keys(record)) {
      if (Object.hasOwn(fields, key)) continue;
      const known = suggestions ? ` Its fields are: ${Object.keys(fields).join(', ')}.` : '';
      // A key is shown only when it could be a field name; anything else may be data sent in the wrong place.
      problems.push(
        GRAPHQL_NAME.test(key)
          ? { path: [...path, key], message: `field "${key}" is not defined by type "${type.name}".${known}` }
          : { path, message: `it has a field that type "${type.name}" does not define (its name is not shown).${known}` },
      );
    }
    if (type.isOneOf) {
      const given = Object.keys(fields).filter((key) => record[key] !== undefined);
      if (given.length !== 1) problems.push({ path, message: `exactly one field must be given for OneOf type "${type.name}".` });
      else if (record[given[0]!] === null) problems.push({ path: [...path, given[0]!], message: `field "${given[0]}" must not be null.` });
    }
    return;
  }
  if (isLeafType(type) && !parses(type, value)) {
    problems.push({ path, message: `${expectation(type, suggestions)}, got ${kindOf(value)}.` });
  }
}

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

function parses(type: GraphQLLeafType, value: unknown): boolean {
  try {
    return type.parseValue(value) !== undefined;
  } catch {
    return false;
  }
}

const SPECIFIED_SCALARS: Record<string, string> = {
  String: 'a string',
  Int: 'a whole number from -2147483648 to 2147483647',
  Float: 'a finite number',
  Boolean: 'true or false',
  ID: 'a string or a whole number',
};

function expectation(type: GraphQLLeafType, suggestions: boolean): string {
  if (isEnumType(type)) {
    const values = type.getValues().map((v) => v.name);
    return `expected one of the values of enum "${type.name}"${suggestions ? ` (${values.slice(0, 20).join(', ')}${values.length > 20 ? ', …' : ''})` : ''}`;
  }
  const gist = isSpecifiedScalarType(type) ? SPECIFIED_SCALARS[type.name] : firstSentence(type.description);
  return `expected type "${type.name}"${gist ? ` (${gist})` : ''}`;
}

/** A custom scalar describes itself in the schema; its first sentence says what it takes. */
function firstSentence(description: string | null | undefined): string | undefined {
  const text = description?.trim();
  if (!text) return undefined;
  const end = text.search(/\.(\s|$)/);
  return end === -1 ? text : text.slice(0, end);
}

/** What kind of value was sent, which says what went wrong without repeating it. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return Number.isInteger(value) ? 'a whole number' : 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'an object';
    default:
      return `a value of type ${typeof value}`;
  }
}

function printPath(path: ReadonlyArray<string | number>): string {
  return path.map((segment, index) => (typeof segment === 'number' ? `[${segment}]` : index === 0 ? segment : `.${segment}`)).join('');
}
