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

/** Told when an account's sessions were ended at once (the account disabled): live streams are checked then, not on the next tick. */
export interface SessionsEndedEvent {
  userId: string;
}

export type Topics = { activity: [ActivityEvent]; sessionsEnded: [SessionsEndedEvent] };

export interface EventBus {
  pubSub: PubSub<Topics>;
  /** Subscribers listening on this instance (on Redis too): for tests and diagnostics. */
  listeners(): number;
  close(): Promise<void>;
}

/**
 * An event target whose topics are channels under `<namespace>:`: the Redis event target uses the topic name as
 * the channel, and deployments sharing one Redis must not hear each other's events.
 */
function namespacedEventTarget(inner: EventTarget, namespace: string): EventTarget & { listeners(): number } {
  const channel = (topic: string) => `${namespace}:${topic}`;
  // The listeners on this instance, counted as the event target keeps them (once per listener and topic).
  const listening = new Map<string, Set<EventListenerOrEventListenerObject>>();
  const of = (topic: string) => listening.get(topic) ?? listening.set(topic, new Set()).get(topic)!;
  return {
    addEventListener: (topic: string, listener: EventListenerOrEventListenerObject | null, options?: AddEventListenerOptions | boolean) => {
      if (listener) of(topic).add(listener);
      inner.addEventListener(channel(topic), listener, options);
    },
    removeEventListener: (topic: string, listener: EventListenerOrEventListenerObject | null, options?: EventListenerOptions | boolean) => {
      if (listener) of(topic).delete(listener);
      inner.removeEventListener(channel(topic), listener, options);
    },
    dispatchEvent: (event: Event) => inner.dispatchEvent(new CustomEvent(channel(event.type), { detail: (event as CustomEvent).detail })),
    listeners: () => of('activity').size,
  };
}

/**
 * One typed pub/sub for every subscription. In-process by default; with REDIS_URL, graphql-yoga's Redis event
 * target, so an event published on one instance reaches subscribers on all of them. Resolvers never know which.
 * On Redis, channels are prefixed with REDIS_NAMESPACE (`<namespace>:activity`).
 */
export function createEventBus(options: { redisUrl: string | undefined; namespace: string; logger: Logger }): EventBus {
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
  // The Redis event target fires SUBSCRIBE, UNSUBSCRIBE and PUBLISH without awaiting them: their failures (a lost
  // connection; listeners that unsubscribe while the bus closes) are logged here instead of going unhandled.
  let closing = false;
  const handled = (command: string) => (error: unknown) => {
    if (!closing) options.logger.warn({ err: error, command }, 'redis pub/sub command failed');
  };
  const subscriber = {
    on: (event: 'message', listener: (channel: string, message: string) => void) => subscribeClient.on(event, listener),
    subscribe: (channel: string) => subscribeClient.subscribe(channel).catch(handled('subscribe')),
    unsubscribe: (channel: string) => subscribeClient.unsubscribe(channel).catch(handled('unsubscribe')),
  };
  const publisher = { publish: (channel: string, message: string) => publishClient.publish(channel, message).catch(handled('publish')) };
  const redisTarget = createRedisEventTarget<CustomEvent<ActivityEvent>>({ publishClient: publisher as never, subscribeClient: subscriber as never });
  const eventTarget = namespacedEventTarget(redisTarget as unknown as EventTarget, options.namespace);
  return {
    pubSub: createPubSub<Topics>({ eventTarget: eventTarget as never }),
    listeners: () => eventTarget.listeners(),
    async close() {
      closing = true;
      await Promise.allSettled([publishClient.quit(), subscribeClient.quit()]);
    },
  };
}
