import type { Config } from '../config.ts';
import type { Database, Db } from '../db/client.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { RateLimiter } from '../lib/rate-limit.ts';
import type { KeyStore } from '../modules/auth/keys.ts';
import type { ClientInfo } from '../modules/auth/sessions.service.ts';
import type { Viewer } from '../modules/auth/viewer.ts';
import type { Mailer } from '../modules/mail/mailer.ts';
import type { EventBus } from '../realtime/event-bus.ts';

/** What every service needs, built once per app and shared by GraphQL, REST and subscriptions. */
export interface Services {
  config: Config;
  database: Database;
  db: Db;
  clock: Clock;
  logger: Logger;
  keys: KeyStore;
  rateLimiter: RateLimiter;
  mailer: Mailer;
  /** Pub/sub for subscriptions (in-process, or Redis with REDIS_URL). */
  events: EventBus;
}

export interface Context {
  requestId: string;
  services: Services;
  /** Null when the request carries no session. */
  viewer: Viewer | null;
  client: ClientInfo;
  logger: Logger;
  /** Set-Cookie values to add to the HTTP response (none over WebSocket). */
  responseCookies: string[];
  /** The browser's refresh-token cookie, if the request carried one. */
  refreshCookie: string | undefined;
  /** The browser's device cookie (a past password sign-in's device token), if the request carried one. */
  deviceCookie: string | undefined;
}
