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
import { beginUpload, recordInstances } from '../../core/ingest/record';
import type { UploadSessionDeps } from '../../core/ingest/upload-session';
import { enqueueIndexInstances, indexJobId } from '../../core/jobs/index-instance';
import { execReconcile } from '../../core/jobs/reconcile';
import { FsObjectStore } from '../../core/storage/fs-store';
import { uploadObjectKey } from '../../core/storage/keys';
import type { ObjectStore } from '../../core/storage/object-store';
import { makeInstance } from '../support/dicom-factory';
import { createTestDb, TEST_REDIS_URL, uniqueName, type TestDb } from '../support/services';
import { storeParts, uploadDeps } from '../support/upload';

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
  const storeDeps = (over: Partial<UploadSessionDeps> = {}): UploadSessionDeps => uploadDeps(over.db ?? t.db, store, over);
  const storeOne = async (deps: UploadSessionDeps, part10: Buffer) => (await storeParts(deps, [part10]))[0];

  it('re-runs an index job whose attempts were all spent (storage-down-10s: acknowledged instances never indexed)', async () => {
    const part10 = makeInstance();
    const outcome = await storeOne(storeDeps(), part10);
    if (!outcome.stored) throw new Error(outcome.message);
    const data = { sopInstanceUid: outcome.identity.sopInstanceUid, version: 1 };
    // The job fails for good, as when storage or PostgreSQL stays away longer than its retries.
    await enqueueIndexInstances(queue, [data], 1);
    const worker = new Worker(
      'index-instance',
      async () => {
        throw new UnrecoverableError('storage unavailable');
      },
      { connection, prefix },
    );
    await new Promise<void>((resolve) => worker.once('failed', () => resolve()));
    await worker.close();
    expect(await queue.getJobState(indexJobId([data]))).toBe('failed');
    await t.db('instance').where({ sop_instance_uid: data.sopInstanceUid }).update({ received_at: HOUR_AGO() });

    await reconcile();
    expect(await queue.getJobState(indexJobId([data]))).toBe('waiting');
    const job = await queue.getJob(indexJobId([data]));
    expect(job?.attemptsMade).toBe(0);
  });

  it('arms the quiet-period timer again for a study whose "stable" event was lost (redis-restart: studies never stable)', async () => {
    const stableQueue = new Queue('study-stable', { connection, prefix });
    try {
      const outcome = await storeOne(storeDeps(), makeInstance());
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

  it('removes the unreferenced objects of a gateway killed mid-request, but not those of a request still writing (gateway-kill9)', async () => {
    // A request with one instance recorded, one written but not yet recorded, and one half-written.
    const begin = async () => {
      const upload = await beginUpload(t.db);
      const recorded = makeInstance();
      const [outcome] = await storeParts(storeDeps(), [recorded]);
      if (!outcome.stored) throw new Error(outcome.message);
      const recordedKey = uploadObjectKey(upload.prefix, 1, outcome.identity.sopInstanceUid);
      await store.putUnsynced(recordedKey, Readable.from([recorded]));
      await t.db('instance').where({ sop_instance_uid: outcome.identity.sopInstanceUid }).update({ object_key: recordedKey });
      const written = uploadObjectKey(upload.prefix, 2, headerOf(makeInstance()).sopInstanceUid);
      await store.putUnsynced(written, Readable.from([makeInstance()]));
      const body = new PassThrough();
      const halfKey = uploadObjectKey(upload.prefix, 3, headerOf(makeInstance()).sopInstanceUid);
      const half = store.putUnsynced(halfKey, body).catch(() => undefined);
      body.write(Buffer.alloc(1000));
      for (let i = 0; i < 200 && !existsSync(path.join(dir, halfKey)); i++) await new Promise((r) => setTimeout(r, 10));
      await t.db('upload').where({ id: upload.uploadId }).update({ created_at: HOUR_AGO() });
      const files = () => (existsSync(path.join(dir, upload.prefix)) ? readdirSync(path.join(dir, upload.prefix)).sort() : []);
      return { upload, body, half, files, keys: [recordedKey, written, halfKey] };
    };
    const dead = await begin();
    const alive = await begin();
    // The dead one has not been written to for an hour (its process is gone); the other just now.
    for (const key of dead.keys) utimesSync(path.join(dir, key), HOUR_AGO(), HOUR_AGO());
    expect(dead.files()).toHaveLength(3);

    await reconcile();
    expect(dead.files()).toEqual([path.basename(dead.keys[0])]);
    expect(await t.db('upload').where({ id: dead.upload.uploadId })).toHaveLength(0);
    expect(alive.files()).toHaveLength(3);
    expect(await t.db('upload').where({ id: alive.upload.uploadId })).toHaveLength(1);

    for (const p of [dead, alive]) {
      p.body.destroy();
      await p.half;
    }
  });

  it('does not record into an upload the sweep has taken (the sweep may have deleted its objects)', async () => {
    const part10 = makeInstance();
    const identity = headerOf(part10);
    const upload = await beginUpload(t.db);
    const objectKey = uploadObjectKey(upload.prefix, 1, identity.sopInstanceUid);
    await store.putUnsynced(objectKey, Readable.from([part10]));
    utimesSync(path.join(dir, objectKey), HOUR_AGO(), HOUR_AGO());
    await t.db('upload').where({ id: upload.uploadId }).update({ created_at: HOUR_AGO() });
    await reconcile();
    expect(await store.stat(objectKey)).toBeUndefined();

    const item = { uploadId: upload.uploadId, identity, written: { objectKey, sizeBytes: part10.length, sha256: 'a'.repeat(64) }, receivedFrom: null };
    expect(await recordInstances(t.db, [item], 'replace')).toEqual([{ kind: 'expired' }]);
    expect(await t.db('instance').where({ sop_instance_uid: identity.sopInstanceUid })).toHaveLength(0);
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
    const before: string[] = await t.db('upload').pluck('id');
    const first = await storeOne(storeDeps({ db: brokenAfterCommit }), part10);
    expect(first).toMatchObject({ stored: false, unavailable: true });

    // The client retries: identical bytes, so a duplicate of the committed row, whose object must exist.
    const retry = await storeOne(storeDeps(), part10);
    expect(retry).toMatchObject({ stored: true, duplicate: true });
    const row = await t.db('instance').where({ sop_instance_uid: sop }).first();
    expect(await store.stat(row.object_key)).toEqual({ size: part10.length });
    // The first request's claim stayed (its commit's outcome was unknown); the sweep keeps the referenced object.
    const kept = t.db('upload').whereNotIn('id', before);
    expect(await kept.clone()).toHaveLength(1);
    await kept.clone().update({ created_at: HOUR_AGO() });
    utimesSync(path.join(dir, row.object_key), HOUR_AGO(), HOUR_AGO());
    await reconcile();
    expect(await kept.clone()).toHaveLength(0);
    expect(await store.stat(row.object_key)).toEqual({ size: part10.length });
  });

  it('leaves the upload claim for the sweep when the redundant object of a duplicate cannot be deleted', async () => {
    const part10 = makeInstance();
    expect(await storeOne(storeDeps(), part10)).toMatchObject({ stored: true });
    const before: string[] = await t.db('upload').pluck('id');
    // Storage goes away right after the second copy was written and recorded as a duplicate.
    const failingDelete: ObjectStore = Object.assign(Object.create(store) as FsObjectStore, {
      delete: async () => {
        throw new Error('connect ECONNREFUSED');
      },
    });
    expect(await storeOne(storeDeps({ store: failingDelete }), part10)).toMatchObject({ stored: true, duplicate: true });
    const [left] = await t.db('upload').whereNotIn('id', before);
    expect(left).toBeDefined();
    const [copy] = await store.list(left.object_prefix);
    expect(await store.stat(copy.key)).toEqual({ size: part10.length });

    await t.db('upload').where({ id: left.id }).update({ created_at: HOUR_AGO() });
    utimesSync(path.join(dir, copy.key), HOUR_AGO(), HOUR_AGO());
    await reconcile();
    expect(await store.stat(copy.key)).toBeUndefined();
    const row = await t
      .db('instance')
      .where({ sop_instance_uid: headerOf(part10).sopInstanceUid })
      .first();
    expect(await store.stat(row.object_key)).toEqual({ size: part10.length });
  });
});
