import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { loadConfig } from '../../core/config';
import { createDb } from '../../core/db';
import { createJobQueues } from '../../core/jobs/queues';
import { createRedis } from '../../core/queue/connection';
import { makeInstance } from '../support/dicom-factory';
import { appOn, multipartBody } from '../support/gateway';
import { TEST_REDIS_URL, uniqueName } from '../support/services';
import { startTestIdp, type TestIdp } from '../support/idp';
import { securityOf } from '../../gateway/security';
import type { Express } from 'express';

/** PostgreSQL unreachable: requests get a retryable 503, STOW never acknowledges anything. */
describe('when PostgreSQL is unreachable', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'huren-nodb-'));
  // Port 1 on loopback: nothing listens there, connections are refused at once.
  const db = createDb({ url: 'postgres://postgres@127.0.0.1:1/none', schema: 'public', poolMax: 2 });
  const redis = createRedis(TEST_REDIS_URL, 'producer');
  const queues = createJobQueues(redis, uniqueName('huren-test'));
  // JWTs are checked without the database (a local IdP); API keys need it.
  let idp: TestIdp;
  let app: Express;
  let auth: string;
  beforeAll(async () => {
    idp = await startTestIdp();
    const config = loadConfig({
      DATABASE_URL: 'postgres://postgres@127.0.0.1:1/none',
      LOG_LEVEL: 'silent',
      HUREN_OIDC_ISSUER: idp.issuer,
      HUREN_OIDC_AUDIENCE: idp.audience,
      HUREN_OIDC_JWKS_URL: idp.jwksUrl,
    });
    app = appOn({ config, db, dataDir: dir, redis, queues });
    auth = `Bearer ${await idp.token({ roles: ['viewer', 'pacs', 'ops'] })}`;
  });

  afterAll(async () => {
    await securityOf(app).close();
    await idp.close();
    await queues.close();
    await db.destroy();
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers QIDO-RS with 503 and Retry-After', async () => {
    const res = await request(app).get('/dicomweb/studies?PatientID=X').set('Authorization', auth);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.body).toMatchObject({ status: 503, code: 'database_unavailable' });
  });

  it('answers STOW-RS with 503 and leaves no object behind', async () => {
    const { body, contentType } = multipartBody([makeInstance()]);
    const res = await request(app).post('/dicomweb/studies').set('Authorization', auth).set('Content-Type', contentType).send(body);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 503 });
  });

  it('answers an API key, which cannot be checked now, with 503 (not 401)', async () => {
    const res = await request(app)
      .get('/dicomweb/studies')
      .set('Authorization', `Bearer hrn_0123456789ab_${'A'.repeat(43)}`);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 503, code: 'database_unavailable' });
  });

  it('reports not ready', async () => {
    const res = await request(app).get('/readyz').set('Authorization', auth);
    expect(res.status).toBe(503);
    expect(res.body.checks.postgres).not.toBe('ok');
  });
});
