import type { Config } from '../core/config';
import type { Db } from '../core/db';
import type { JobQueues } from '../core/jobs/queues';
import type { Logger } from '../core/logger';
import type { ObjectStore } from '../core/storage/object-store';
import type { Redis } from 'ioredis';
import { StorageFullHold } from './dicomweb/storage-full-hold';
import { createGatewayMetrics, type GatewayMetrics } from './ops/metrics';

/** Everything a request handler may use; built once in gateway/main.ts (or a test). */
export interface GatewayDeps {
  config: Config;
  db: Db;
  store: ObjectStore;
  redis: Redis;
  queues: JobQueues;
  logger: Logger;
  metrics: GatewayMetrics;
  /** Shared by the STOW handler and the server's `Expect: 100-continue` answer. */
  storageFullHold: StorageFullHold;
}

/** The gateway's dependencies on top of the core services (core/services.ts, or a test's own). */
export function createGatewayDeps(core: Omit<GatewayDeps, 'metrics' | 'storageFullHold'>): GatewayDeps {
  return {
    ...core,
    metrics: createGatewayMetrics(core.queues),
    storageFullHold: new StorageFullHold(core.config.HUREN_STOW_STORAGE_FULL_HOLD_SECONDS * 1000),
  };
}
