/**
 * Shared pieces of the benchmarks under scripts/bench/: a gateway and a worker started as
 * separate processes (as deployed, so RSS and CPU figures are per process), HTTP helpers,
 * synthetic CT slices, /proc sampling, percentiles, a progress line, and result tables.
 *
 * Every run gets its own PostgreSQL schema, BullMQ prefix and temp data directory, all
 * removed afterwards (also on Ctrl-C or a failure).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import IORedis from 'ioredis';
import { createDb, type Db } from '../../core/db';
import { createApiKey } from '../../core/security/api-keys';
import { createJobQueues, type JobQueues } from '../../core/jobs/queues';
import { makeDataset, makeInstance, writePart10, TS, type MakeInstanceOptions } from '../../test/support/dicom-factory';

export const ROOT = path.resolve(__dirname, '..', '..');
export const DATABASE_URL = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Positive number from an environment variable, else the default. */
export function envNumber(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

// ───────────────────────────── progress and formatting ─────────────────────────────

let lastPlain = 0;
/** One status line on stderr, rewritten in place (every 5 s as a new line when stderr is not a terminal). */
export function progress(text: string): void {
  if (process.stderr.isTTY) {
    process.stderr.write(`\r\x1b[K${text}`);
  } else if (Date.now() - lastPlain > 5000) {
    lastPlain = Date.now();
    process.stderr.write(`${text}\n`);
  }
}

/** Ends the progress line and prints a message on its own line. */
export function say(text: string): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  lastPlain = 0;
  process.stderr.write(`${text}\n`);
}

export const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
export const MB = 1e6;
export const MiB = 1024 ** 2;

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

// ───────────────────────────── results ─────────────────────────────

export interface Table {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
}

export interface BenchResult {
  title: string;
  /** What was run, one line each. */
  setup: string[];
  tables: Table[];
  /** Observations: CPU shares, queue lag, anomalies. */
  notes: string[];
}

export function renderTable(t: Table): string {
  const lines = [`| ${t.columns.join(' | ')} |`, `| ${t.columns.map(() => '---').join(' | ')} |`];
  for (const row of t.rows) lines.push(`| ${row.join(' | ')} |`);
  return `${t.title ? `**${t.title}**\n\n` : ''}${lines.join('\n')}\n`;
}

export function renderResult(r: BenchResult): string {
  const parts = [`## ${r.title}\n`];
  if (r.setup.length) parts.push(r.setup.map((s) => `- ${s}`).join('\n') + '\n');
  for (const t of r.tables) parts.push(renderTable(t));
  if (r.notes.length) parts.push(r.notes.map((s) => `- ${s}`).join('\n') + '\n');
  return parts.join('\n');
}

/** Runs a benchmark as a CLI: figures as Markdown on stdout, progress on stderr. */
export function runCli(bench: () => Promise<BenchResult>): void {
  bench()
    .then((r) => {
      say('');
      process.stdout.write(renderResult(r));
      process.exit(0);
    })
    .catch(async (err) => {
      say(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      await cleanupAll();
      process.exit(1);
    });
}

// ───────────────────────────── /proc ─────────────────────────────

/** VmRSS and VmHWM (peak) of a process, in bytes; undefined once it is gone. */
export function memoryOf(pid: number): { rss: number; hwm: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
  } catch {
    return undefined;
  }
}

/** Resets VmHWM to the current RSS (Linux clear_refs "5"); false when not permitted. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** Samples a process's RSS every `everyMs`; stop() gives the largest sample and the kernel's VmHWM. */
export function sampleRss(pid: number, everyMs = 100): { stop(): { maxSampled: number; hwm: number; samples: number }; current(): number } {
  let maxSampled = 0;
  let hwm = 0;
  let samples = 0;
  let current = 0;
  const tick = () => {
    const m = memoryOf(pid);
    if (!m) return;
    samples++;
    current = m.rss;
    maxSampled = Math.max(maxSampled, m.rss);
    hwm = m.hwm;
  };
  tick();
  const timer = setInterval(tick, everyMs);
  return {
    current: () => current,
    stop() {
      tick();
      clearInterval(timer);
      return { maxSampled, hwm, samples };
    },
  };
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** Fields of /proc/<pid>/stat after "(comm)": 0 state, 1 ppid, … 11 utime, 12 stime, 13 cutime, 14 cstime. */
function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function cpuSeconds(pid: number, withChildren = false): number {
  const f = statFields(pid);
  if (!f) return 0;
  const ticks = Number(f[11]) + Number(f[12]) + (withChildren ? Number(f[13]) + Number(f[14]) : 0);
  return ticks / TICKS_PER_SECOND;
}

function pidsNamed(comm: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/**
 * CPU seconds used so far by the gateway, the worker, the PostgreSQL backends serving them
 * (found by their application_name), the whole PostgreSQL server they use (its postmaster's
 * children; exited ones through its cutime/cstime; other users of that server included),
 * Redis, this process, and the machine.
 */
export async function cpuSnapshot(stack: Stack): Promise<Record<string, number>> {
  const ours = (await stack.db.raw('SELECT pid FROM pg_stat_activity WHERE application_name = ?', [stack.appName])).rows as Array<{ pid: number }>;
  const [{ pid: mine }] = (await stack.db.raw('SELECT pg_backend_pid() AS pid')).rows as Array<{ pid: number }>;
  const postmaster = Number(statFields(mine)?.[1]);
  const server = pidsNamed('postgres').filter((pid) => Number(statFields(pid)?.[1]) === postmaster);
  const snap: Record<string, number> = {
    gateway: cpuSeconds(stack.gateway.pid!),
    worker: stack.worker ? cpuSeconds(stack.worker.pid!) : NaN,
    'postgres (its backends)': ours.reduce((sum, r) => sum + cpuSeconds(r.pid), 0),
    'postgres (all)': cpuSeconds(postmaster, true) + server.reduce((sum, pid) => sum + cpuSeconds(pid), 0),
    redis: pidsNamed('redis-server').reduce((sum, pid) => sum + cpuSeconds(pid), 0),
    'bench client': cpuSeconds(process.pid),
  };
  // Busy time of the whole machine (user, nice, system, irq, softirq): what is not ours is other load.
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].split(/\s+/).slice(1).map(Number);
  snap.machine = (cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6]) / TICKS_PER_SECOND;
  return snap;
}

/**
 * "gateway 96 %, worker 71 %, …, other processes 12 %" (% of one core) between two
 * snapshots; "other processes" is the machine's busy time not spent by the processes listed.
 */
export function cpuShares(before: Record<string, number>, after: Record<string, number>, seconds: number): string {
  const used = (k: string) => Math.max(0, after[k] - before[k]);
  const pct = (v: number) => `${Math.round((100 * v) / seconds)} %`;
  const listed = Object.keys(after).filter((k) => k !== 'machine' && k !== 'postgres (its backends)' && !Number.isNaN(after[k]));
  const others = used('machine') - listed.reduce((sum, k) => sum + used(k), 0);
  const shown = Object.keys(after).filter((k) => k !== 'machine' && !Number.isNaN(after[k]));
  return [...shown.map((k) => `${k} ${pct(used(k))}`), `other processes ${pct(Math.max(0, others))}`].join(', ');
}

// ───────────────────────────── the stack ─────────────────────────────

export interface Stack {
  baseUrl: string;
  dicomweb: string;
  gateway: ChildProcess;
  worker?: ChildProcess;
  schema: string;
  prefix: string;
  /** `Bearer <key>` of a platform API key with the pacs, viewer and ops roles (see authHeaders). */
  authorization?: string;
  /** application_name of the children's PostgreSQL connections (PGAPPNAME). */
  appName: string;
  dataDir: string;
  /** The benchmark's own connection to the same schema. */
  db: Db;
  queues: JobQueues;
  env: Record<string, string>;
  /** Warnings and errors the children logged (pino levels 40, 50+), other output lines (stderr), the last lines. */
  logged: { warn: number; error: number; other: number; tail: string[]; kinds: Map<string, number> };
  close(): Promise<void>;
}

/** Stacks not closed yet, and the closing of those being closed. */
const active = new Set<Stack>();
const closing = new Map<Stack, Promise<void>>();

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Free bytes on the filesystem holding `dir`. */
export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}

/**
 * Starts `node --import tsx gateway/main.ts` (and `workers/main.ts` unless worker: false) on
 * the local PostgreSQL and Redis with a unique schema, prefix and data dir; resolves once
 * /readyz answers 200.
 */
export async function startStack(opts: { name: string; worker?: boolean; env?: Record<string, string> }): Promise<Stack> {
  const id = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const schema = `huren_bench_${opts.name.replace(/[^a-z0-9]/g, '_')}_${id}`;
  const prefix = `huren-bench-${opts.name}-${id}`;
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `huren-bench-${opts.name}-`));
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
    LOG_LEVEL: 'warn',
    PGAPPNAME: prefix,
    // Capacity is measured, not policy: the limiter stays in the request path but never refuses.
    HUREN_RATE_LIMIT_PER_MINUTE: '1000000000',
    ...opts.env,
  };
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: null });
  const logged = { warn: 0, error: 0, other: 0, tail: [] as string[], kinds: new Map<string, number>() };
  const stack: Stack = {
    baseUrl: `http://127.0.0.1:${port}`,
    dicomweb: `http://127.0.0.1:${port}/dicomweb`,
    gateway: undefined as unknown as ChildProcess,
    schema,
    prefix,
    appName: prefix,
    dataDir,
    db: createDb({ url: DATABASE_URL, schema, poolMax: 8 }),
    queues: createJobQueues(redis, prefix),
    env,
    logged,
    close() {
      if (!closing.has(stack))
        closing.set(
          stack,
          closeStack(stack, redis).finally(() => active.delete(stack)),
        );
      return closing.get(stack)!;
    },
  };
  active.add(stack);
  try {
    stack.gateway = spawnChild('gateway', 'gateway/main.ts', env, stack);
    await waitReady(stack);
    if (opts.worker !== false) stack.worker = spawnChild('worker', 'workers/main.ts', env, stack);
    return stack;
  } catch (err) {
    await stack.close();
    throw err;
  }
}

let stopping = false;
/** True once Ctrl-C (or a crash) started the cleanup: request loops should stop. */
export const stopRequested = () => stopping;

function spawnChild(name: string, entry: string, env: Record<string, string>, stack: Stack): ChildProcess {
  // BENCH_NODE_ARGS: extra node flags for both children, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', path.join(ROOT, entry)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const onLine = (line: string) => {
    if (!line.trim()) return;
    const level = /"level":(\d+)/.exec(line)?.[1];
    if (level === undefined) {
      stack.logged.other++;
      const kind = line.replace(/^\(node:\d+\)\s*/, '').slice(0, 100);
      stack.logged.kinds.set(kind, (stack.logged.kinds.get(kind) ?? 0) + 1);
    } else if (Number(level) >= 50) stack.logged.error++;
    else if (Number(level) >= 40) stack.logged.warn++;
    stack.logged.tail.push(`${name}: ${line.slice(0, 400)}`);
    if (stack.logged.tail.length > 30) stack.logged.tail.shift();
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (s: string) => {
      const lines = (rest + s).split('\n');
      rest = lines.pop() ?? '';
      lines.forEach(onLine);
    });
  }
  child.on('exit', (code, signal) => {
    if (stopping || closing.has(stack)) return;
    say(`\n${name} exited unexpectedly (code ${code}, signal ${signal}). Last output:\n${stack.logged.tail.join('\n')}`);
    void cleanupAll().then(() => process.exit(1));
  });
  return child;
}

/**
 * Listening (/healthz) means the schema is migrated: then a platform API key is created in
 * the database (as `POST /admin/credentials` would), and /readyz must answer 200 with it.
 */
async function waitReady(stack: Stack, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const headers = stack.authorization ? { Authorization: stack.authorization } : undefined;
      const res = await fetch(`${stack.baseUrl}/${stack.authorization ? 'readyz' : 'healthz'}`, { headers });
      if (res.status === 200 && stack.authorization) return;
      if (res.status === 200) {
        const { token } = await createApiKey(stack.db, { name: 'benchmark', roles: ['pacs', 'viewer', 'ops'], institution: null, createdBy: 'scripts/bench' });
        stack.authorization = `Bearer ${token}`;
        continue;
      }
    } catch (err) {
      if (!/fetch failed|ECONNREFUSED/.test(String((err as Error).message))) throw err;
    }
    if (stack.gateway.exitCode !== null) throw new Error(`gateway exited during start:\n${stack.logged.tail.join('\n')}`);
    if (Date.now() > deadline) throw new Error(`gateway not ready after ${timeoutMs} ms:\n${stack.logged.tail.join('\n')}`);
    await sleep(200);
  }
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

/** Each step runs even when an earlier one failed. */
async function closeStack(stack: Stack, redis: IORedis): Promise<void> {
  const step = (what: string, fn: () => Promise<unknown>) => fn().catch((err: Error) => say(`cleanup: could not ${what}: ${err.message}`));
  await Promise.all([stopChild(stack.worker), stopChild(stack.gateway)]);
  if (stack.logged.warn + stack.logged.error + stack.logged.other > 0)
    say(`${loggedSummary(stack)}; the last lines:\n${stack.logged.tail.slice(-10).join('\n')}`);
  await step('obliterate the queues', () => Promise.all(stack.queues.all().map((q) => q.obliterate({ force: true }))));
  await step('close the queues', () => stack.queues.close());
  // Whatever obliterate left (job scheduler keys): only this run's unique prefix is touched.
  await step(`delete the keys ${stack.prefix}:*`, async () => {
    for (let cursor = '0'; ;) {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${stack.prefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  });
  await redis.quit().catch(() => redis.disconnect());
  await step(`drop the schema ${stack.schema}`, () => stack.db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [stack.schema]));
  await step('close the database pool', () => stack.db.destroy());
  rmSync(stack.dataDir, { recursive: true, force: true });
}

/** "The gateway and worker logged 0 warnings, 0 errors and 12 other lines (stderr): 12 × …" */
export function loggedSummary(stack: Stack): string {
  const { warn, error, other, kinds } = stack.logged;
  const top = [...kinds].sort((a, b) => b[1] - a[1]).slice(0, 3);
  const what = top.length ? `: ${top.map(([k, n]) => `${n} × \`${k}\``).join('; ')}` : '';
  return `The gateway${stack.worker ? ' and worker' : ''} logged ${warn} warnings, ${error} errors and ${other} other lines (stderr)${what}`;
}

export async function cleanupAll(): Promise<void> {
  stopping = true;
  await Promise.all([...active].map((s) => s.close().catch((err) => say(`cleanup: ${err.message}`))));
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`\n${signal}: stopping the gateway and worker, dropping the schema, removing temp data…`);
    void cleanupAll().then(() => process.exit(130));
  });
}

/** Instances stored but not yet indexed, from the database (what the queue backlog means for users). */
export async function unindexed(stack: Stack): Promise<number> {
  const [{ n }] = await stack.db('instance').where({ status: 'received' }).count({ n: '*' });
  return Number(n);
}

// ───────────────────────────── HTTP ─────────────────────────────

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** Body bytes received. */
  bytes: number;
  /** The body, when asked to keep it. */
  body?: Buffer;
}

/** The Authorization header of a stack's requests. */
export const authHeaders = (stack: Stack): Record<string, string> => (stack.authorization ? { Authorization: stack.authorization } : {});

/** GET, counting the body's bytes (kept only when keepBody). */
export function httpGet(url: string, opts: { agent?: http.Agent; headers?: Record<string, string>; keepBody?: boolean } = {}): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: opts.agent, headers: opts.headers }, (res) => {
      let bytes = 0;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        bytes += c.length;
        if (opts.keepBody) chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes, body: opts.keepBody ? Buffer.concat(chunks) : undefined }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

export async function getJson<T>(url: string, agent?: http.Agent, headers: Record<string, string> = {}): Promise<T> {
  const res = await httpGet(url, { agent, keepBody: true, headers: { ...headers, Accept: 'application/dicom+json' } });
  if (res.status !== 200) throw new Error(`GET ${url.split('?')[0]} answered ${res.status}: ${res.body?.toString().slice(0, 300)}`);
  return JSON.parse(res.body!.toString()) as T;
}

const BOUNDARY = 'huren-bench-boundary';
const PART_HEAD = Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`);
const CRLF = Buffer.from('\r\n');
const CLOSE = Buffer.from(`--${BOUNDARY}--\r\n`);

/** A multipart/related body, part by part, from instances given as lists of chunks: never one big buffer. */
export function* multipartChunks(instances: Iterable<Buffer[]>): Generator<Buffer> {
  for (const chunks of instances) {
    yield PART_HEAD;
    yield* chunks;
    yield CRLF;
  }
  yield CLOSE;
}

export function multipartLength(instances: Buffer[][]): number {
  return instances.reduce((n, chunks) => n + PART_HEAD.length + chunks.reduce((m, c) => m + c.length, 0) + CRLF.length, CLOSE.length);
}

export interface StowResult {
  status: number;
  /** ReferencedSOPSequence and FailedSOPSequence sizes. */
  referenced: number;
  failed: number;
  referencedUids: string[];
  body: string;
}

/** Reads a STOW-RS answer: status, referenced and failed counts, the stored SOP Instance UIDs. */
export function readStowResponse(res: http.IncomingMessage): Promise<StowResult> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('error', reject);
    res.on('end', () => {
      const text = Buffer.concat(chunks).toString();
      let json: Record<string, { Value?: Array<Record<string, { Value?: string[] }>> }> = {};
      try {
        json = JSON.parse(text);
      } catch {
        // a problem document or nothing: status tells
      }
      const referenced = json['00081199']?.Value ?? [];
      resolve({
        status: res.statusCode ?? 0,
        referenced: referenced.length,
        failed: json['00081198']?.Value?.length ?? 0,
        referencedUids: referenced.map((r) => r['00081155']?.Value?.[0] ?? ''),
        body: text.slice(0, 500),
      });
    });
  });
}

/**
 * POST /studies with a streamed multipart/related body: Content-Length when given,
 * else chunked transfer encoding.
 */
export function stow(
  stack: Stack,
  body: Iterable<Buffer> | AsyncIterable<Buffer>,
  opts: { agent?: http.Agent; contentLength?: number } = {},
): Promise<StowResult> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {
      'Content-Type': `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`,
      Accept: 'application/dicom+json',
      ...authHeaders(stack),
    };
    if (opts.contentLength !== undefined) headers['Content-Length'] = opts.contentLength;
    const req = http.request(`${stack.dicomweb}/studies`, { method: 'POST', agent: opts.agent, headers });
    req.on('response', (res) => readStowResponse(res).then(resolve, reject));
    req.on('error', reject);
    pipeline(Readable.from(body), req).catch(reject);
  });
}

// ───────────────────────────── synthetic CT ─────────────────────────────

const PIXEL_TAG_OW = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57, 0, 0]); // (7FE0,0010) OW, explicit VR LE

/**
 * 512×512 16-bit CT slices (≈ 525 KB each), as makeInstance writes them, cheaply: the
 * data set is written per instance (a few hundred bytes) and the Pixel Data value is one
 * shared buffer, so a study costs no pixel copies and a 2 GB body needs no 2 GB of memory.
 * An instance is a list of chunks: [data set, Pixel Data header, pixels].
 */
export class CtSlices {
  readonly rows: number;
  readonly columns: number;
  readonly frames: number;
  private readonly template: Record<string, unknown>;
  private readonly pixels: Buffer;
  private readonly pixelHead: Buffer;

  constructor(opts: { rows?: number; columns?: number; frames?: number } = {}) {
    this.rows = opts.rows ?? 512;
    this.columns = opts.columns ?? 512;
    this.frames = opts.frames ?? 1;
    const base: MakeInstanceOptions = { modality: 'CT', rows: this.rows, columns: this.columns, numberOfFrames: this.frames > 1 ? this.frames : undefined };
    const { dataset, frames } = makeDataset({ ...base, numberOfFrames: 1 });
    this.template = { ...dataset, NumberOfFrames: this.frames > 1 ? this.frames : undefined };
    if (this.template.NumberOfFrames === undefined) delete this.template.NumberOfFrames;
    this.pixels = frames[0];
    const length = this.pixels.length * this.frames;
    if (length > 0xfffffffe) throw new Error('Pixel Data longer than 4 GiB cannot be written');
    this.pixelHead = Buffer.concat([PIXEL_TAG_OW, Buffer.alloc(4)]);
    this.pixelHead.writeUInt32LE(length, 8);
    // The shortcut must produce exactly what makeInstance writes.
    if (this.frames === 1) {
      const uids = { studyInstanceUid: '2.25.1', seriesInstanceUid: '2.25.2', sopInstanceUid: '2.25.3' };
      const mine = Buffer.concat(this.instance({ StudyInstanceUID: '2.25.1', SeriesInstanceUID: '2.25.2', SOPInstanceUID: '2.25.3' }));
      if (!mine.equals(makeInstance({ ...base, ...uids }))) throw new Error('CtSlices differs from makeInstance');
    }
  }

  /** Bytes of one instance. */
  get size(): number {
    return this.instance({ SOPInstanceUID: '2.25.1' }).reduce((n, c) => n + c.length, 0);
  }

  /** One instance as chunks; `values` are dcmjs keywords (UIDs, PatientID, InstanceNumber, …). */
  instance(values: Record<string, unknown>): Buffer[] {
    const head = writePart10({ dataset: { ...this.template, ...values }, transferSyntaxUid: TS.explicitLittleEndian });
    const chunks = [head, this.pixelHead];
    for (let f = 0; f < this.frames; f++) chunks.push(this.pixels);
    return chunks;
  }
}

// ───────────────────────────── the machine ─────────────────────────────

/** The machine and the services the figures were taken on, as Markdown table rows. */
export async function describeMachine(): Promise<Array<[string, string]>> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  const db = createDb({ url: DATABASE_URL, schema: 'public', poolMax: 1 });
  const redis = new IORedis(REDIS_URL, { maxRetriesPerRequest: 1 });
  try {
    const setting = async (name: string) => (await db.raw(`SHOW ${name}`)).rows[0][name] as string;
    const pg = `PostgreSQL ${await setting('server_version')} (shared_buffers ${await setting('shared_buffers')}, fsync ${await setting('fsync')}, synchronous_commit ${await setting('synchronous_commit')}), ${new URL(DATABASE_URL).host}`;
    const info = await redis.info('server');
    const persistence = await redis.info('persistence');
    const aof = /aof_enabled:(\d)/.exec(persistence)?.[1] === '1' ? 'AOF on' : 'AOF off';
    const tmp = os.tmpdir();
    const mount = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' '))
      .filter((f) => f.length > 2 && (tmp === f[1] || tmp.startsWith(f[1].endsWith('/') ? f[1] : `${f[1]}/`)))
      .sort((a, b) => b[1].length - a[1].length)[0];
    return [
      ['CPU', `${model}, ${os.cpus().length} cores`],
      ['Memory', `${fmt(os.totalmem() / 1024 ** 3)} GiB`],
      ['OS', `${os.type()} ${os.release()} ${os.arch()}`],
      ['Node.js', process.version],
      ['PostgreSQL', pg],
      ['Redis', `${/redis_version:(\S+)/.exec(info)?.[1] ?? '?'} (${aof}), ${new URL(REDIS_URL).host}`],
      ['Storage driver', `fs under ${tmp} (${mount ? `${mount[2]} on ${mount[0]}` : 'unknown filesystem'}), fsync per object`],
      [
        'Load average at start',
        os
          .loadavg()
          .map((l) => fmt(l, 2))
          .join(' '),
      ],
    ];
  } finally {
    await db.destroy();
    redis.disconnect();
  }
}
