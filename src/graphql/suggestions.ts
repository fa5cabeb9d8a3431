import { GraphQLError } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/** graphql-js's `didYouMean` phrase, the only place its messages name parts of the schema the client did not. */
const SUGGESTION = 'Did you mean ';

/** The message without any "Did you mean …?" sentence (found by search, not a pattern: messages can be long). */
export function withoutSuggestions(message: string): string {
  let text = message;
  for (let start = text.indexOf(SUGGESTION); start !== -1; start = text.indexOf(SUGGESTION, start)) {
    const end = text.indexOf('?', start + SUGGESTION.length);
    text = `${text.slice(0, start).trimEnd()}${end === -1 ? '' : text.slice(end + 1)}`;
  }
  return text;
}

function stripped<E extends Error>(error: E): E | GraphQLError {
  if (!(error instanceof GraphQLError)) return error;
  const message = withoutSuggestions(error.message);
  if (message === error.message) return error;
  return createGraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError ?? undefined,
    extensions: error.extensions,
  });
}

/**
 * In production no answer suggests a name: unknown fields, arguments, types, enum values and input fields are
 * refused without "Did you mean …?", which would let a client walk a schema whose introspection is off. Armor's
 * `blockFieldSuggestion` covers fields only; this covers every validation and execution message.
 */
export function useNoSuggestions(): Plugin {
  const strip = <E extends Error>(errors: readonly E[] | undefined) => (errors?.some((e) => e.message.includes(SUGGESTION)) ? errors.map(stripped) : undefined);
  return {
    onValidate() {
      return ({ result, setResult }) => {
        const errors = strip(result);
        if (errors) setResult(errors);
      };
    },
    onExecute() {
      return {
        onExecuteDone({ result, setResult }) {
          if (!('errors' in result)) return;
          const errors = strip(result.errors);
          if (errors) setResult({ ...result, errors });
        },
      };
    },
    onSubscribe() {
      return {
        onSubscribeResult({ result, setResult }) {
          if (!('errors' in result)) return;
          const errors = strip(result.errors);
          if (errors) setResult({ ...result, errors });
        },
      };
    },
  };
}

