import { createGraphQLError, type Plugin } from 'graphql-yoga';

export const CSRF_HEADER = 'x-safeclose-csrf';

const SIMPLE_CONTENT_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

/**
 * Browsers attach cookies to cross-site "simple" requests (GET, or POST with a form or text body) without a CORS
 * preflight. A request that carries a cookie must therefore either be preflighted (a JSON or GraphQL content
 * type) or carry the custom `x-safeclose-csrf` header, which no cross-site page can set without a preflight.
 * Bearer-token requests are not at risk, since browsers never attach those on their own. A form that another site
 * posts needs no cookie to do harm: `signIn` or `exchangeAuthenticationToken` with the attacker's credentials would
 * set the session cookies and sign the visitor in as the attacker (login CSRF). So a simple POST that the browser
 * says comes from another site (`Sec-Fetch-Site`) is held to the same rule, cookie or not.
 */
export function useCsrfPrevention(): Plugin {
  return {
    onRequestParse({ request }) {
      const contentType = request.headers.get('content-type')?.toLowerCase();
      const preflighted = request.method !== 'GET' && contentType !== undefined && !SIMPLE_CONTENT_TYPES.some((t) => contentType.startsWith(t));
      const site = request.headers.get('sec-fetch-site');
      const crossSitePost = request.method === 'POST' && (site === 'cross-site' || site === 'same-site');
      if (!request.headers.has('cookie') && !crossSitePost) return;
      if (preflighted || request.headers.has(CSRF_HEADER)) return;
      throw createGraphQLError(`Requests that carry cookies must send the ${CSRF_HEADER} header.`, {
        extensions: { code: 'FORBIDDEN', reason: 'CSRF', http: { status: 403 } },
      });
    },
  };
}
