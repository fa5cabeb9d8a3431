import { createGraphQLError, type Plugin } from 'graphql-yoga';

export const CSRF_HEADER = 'x-safeclose-csrf';

const SIMPLE_CONTENT_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

/**
 * Browsers attach cookies to cross-site "simple" requests (GET, or POST with a form or text body) without a CORS
 * preflight. A request that carries a cookie must therefore either be preflighted (a JSON or GraphQL content
 * type) or carry the custom `x-safeclose-csrf` header, which no cross-site page can set without a preflight.
 * Bearer-token requests are not at risk, since browsers never attach those on their own.
 */
export function useCsrfPrevention(): Plugin {
  return {
    onRequestParse({ request }) {
      if (!request.headers.has('cookie')) return;
      const contentType = request.headers.get('content-type')?.toLowerCase();
      const preflighted = request.method !== 'GET' && contentType !== undefined && !SIMPLE_CONTENT_TYPES.some((t) => contentType.startsWith(t));
      if (preflighted || request.headers.has(CSRF_HEADER)) return;
      throw createGraphQLError(`Requests that carry cookies must send the ${CSRF_HEADER} header.`, {
        extensions: { code: 'FORBIDDEN', reason: 'CSRF', http: { status: 403 } },
      });
    },
  };
}
