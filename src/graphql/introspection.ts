import { NoSchemaIntrospectionCustomRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';

/**
 * Refuses `__schema` and `__type` at validation, on every transport. Yoga's own plugin decides per HTTP request
 * in a request-parsing hook, which operations over graphql-ws never pass through, so it left WebSockets open.
 */
export function useNoIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}
