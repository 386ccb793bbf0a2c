import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Redis } from 'ioredis';
import { loadConfig, type Config } from '../../core/config';
import type { Db } from '../../core/db';
import { prepareDatabase } from '../../core/db-setup';
import { closeCoreServices, openCoreServices, type CoreServices } from '../../core/services';
import type { JobQueues } from '../../core/jobs/queues';
import { createLogger } from '../../core/logger';
import { FsObjectStore } from '../../core/storage/fs-store';
import { createApp } from '../../gateway/app';
import { createGatewayDeps } from '../../gateway/deps';
import { createServer } from '../../gateway/server';
import { securityOf } from '../../gateway/security';
import { createApiKey, ensureBootstrapAdmin } from '../../core/security/api-keys';
import { ROLES, type Role } from '../../core/security/roles';
import { startWorkers, type RunningWorkers } from '../../workers/start';
import { TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName } from './services';

export interface TestGateway {
  baseUrl: string;
  dicomweb: string;
  core: CoreServices;
  workers?: RunningWorkers;
  app: Express;
  /** Authorization header of a platform credential holding every role (what existing tests send). */
  auth: { Authorization: string };
  /** The HUREN_ADMIN_TOKEN this gateway bootstrapped. */
  adminToken: string;
  /** fetch with `auth` (headers given win; `Authorization: ''` sends none). */
  fetch(url: string, init?: RequestInit): Promise<Response>;
  /** A new API key; for an institution that does not exist yet, a test institution is created first. */
  credential(opts: { roles: Role[]; institution?: string | null; name?: string }): Promise<TestCredential>;
  /** Writes the audit records still buffered, so a test can read them. */
  flushAudit(): Promise<void>;
  /** Resolves once `n` instances of the study are indexed (or rejects after `timeoutMs`). */
  waitForIndexed(studyInstanceUid: string, n: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A real gateway (HTTP on a loopback port) and, unless `workers: false`, in-process BullMQ
 * workers, on the local PostgreSQL (own schema), Redis (own prefix) and a temp directory.
 */
export async function startTestGateway(opts: { env?: Record<string, string>; workers?: boolean } = {}): Promise<TestGateway> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'huren-test-'));
  const schema = uniqueName('huren_t');
  const config = loadConfig({
    DATABASE_URL: TEST_DATABASE_URL,
    REDIS_URL: TEST_REDIS_URL,
    HUREN_DB_SCHEMA: schema,
    HUREN_QUEUE_PREFIX: uniqueName('huren-test'),
    HUREN_DATA_DIR: dataDir,
    HUREN_STUDY_STABLE_SECONDS: '1',
    LOG_LEVEL: 'silent',
    HUREN_ADMIN_TOKEN: `test-admin-${randomBytes(24).toString('hex')}`,
    // Tests run thousands of requests from 127.0.0.1; the limits have tests of their own.
    HUREN_RATE_LIMIT_PER_MINUTE: '0',
    HUREN_AUTH_MAX_FAILURES_PER_ADDRESS: '1000000',
    // Without workers nothing is indexed and the index lag only grows: STOW admission control
    // would hold every later request (it has its own test).
    ...(opts.workers === false && { HUREN_STOW_MAX_INDEX_LAG_SECONDS: '0' }),
    ...opts.env,
  });
  const core = await openCoreServices(config, 'test', 'worker');
  await prepareDatabase(core.db, schema, core.queues);
  await ensureBootstrapAdmin(core.db, config.HUREN_ADMIN_TOKEN);
  const deps = createGatewayDeps(core);
  const app = createApp(deps);
  const server = createServer(app, deps);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const workers = opts.workers === false ? undefined : await startWorkers(core);

  const credential = async ({ roles, institution = null, name }: { roles: Role[]; institution?: string | null; name?: string }): Promise<TestCredential> => {
    if (institution) {
      await core
        .db('institution')
        .insert({ code: institution, name: `测试机构 ${institution}`, region: 'ZJ', level: 'L3A' })
        .onConflict('code')
        .ignore();
    }
    const { token, key } = await createApiKey(core.db, { name: name ?? `test ${roles.join('+')}`, roles, institution, createdBy: 'test' });
    return { id: key.id, token, headers: { Authorization: `Bearer ${token}` } };
  };
  const everything = await credential({ roles: [...ROLES], name: 'test platform (all roles)' });

  return {
    baseUrl,
    dicomweb: `${baseUrl}/dicomweb`,
    core,
    workers,
    app,
    auth: everything.headers,
    adminToken: config.HUREN_ADMIN_TOKEN!,
    fetch: (url, init = {}) => {
      const headers = new Headers(init.headers);
      if (!headers.has('authorization')) headers.set('Authorization', everything.headers.Authorization);
      else if (headers.get('authorization') === '') headers.delete('authorization');
      return fetch(url, { ...init, headers });
    },
    credential,
    flushAudit: () => securityOf(app).audit.flush(),
    async waitForIndexed(study, n, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const [{ count }] = await core.db('instance').where({ study_instance_uid: study, status: 'indexed' }).count({ count: '*' });
        if (Number(count) >= n) return;
        if (Date.now() > deadline) throw new Error(`only ${count}/${n} instances of ${study} indexed after ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await workers?.close();
      await securityOf(app).close();
      const obliterate = core.queues.all().map((q) => q.obliterate({ force: true }).catch(() => undefined));
      await Promise.all(obliterate);
      await core.db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      await closeCoreServices(core);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The gateway app alone, on services a test opened itself (a database that is down, or behind a
 * proxy that cuts connections), with filesystem storage under `dataDir` and silent logs.
 */
export function appOn(parts: { config: Config; db: Db; dataDir: string; redis: Redis; queues: JobQueues }): Express {
  const { config, db, dataDir, redis, queues } = parts;
  return createApp(createGatewayDeps({ config, db, store: new FsObjectStore(dataDir), redis, queues, logger: createLogger('silent', 'test') }));
}

export interface TestCredential {
  id: string;
  token: string;
  headers: { Authorization: string };
}

export interface PartInput {
  body: Buffer;
  contentType?: string;
}

/** A multipart/related body as a PACS would send it. */
export function multipartBody(parts: Array<Buffer | PartInput>, boundary = 'huren-test-boundary'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const p of parts) {
    const part = Buffer.isBuffer(p) ? { body: p } : p;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${part.contentType ?? 'application/dicom'}\r\n\r\n`), part.body, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/related; type="application/dicom"; boundary=${boundary}` };
}

/** Splits a multipart/related response body into its parts (headers + bytes). */
export function parseMultipartResponse(body: Buffer, contentType: string): Array<{ headers: Record<string, string>; body: Buffer }> {
  const boundary = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Array<{ headers: Record<string, string>; body: Buffer }> = [];
  let pos = body.indexOf(delimiter);
  while (pos !== -1) {
    const start = pos + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const headerEnd = body.indexOf('\r\n\r\n', start);
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headerEnd);
    const headers: Record<string, string> = {};
    for (const line of body
      .subarray(start + 2, headerEnd)
      .toString()
      .split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    parts.push({ headers, body: body.subarray(headerEnd + 4, next) });
    pos = next + 2;
  }
  return parts;
}
