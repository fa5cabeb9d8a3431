import { GraphQLError, Kind, visit, type ArgumentNode, type ASTVisitor, type DocumentNode, type ValidationContext } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { MAX_PAGE_SIZE } from './connections.ts';

/** `first` or `last` written into the operation with a value over the largest page. */
function oversizedPages(document: DocumentNode): Array<{ argument: string; node: ArgumentNode }> {
  const found: Array<{ argument: string; node: ArgumentNode }> = [];
  visit(document, {
    Argument(node) {
      if ((node.name.value === 'first' || node.name.value === 'last') && node.value.kind === Kind.INT && Number(node.value.value) > MAX_PAGE_SIZE) {
        found.push({ argument: node.name.value, node });
      }
    },
  });
  return found;
}

/** Whether the cost limit should leave this document to the page-size rule, which explains the problem better. */
export function hasOversizedPage(document: DocumentNode): boolean {
  return oversizedPages(document).length > 0;
}

/**
 * A page over MAX_PAGE_SIZE written into the operation (`first: 1000`) is refused while validating, as
 * BAD_USER_INPUT with `field` and reason PAGE_TOO_LARGE, the answer the connection gives the same size in a
 * variable. Without this rule the cost limit, which multiplies literal page sizes, would refuse it first with a
 * less useful message. Only connection arguments are named `first` and `last` in this schema.
 */
export function pageSizeRule(context: ValidationContext): ASTVisitor {
  return {
    Document(document) {
      for (const { argument, node } of oversizedPages(document)) {
        context.reportError(
          new GraphQLError(`${argument} can be at most ${MAX_PAGE_SIZE}.`, { nodes: [node], extensions: { code: 'BAD_USER_INPUT', field: argument, reason: 'PAGE_TOO_LARGE' } }),
        );
      }
    },
  };
}

export function usePageSizeLimit(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(pageSizeRule);
    },
  };
}
