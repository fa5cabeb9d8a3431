import { createGraphQLError, type Plugin } from 'graphql-yoga';

/**
 * Yoga answers its own validation errors with 400, but errors from added validation rules (the abuse limits of
 * GraphQL Armor) would go out as 200 with no code. This gives every validation error the same status and code.
 */
export function useValidationErrorStatus(): Plugin {
  return {
    onValidate() {
      return ({ valid, result, setResult }) => {
        if (valid) return;
        setResult(
          result.map((error) =>
            createGraphQLError(error.message, {
              nodes: error.nodes,
              source: error.source,
              positions: error.positions,
              extensions: { code: 'GRAPHQL_VALIDATION_FAILED', ...error.extensions, http: { status: 400 } },
            }),
          ),
        );
      };
    },
  };
}
