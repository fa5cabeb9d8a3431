import type { Config } from '../config.ts';
import type { Database, Db } from '../db/client.ts';
import type { Clock } from '../lib/clock.ts';
import type { Logger } from '../lib/logger.ts';
import type { Viewer } from '../modules/auth/viewer.ts';
import type { KeyStore } from '../modules/auth/keys.ts';

/** What every service needs, built once per app and shared by GraphQL, REST and subscriptions. */
export interface Services {
  config: Config;
  database: Database;
  db: Db;
  clock: Clock;
  logger: Logger;
  keys: KeyStore;
}

export interface Context {
  requestId: string;
  services: Services;
  /** Null when the request carries no valid session. */
  viewer: Viewer | null;
  logger: Logger;
}
