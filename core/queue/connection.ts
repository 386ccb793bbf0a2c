import IORedis, { type Redis } from 'ioredis';

/**
 * BullMQ connections. Workers block on Redis and must retry forever
 * (maxRetriesPerRequest: null); producers in the HTTP path should fail fast instead of
 * queueing commands while Redis is away, so a STOW is never held up by the queue
 * (the reconciliation sweep re-enqueues what could not be enqueued).
 */
export function createRedis(url: string, role: 'worker' | 'producer'): Redis {
  return new IORedis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 1,
    enableOfflineQueue: role === 'worker',
    lazyConnect: false,
  });
}
