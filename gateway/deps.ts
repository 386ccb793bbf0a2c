import type { Config } from '../core/config';
import type { Db } from '../core/db';
import type { JobQueues } from '../core/jobs/queues';
import type { Logger } from '../core/logger';
import type { ObjectStore } from '../core/storage/object-store';
import type { Redis } from 'ioredis';
import type { GatewayMetrics } from './ops/metrics';

/** Everything a request handler may use; built once in gateway/main.ts (or a test). */
export interface GatewayDeps {
  config: Config;
  db: Db;
  store: ObjectStore;
  redis: Redis;
  queues: JobQueues;
  logger: Logger;
  metrics: GatewayMetrics;
}
