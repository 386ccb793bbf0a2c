import type { Redis } from 'ioredis';
import type { Config } from './config';
import { createDb, type Db } from './db';
import { createJobQueues, type JobQueues } from './jobs/queues';
import { createLogger, type Logger } from './logger';
import { createRedis } from './queue/connection';
import { createObjectStore } from './storage';
import type { ObjectStore } from './storage/object-store';
import { S3ObjectStore } from './storage/s3-store';

/** The connections every huren process holds (gateway and workers alike). */
export interface CoreServices {
  config: Config;
  logger: Logger;
  db: Db;
  store: ObjectStore;
  redis: Redis;
  queues: JobQueues;
}

export async function openCoreServices(config: Config, name: string, role: 'worker' | 'producer'): Promise<CoreServices> {
  if (!config.DATABASE_URL) throw new Error('DATABASE_URL is not set / 未设置 DATABASE_URL (npm start sets it up for you)');
  const logger = createLogger(config.LOG_LEVEL, name);
  const db = createDb({ url: config.DATABASE_URL, schema: config.HUREN_DB_SCHEMA, poolMax: config.HUREN_DB_POOL_MAX });
  const store = createObjectStore(config);
  if (store instanceof S3ObjectStore) await store.ensureBucket();
  const redis = createRedis(config.REDIS_URL, role);
  const queues = createJobQueues(redis, config.HUREN_QUEUE_PREFIX);
  return { config, logger, db, store, redis, queues };
}

/** Closes in dependency order after the caller stopped its server and workers: queues, DB, Redis. */
export async function closeCoreServices(s: CoreServices): Promise<void> {
  await s.queues.close();
  await s.db.destroy();
  await s.redis.quit().catch(() => s.redis.disconnect());
}
