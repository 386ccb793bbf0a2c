/**
 * Limits kept in Redis, so every gateway replica sees the same counts:
 * - failed authentications per client address: past HUREN_AUTH_MAX_FAILURES_PER_ADDRESS in
 *   HUREN_AUTH_LOCKOUT_SECONDS, the address is refused (429) for HUREN_AUTH_LOCKOUT_SECONDS
 *   (per-key lockout is in the api_key row: core/security/api-keys.ts);
 * - requests per credential per minute (rate-limiter-flexible, fixed window), 429 + Retry-After.
 * When Redis is unreachable both fail open (logged): the gateway keeps serving authenticated
 * requests rather than refusing everyone; the per-key lockout (PostgreSQL) still holds, and
 * the rate limiter falls back to a per-process in-memory limit.
 */
import type { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { Config } from '../../core/config';
import type { Logger } from '../../core/logger';

export interface AddressLockout {
  /** Seconds until the address may try again, or 0. */
  lockedFor(address: string): Promise<number>;
  /** Counts a failure; returns true when this failure locked the address. */
  fail(address: string): Promise<boolean>;
}

export function createAddressLockout(redis: Redis, config: Config, logger: Logger): AddressLockout {
  const prefix = `${config.HUREN_QUEUE_PREFIX}:auth`;
  const window = config.HUREN_AUTH_LOCKOUT_SECONDS;
  const max = config.HUREN_AUTH_MAX_FAILURES_PER_ADDRESS;
  const warn = (err: unknown) => logger.warn({ err: (err as Error).message }, 'address lockout unavailable (Redis)');
  return {
    async lockedFor(address) {
      try {
        const ttl = await redis.pttl(`${prefix}:lock:${address}`);
        return ttl > 0 ? Math.ceil(ttl / 1000) : 0;
      } catch (err) {
        warn(err);
        return 0;
      }
    },
    async fail(address) {
      try {
        const key = `${prefix}:fail:${address}`;
        const [[, count]] = (await redis.multi().incr(key).expire(key, window, 'NX').exec()) as [[Error | null, number]];
        if (count < max) return false;
        const set = await redis.set(`${prefix}:lock:${address}`, '1', 'EX', window, 'NX');
        await redis.del(key);
        return set === 'OK';
      } catch (err) {
        warn(err);
        return false;
      }
    },
  };
}

export interface RateLimiter {
  /** 0 when allowed, else seconds to wait. */
  consume(key: string): Promise<number>;
  limit: number;
}

export function createRateLimiter(redis: Redis, config: Config, logger: Logger): RateLimiter | null {
  const points = config.HUREN_RATE_LIMIT_PER_MINUTE;
  if (points === 0) return null;
  const limiter = new RateLimiterRedis({
    storeClient: redis,
    keyPrefix: `${config.HUREN_QUEUE_PREFIX}:rl`,
    points,
    duration: 60,
    // Redis away: each process limits on its own meanwhile.
    insuranceLimiter: new RateLimiterMemory({ points, duration: 60 }),
  });
  return {
    limit: points,
    async consume(key) {
      try {
        await limiter.consume(key);
        return 0;
      } catch (res) {
        if (res instanceof RateLimiterRes) return Math.max(1, Math.ceil(res.msBeforeNext / 1000));
        logger.warn({ err: (res as Error).message }, 'rate limiter unavailable');
        return 0;
      }
    },
  };
}
