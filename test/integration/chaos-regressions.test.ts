/**
 * Regression tests for what the fault scenarios (`npm run chaos`, docs/chaos.md) found: each
 * reproduces one failure on the real database, Redis and filesystem store, without a fault.
 */
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { existsSync, mkdtempSync, readdirSync, rmSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import type { Db } from '../../core/db';
import { readPart10Header } from '../../core/dicom/part10-header';
import { beginUpload, recordInstance, UploadExpiredError } from '../../core/ingest/record';
import { storeInstance, type StoreInstanceDeps } from '../../core/ingest/store-instance';
import { enqueueIndexInstance, indexJobId } from '../../core/jobs/index-instance';
import { execReconcile } from '../../core/jobs/reconcile';
import { FsObjectStore } from '../../core/storage/fs-store';
import type { ObjectStore } from '../../core/storage/object-store';
import { makeInstance } from '../support/dicom-factory';
import { createTestDb, TEST_REDIS_URL, uniqueName, type TestDb } from '../support/services';

const HOUR_AGO = () => new Date(Date.now() - 3_600_000);

describe('fault-scenario regressions', () => {
  let t: TestDb;
  let dir: string;
  let store: FsObjectStore;
  let queue: Queue;
  const connection = { url: TEST_REDIS_URL };
  const prefix = uniqueName('huren-test');
  const reconcile = (s: ObjectStore = store) => execReconcile({ db: t.db, store: s, indexQueue: queue, jobAttempts: 3, graceMs: 60_000, batchSize: 100 });

  beforeAll(async () => {
    t = await createTestDb();
    dir = mkdtempSync(path.join(os.tmpdir(), 'huren-chaos-regr-'));
    store = new FsObjectStore(dir);
    queue = new Queue('index-instance', { connection, prefix });
  });
  afterAll(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    await t.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const headerOf = (part10: Buffer) => {
    const header = readPart10Header(part10);
    if (header === 'incomplete') throw new Error('incomplete');
    return header;
  };
  const storeDeps = (over: Partial<StoreInstanceDeps> = {}): StoreInstanceDeps => ({
    db: t.db,
    store,
    conflictPolicy: 'replace',
    maxInstanceBytes: 1e9,
    onReceived: async () => undefined,
    ...over,
  });

  it('re-runs an index job whose attempts were all spent (storage-down-10s: acknowledged instances never indexed)', async () => {
    const part10 = makeInstance();
    const outcome = await storeInstance(storeDeps(), Readable.from([part10]));
    if (!outcome.stored) throw new Error(outcome.message);
    const data = { sopInstanceUid: outcome.identity.sopInstanceUid, version: 1 };
    // The job fails for good, as when storage or PostgreSQL stays away longer than its retries.
    await enqueueIndexInstance(queue, data, 1);
    const worker = new Worker(
      'index-instance',
      async () => {
        throw new UnrecoverableError('storage unavailable');
      },
      { connection, prefix },
    );
    await new Promise<void>((resolve) => worker.once('failed', () => resolve()));
    await worker.close();
    expect(await queue.getJobState(indexJobId(data))).toBe('failed');
    await t.db('instance').where({ sop_instance_uid: data.sopInstanceUid }).update({ received_at: HOUR_AGO() });

    await reconcile();
    expect(await queue.getJobState(indexJobId(data))).toBe('waiting');
    const job = await queue.getJob(indexJobId(data));
    expect(job?.attemptsMade).toBe(0);
  });

  it('arms the quiet-period timer again for a study whose "stable" event was lost (redis-restart: studies never stable)', async () => {
    const stableQueue = new Queue('study-stable', { connection, prefix });
    try {
      const outcome = await storeInstance(storeDeps(), Readable.from([makeInstance()]));
      if (!outcome.stored) throw new Error(outcome.message);
      const study = outcome.identity.studyInstanceUid;
      // Indexed long ago, never marked stable, and no timer in Redis (it was lost with Redis).
      await t.db('instance').where({ sop_instance_uid: outcome.identity.sopInstanceUid }).update({ status: 'indexed', indexed_at: HOUR_AGO() });
      await t.db('study').insert({ study_instance_uid: study, attributes: {}, last_instance_at: HOUR_AGO() });
      const fresh = `${study}.1`;
      await t.db('study').insert({ study_instance_uid: fresh, attributes: {} });

      const sweep = () =>
        execReconcile({
          db: t.db,
          store,
          indexQueue: queue,
          jobAttempts: 3,
          graceMs: 60_000,
          batchSize: 100,
          studyStable: { queue: stableQueue, quietMs: 60_000 },
        });
      expect((await sweep()).stableRearmed).toBe(1);
      const [armed] = await stableQueue.getDelayed();
      expect(armed.data.studyInstanceUid).toBe(study);
      // The next sweep leaves the pending timer alone: renewing it each time would postpone it forever.
      await sweep();
      const again = await stableQueue.getDelayed();
      expect(again.map((j) => [j.id, j.timestamp])).toEqual([[armed.id, armed.timestamp]]);
    } finally {
      await stableQueue.obliterate({ force: true });
      await stableQueue.close();
    }
  });

  it('removes the temp file of a gateway killed mid-write, but not that of a put still writing (gateway-kill9: orphan .part files)', async () => {
    const begin = async () => {
      const upload = await beginUpload(t.db, headerOf(makeInstance()));
      const body = new PassThrough();
      const put = store.put(upload.objectKey, body).catch(() => undefined);
      body.write(Buffer.alloc(1000));
      const instanceDir = path.join(dir, path.dirname(upload.objectKey));
      const temps = () => (existsSync(instanceDir) ? readdirSync(instanceDir).filter((n) => n.endsWith('.part')) : []);
      for (let i = 0; i < 200 && temps().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      await t.db('upload').where({ id: upload.uploadId }).update({ created_at: HOUR_AGO() });
      return { upload, body, put, temps };
    };
    const dead = await begin();
    const alive = await begin();
    // The dead one has not been written to for an hour (its process is gone); the other just now.
    for (const name of dead.temps()) utimesSync(path.join(dir, path.dirname(dead.upload.objectKey), name), HOUR_AGO(), HOUR_AGO());
    expect(dead.temps()).toHaveLength(1);

    await reconcile();
    expect(dead.temps()).toHaveLength(0);
    expect(await t.db('upload').where({ id: dead.upload.uploadId })).toHaveLength(0);
    expect(alive.temps()).toHaveLength(1);
    expect(await t.db('upload').where({ id: alive.upload.uploadId })).toHaveLength(1);

    for (const p of [dead, alive]) {
      p.body.destroy();
      await p.put;
    }
  });

  it('does not record an upload the sweep has taken (the sweep may have deleted its object)', async () => {
    const part10 = makeInstance();
    const header = headerOf(part10);
    const upload = await beginUpload(t.db, header);
    await store.put(upload.objectKey, Readable.from([part10]));
    await t.db('upload').where({ id: upload.uploadId }).update({ created_at: HOUR_AGO() });
    await reconcile();
    expect(await store.stat(upload.objectKey)).toBeUndefined();

    await expect(
      recordInstance(t.db, upload.uploadId, header, { objectKey: upload.objectKey, sizeBytes: part10.length, sha256: 'a'.repeat(64) }, 'replace'),
    ).rejects.toBeInstanceOf(UploadExpiredError);
    expect(await t.db('instance').where({ sop_instance_uid: header.sopInstanceUid })).toHaveLength(0);
  });

  it('keeps the object when the connection breaks after COMMIT (a retry would be acknowledged as a duplicate of lost bytes)', async () => {
    // A database whose transactions commit and then report a broken connection.
    const brokenAfterCommit = new Proxy(t.db, {
      get(target, prop, receiver) {
        if (prop !== 'transaction') return Reflect.get(target, prop, receiver);
        return async (fn: Parameters<Db['transaction']>[0]) => {
          await target.transaction(fn as never);
          throw Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
        };
      },
    });
    const part10 = makeInstance();
    const sop = headerOf(part10).sopInstanceUid;
    const first = await storeInstance(storeDeps({ db: brokenAfterCommit }), Readable.from([part10]));
    expect(first).toMatchObject({ stored: false, unavailable: true });

    // The client retries: identical bytes, so a duplicate of the committed row, whose object must exist.
    const retry = await storeInstance(storeDeps(), Readable.from([part10]));
    expect(retry).toMatchObject({ stored: true, duplicate: true });
    const row = await t.db('instance').where({ sop_instance_uid: sop }).first();
    expect(await store.stat(row.object_key)).toEqual({ size: part10.length });
  });

  it('leaves the upload row for the sweep when the redundant object of a duplicate cannot be deleted', async () => {
    const part10 = makeInstance();
    expect(await storeInstance(storeDeps(), Readable.from([part10]))).toMatchObject({ stored: true });
    // Storage goes away right after the second copy was written and recorded as a duplicate.
    const failingDelete: ObjectStore = Object.assign(Object.create(store) as FsObjectStore, {
      delete: async () => {
        throw new Error('connect ECONNREFUSED');
      },
    });
    expect(await storeInstance(storeDeps({ store: failingDelete }), Readable.from([part10]))).toMatchObject({ stored: true, duplicate: true });
    const sop = headerOf(part10).sopInstanceUid;
    const [left] = await t.db('upload').where({ sop_instance_uid: sop });
    expect(left).toBeDefined();
    expect(await store.stat(left.object_key)).toEqual({ size: part10.length });

    await t.db('upload').where({ id: left.id }).update({ created_at: HOUR_AGO() });
    await reconcile();
    expect(await store.stat(left.object_key)).toBeUndefined();
    const row = await t.db('instance').where({ sop_instance_uid: sop }).first();
    expect(await store.stat(row.object_key)).toEqual({ size: part10.length });
  });
});
