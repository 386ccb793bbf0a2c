import type { RequestHandler } from 'express';
import type { GatewayDeps } from '../deps';

/** Liveness: the process answers. */
export const healthz: RequestHandler = (_req, res) => {
  res.json({ status: 'ok' });
};

/** Readiness: PostgreSQL, Redis and storage all answer within a short time. */
export function readyz({ db, redis, store }: GatewayDeps): RequestHandler {
  return async (_req, res) => {
    const checks = await Promise.all([probe('postgres', () => db.raw('select 1')), probe('redis', () => redis.ping()), probe('storage', () => store.ping())]);
    const ready = checks.every((c) => c.ok);
    res
      .status(ready ? 200 : 503)
      .json({ status: ready ? 'ready' : 'unavailable', checks: Object.fromEntries(checks.map((c) => [c.name, c.ok ? 'ok' : c.error])) });
  };
}

async function probe(name: string, check: () => Promise<unknown>): Promise<{ name: string; ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout after 2 s')), 2000);
      }),
    ]);
    return { name, ok: true };
  } catch (err) {
    return { name, ok: false, error: (err as Error).message };
  } finally {
    clearTimeout(timer);
  }
}
