/**
 * huren for the side-by-side benchmark: the gateway and one worker as child processes, as
 * lib.ts's startStack does (own schema, queue prefix and data directory on the local
 * PostgreSQL and Redis, all removed afterwards), plus what an authenticated huren needs: an
 * API key holding every role for the benchmark's requests, and request limits off. Readiness
 * is polled with that key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import IORedis from 'ioredis';
import { createDb } from '../../core/db';
import { createJobQueues } from '../../core/jobs/queues';
import { UNLIMITED, freePort, harnessCredential } from '../chaos/infra';
import { DATABASE_URL, REDIS_URL, ROOT, readStowResponse, say, sleep, type Stack, type StowResult } from './lib';

export interface PeerStack extends Stack {
  /** Authorization header for every request (empty for a huren without authentication). */
  auth: Record<string, string>;
  /** Starts the worker (when started with worker: false). */
  startWorker(): void;
  /** One more gateway (on `port`) or worker process with the same settings: replicas. */
  addReplica(role: 'gateway' | 'worker', port?: number): ChildProcess;
}

function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startPeerStack(extraEnv: Record<string, string> = {}, opts: { worker?: boolean } = {}): Promise<PeerStack> {
  const id = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const schema = `huren_bench_peer_${id}`;
  const prefix = `huren-bench-peer-${id}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'huren-bench-peer-'));
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    DATABASE_URL,
    REDIS_URL,
    HUREN_DB_SCHEMA: schema,
    HUREN_QUEUE_PREFIX: prefix,
    HUREN_DATA_DIR: dataDir,
    HUREN_HOST: '127.0.0.1',
    HUREN_PORT: String(port),
    HUREN_WORKER_METRICS_PORT: '0',
    LOG_LEVEL: 'warn',
    PGAPPNAME: prefix,
    ...UNLIMITED,
    ...extraEnv,
  };
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const logged = { warn: 0, error: 0, other: 0, tail: [] as string[], kinds: new Map<string, number>() };
  const replicas: ChildProcess[] = [];
  const spawnChild = (name: string, entry: string, override: Record<string, string> = {}): ChildProcess => {
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(ROOT, entry)], {
      cwd: ROOT,
      env: { ...env, ...override },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (s: string) => {
        const lines = (rest + s).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines.filter((l) => l.trim())) {
          const level = /"level":(\d+)/.exec(line)?.[1];
          if (level === undefined) {
            logged.other++;
            const kind = line.replace(/^\(node:\d+\)\s*/, '').slice(0, 100);
            logged.kinds.set(kind, (logged.kinds.get(kind) ?? 0) + 1);
          } else if (Number(level) >= 50) logged.error++;
          else if (Number(level) >= 40) logged.warn++;
          logged.tail.push(`${name}: ${line.slice(0, 400)}`);
          if (logged.tail.length > 30) logged.tail.shift();
        }
      });
    }
    return child;
  };
  const db = createDb({ url: DATABASE_URL, schema, poolMax: 8 });
  const stack: PeerStack = {
    baseUrl: `http://127.0.0.1:${port}`,
    dicomweb: `http://127.0.0.1:${port}/dicomweb`,
    gateway: spawnChild('gateway', 'gateway/main.ts'),
    schema,
    prefix,
    appName: prefix,
    dataDir,
    db,
    queues: createJobQueues(redis, prefix),
    env,
    logged,
    auth: {},
    startWorker() {
      stack.worker ??= spawnChild('worker', 'workers/main.ts');
    },
    addReplica(role, replicaPort) {
      const child = spawnChild(role, role === 'gateway' ? 'gateway/main.ts' : 'workers/main.ts', replicaPort ? { HUREN_PORT: String(replicaPort) } : {});
      replicas.push(child);
      return child;
    },
    async close() {
      const step = (what: string, fn: () => Promise<unknown>) => fn().catch((err: Error) => say(`cleanup: could not ${what}: ${err.message}`));
      await Promise.all([stopChild(stack.worker), stopChild(stack.gateway), ...replicas.map((c) => stopChild(c))]);
      await step('obliterate the queues', () => Promise.all(stack.queues.all().map((q) => q.obliterate({ force: true }))));
      await step('close the queues', () => stack.queues.close());
      await step(`delete the keys ${prefix}:*`, async () => {
        for (let cursor = '0'; ;) {
          const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
          if (keys.length) await redis.del(...keys);
          cursor = next;
          if (cursor === '0') break;
        }
      });
      await redis.quit().catch(() => redis.disconnect());
      await step(`drop the schema ${schema}`, () => db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]));
      await step('close the database pool', () => db.destroy());
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  try {
    // The gateway migrates the schema before it listens: /healthz (public) first, then a key.
    const deadline = Date.now() + 90_000;
    for (;;) {
      const ok = await fetch(`${stack.baseUrl}/healthz`).then(
        (r) => r.status === 200,
        () => false,
      );
      if (ok) break;
      if (stack.gateway.exitCode !== null) throw new Error(`gateway exited during start:\n${logged.tail.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`gateway not up after 90 s:\n${logged.tail.join('\n')}`);
      await sleep(200);
    }
    stack.auth = await harnessCredential(db, 'bench:peer');
    const ready = await fetch(`${stack.baseUrl}/readyz`, { headers: stack.auth });
    if (ready.status !== 200) throw new Error(`gateway /readyz answered ${ready.status}: ${await ready.text()}`);
    if (opts.worker !== false) stack.startWorker();
    return stack;
  } catch (err) {
    await stack.close();
    throw err;
  }
}

const BOUNDARY = 'huren-bench-peer-boundary';

/**
 * POSTs one STOW-RS request. Orthanc at 16 clients sometimes closes a connection while a request
 * body is still being sent (EPIPE or ECONNRESET, no answer); STOW of the same instances is
 * idempotent, so such a request is sent again over a new connection, at most four times, as a PACS would.
 */
export async function stowTo(dicomweb: string, instances: Buffer[][], agent: http.Agent, headers: Record<string, string>): Promise<StowResult> {
  for (let attempt = 1; ; attempt++) {
    try {
      // A retry goes over a new connection: the pool may hold more sockets the server already closed.
      return await stowOnce(dicomweb, instances, attempt === 1 ? agent : false, headers);
    } catch (err) {
      const { code } = err as NodeJS.ErrnoException;
      if ((code !== 'EPIPE' && code !== 'ECONNRESET') || attempt === 5) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

function stowOnce(dicomweb: string, instances: Buffer[][], agent: http.Agent | false, headers: Record<string, string>): Promise<StowResult> {
  const head = Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`);
  const crlf = Buffer.from('\r\n');
  const close = Buffer.from(`--${BOUNDARY}--\r\n`);
  const length = instances.reduce((n, chunks) => n + head.length + chunks.reduce((m, c) => m + c.length, 0) + crlf.length, close.length);
  function* body() {
    for (const chunks of instances) {
      yield head;
      yield* chunks;
      yield crlf;
    }
    yield close;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(`${dicomweb}/studies`, {
      method: 'POST',
      agent,
      headers: {
        ...headers,
        'Content-Type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
        Accept: 'application/dicom+json',
        'Content-Length': length,
      },
    });
    req.on('response', (res) => readStowResponse(res).then(resolve, reject));
    req.on('error', reject);
    pipeline(Readable.from(body()), req).catch(reject);
  });
}
