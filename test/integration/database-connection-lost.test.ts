/**
 * PostgreSQL gone while a query is in flight (`npm run chaos`, postgres-kill9: a backend killed
 * with SIGKILL, or a network cut, sends no error message, the socket just closes). node-postgres
 * then fails the query with a plain Error and no code ("Connection terminated unexpectedly"),
 * which the problem handler answered as a 500: a PACS may give up on a 500, where a 503 makes
 * it retry. A TCP proxy between huren and the test PostgreSQL cuts the connection as the
 * credential lookup, the first query of a request, arrives.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import { loadConfig } from '../../core/config';
import { createDb, type Db } from '../../core/db';
import { createJobQueues } from '../../core/jobs/queues';
import { createRedis } from '../../core/queue/connection';
import { createApiKey } from '../../core/security/api-keys';
import { ROLES } from '../../core/security/roles';
import { securityOf } from '../../gateway/security';
import { makeInstance } from '../support/dicom-factory';
import { appOn, multipartBody } from '../support/gateway';
import { createTestDb, TEST_DATABASE_URL, TEST_REDIS_URL, uniqueName, type TestDb } from '../support/services';

/** Forwards to PostgreSQL; once armed, closes the connection that sends the query holding `cutAt`, unanswered. */
class CuttingProxy {
  cutAt?: string;
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((client) => {
    const target = new URL(TEST_DATABASE_URL);
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    for (const s of [client, upstream]) {
      this.sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => this.sockets.delete(s));
    }
    client.on('data', (chunk: Buffer) => {
      if (this.cutAt === undefined || !chunk.includes(this.cutAt)) return void upstream.write(chunk);
      this.cutAt = undefined;
      upstream.destroy();
      client.end();
    });
    upstream.pipe(client);
  });

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('when the connection to PostgreSQL dies during a query', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'huren-pg-cut-'));
  const proxy = new CuttingProxy();
  const redis = createRedis(TEST_REDIS_URL, 'producer');
  const queues = createJobQueues(redis, uniqueName('huren-test'));
  let t: TestDb;
  let db: Db;
  let app: Express;
  let auth: string;

  beforeAll(async () => {
    t = await createTestDb();
    const url = new URL(TEST_DATABASE_URL);
    url.host = `127.0.0.1:${await proxy.listen()}`;
    db = createDb({ url: url.toString(), schema: t.schema, poolMax: 2 });
    const config = loadConfig({
      DATABASE_URL: url.toString(),
      HUREN_DB_SCHEMA: t.schema,
      LOG_LEVEL: 'silent',
      HUREN_RATE_LIMIT_PER_MINUTE: '0',
      // No worker indexes here: the index lag must not hold STOW back.
      HUREN_STOW_MAX_INDEX_LAG_SECONDS: '0',
    });
    app = appOn({ config, db, dataDir: dir, redis, queues });
    const { token } = await createApiKey(t.db, { name: 'test', roles: [...ROLES], institution: null, createdBy: 'test' });
    auth = `Bearer ${token}`;
  });

  afterAll(async () => {
    await securityOf(app).close();
    await db.destroy();
    await proxy.close();
    await Promise.all(queues.all().map((q) => q.obliterate({ force: true }).catch(() => undefined)));
    await queues.close();
    redis.disconnect();
    await t.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const stow = () => {
    const { body, contentType } = multipartBody([makeInstance()]);
    return request(app).post('/dicomweb/studies').set('Authorization', auth).set('Content-Type', contentType).send(body);
  };

  it('answers STOW-RS with a retryable 503, not a 500, and recovers with the next request', async () => {
    expect((await stow()).status).toBe(200);

    // The credential's lookup, the first query of every request (the audit writer shares the pool).
    proxy.cutAt = 'from "api_key" where "key_prefix"';
    const res = await stow();
    expect(proxy.cutAt).toBeUndefined();
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.body).toMatchObject({ status: 503, code: 'database_unavailable' });

    expect((await stow()).status).toBe(200);
  });
});
