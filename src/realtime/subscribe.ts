import { Repeater } from 'graphql-yoga';
import type { Context } from '../graphql/context.ts';
import type { ActivityEvent } from './event-bus.ts';

/**
 * The activity events one subscriber may receive: those matching `filter`, each authorized afresh when it is
 * delivered (`authorize` reads the database), so a member removed from an organization stops hearing it at once.
 *
 * A Repeater rather than an async generator: a generator waiting for the next event cannot be returned until that
 * event arrives, so a subscriber who left (or a server shutting down) would keep its listener and its pending step
 * until the organization next had activity. Returning a Repeater settles the pending step and unsubscribes at once.
 */
export function authorizedActivity(
  context: Context,
  filter: (event: ActivityEvent) => boolean,
  authorize: (event: ActivityEvent) => Promise<boolean>,
): AsyncIterableIterator<ActivityEvent> {
  return new Repeater<ActivityEvent>(async (push, stop) => {
    const events = context.services.events.pubSub.subscribe('activity')[Symbol.asyncIterator]();
    const stopped = stop.then(() => ({ done: true as const, value: undefined }));
    try {
      for (;;) {
        const next = await Promise.race([events.next(), stopped]);
        if (next.done) break;
        if (filter(next.value) && (await authorize(next.value))) await push(next.value);
      }
      stop();
    } finally {
      await events.return?.();
    }
  });
}
