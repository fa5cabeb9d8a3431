import type { ServerResponse } from 'node:http';
import type { Services } from '../graphql/context.ts';
import { observedRateLimiter, type RateLimitResult } from '../lib/rate-limit.ts';

export const RATE_LIMIT_HEADERS = ['RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'] as const;

/** The limit closest to refusing: the fewest hits left, and of those the one that resets last. */
function mostRestrictive(states: Iterable<RateLimitResult>): RateLimitResult | undefined {
  let chosen: RateLimitResult | undefined;
  for (const state of states) {
    if (!chosen || state.remaining < chosen.remaining || (state.remaining === chosen.remaining && state.resetAt > chosen.resetAt)) chosen = state;
  }
  return chosen;
}

/**
 * Services for one REST request whose rate limiter writes the `RateLimit-Limit`, `RateLimit-Remaining` and
 * `RateLimit-Reset` fields (draft-ietf-httpapi-ratelimit-headers, the separate-fields form; Reset in seconds) onto
 * the response, for the limit the request is closest to: every limit the request was checked or counted against, in
 * the state it was last seen. A request no limit looked at gets none. The fields are set on the response object
 * before it is written, so every answer of the endpoint carries them, the 429 included.
 */
export function withRateLimitHeaders(services: Services, res: ServerResponse): Services {
  const seen = new Map<string, RateLimitResult>();
  const rateLimiter = observedRateLimiter(services.rateLimiter, (key, state) => {
    if (state) seen.set(key, state);
    else seen.delete(key);
    if (res.headersSent) return;
    const shown = mostRestrictive(seen.values());
    if (!shown) {
      for (const name of RATE_LIMIT_HEADERS) res.removeHeader(name);
      return;
    }
    const resetSeconds = Math.max(0, Math.ceil((shown.resetAt.getTime() - services.clock.now().getTime()) / 1000));
    res.setHeader('RateLimit-Limit', String(shown.limit));
    res.setHeader('RateLimit-Remaining', String(shown.remaining));
    res.setHeader('RateLimit-Reset', String(resetSeconds));
  });
  return { ...services, rateLimiter };
}
