import type { Context } from '../graphql/context.ts';
import type { ActivityEvent } from './event-bus.ts';

/**
 * The activity events one subscriber may receive: those matching `filter`, each authorized afresh when it is
 * delivered (`authorize` reads the database), so a member removed from an organization stops hearing it at once.
 */
export async function* authorizedActivity(
  context: Context,
  filter: (event: ActivityEvent) => boolean,
  authorize: (event: ActivityEvent) => Promise<boolean>,
): AsyncGenerator<ActivityEvent> {
  for await (const event of context.services.events.pubSub.subscribe('activity')) {
    if (filter(event) && (await authorize(event))) yield event;
  }
}
