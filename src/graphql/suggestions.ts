import { GraphQLError } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

/** graphql-js's `didYouMean` phrase, the only place its messages name parts of the schema the client did not. */
const SUGGESTION = /\s*Did you mean [^?]{0,2000}\?/;
const EVERY_SUGGESTION = new RegExp(SUGGESTION.source, 'g');

export function withoutSuggestions(message: string): string {
  return message.replace(EVERY_SUGGESTION, '');
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
  const strip = <E extends Error>(errors: readonly E[] | undefined) => (errors?.some((e) => SUGGESTION.test(e.message)) ? errors.map(stripped) : undefined);
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

