import { getEventListeners } from 'node:events';
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
import { createPubSub, type PubSub } from 'graphql-yoga';
import { Redis } from 'ioredis';
import type { Logger } from '../lib/logger.ts';

/** What subscribers hear: one row of the activity record, after its transaction committed. Never secrets. */
export interface ActivityEvent {
  id: string;
  seq: string;
  type: string;
  occurredAt: string;
  actorUserId: string | null;
  organizationId: string | null;
  documentId: string | null;
  packageId: string | null;
}

export type Topics = { activity: [ActivityEvent] };

export interface EventBus {
  pubSub: PubSub<Topics>;
  /** Subscribers listening on this instance, when the bus can tell (in-process only): for tests and diagnostics. */
  listeners(): number | undefined;
  close(): Promise<void>;
}

/**
 * One typed pub/sub for every subscription. In-process by default; with REDIS_URL, graphql-yoga's Redis event
 * target, so an event published on one instance reaches subscribers on all of them. Resolvers never know which.
 */
export function createEventBus(options: { redisUrl: string | undefined; logger: Logger }): EventBus {
  if (!options.redisUrl) {
    const eventTarget = new EventTarget();
    return {
      pubSub: createPubSub<Topics>({ eventTarget: eventTarget as never }),
      listeners: () => getEventListeners(eventTarget, 'activity').length,
      close: async () => {},
    };
  }
  const connect = () => {
    const client = new Redis(options.redisUrl!, { maxRetriesPerRequest: 2 });
    client.on('error', (error) => options.logger.warn({ err: error }, 'redis pub/sub connection error'));
    return client;
  };
  const publishClient = connect();
  const subscribeClient = connect();
  const eventTarget = createRedisEventTarget<CustomEvent<ActivityEvent>>({ publishClient, subscribeClient });
  return {
    pubSub: createPubSub<Topics>({ eventTarget: eventTarget as never }),
    listeners: () => undefined,
    async close() {
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  };
}
