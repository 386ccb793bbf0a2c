import { Queue, UnrecoverableError } from 'bullmq';
import { mkdtempSync, rmSync, utimesSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { IndexWriter } from '../../core/index-store/index-writer';
import { beginUpload } from '../../core/ingest/record';
import pLimit from 'p-limit';
import { enqueueIndexInstances, execIndexInstance, execIndexJob, indexJobId, INDEX_JOB_MAX_INSTANCES, InstanceRowReader } from '../../core/jobs/index-instance';
import type { ByteRange } from '../../core/storage/object-store';
import { WITHOUT_NATIONAL_IDS } from '../../core/recognition/at-index';
import { execReconcile } from '../../core/jobs/reconcile';
import { execStudyStable } from '../../core/jobs/study-stable';
import { FsObjectStore } from '../../core/storage/fs-store';
import { uploadObjectKey } from '../../core/storage/keys';
import { makeInstance, randomUid } from '../support/dicom-factory';
import { createTestDb, TEST_REDIS_URL, uniqueName, type TestDb } from '../support/services';
import { storeParts, uploadDeps } from '../support/upload';

/** The index job's exec function on the real database and a real store, without a queue in between. */
describe('index-instance, study-stable and reconcile jobs', () => {
  let t: TestDb;
  let dir: string;
  let store: FsObjectStore;
  let queue: Queue;
  let writer: IndexWriter;
  const indexed: string[] = [];
  let rows: InstanceRowReader;
  const deps = () => ({ db: t.db, store, rows, writer });

  beforeAll(async () => {
    t = await createTestDb();
    dir = mkdtempSync(path.join(os.tmpdir(), 'huren-index-'));
    store = new FsObjectStore(dir);
    writer = new IndexWriter({ db: t.db, recognition: WITHOUT_NATIONAL_IDS, maxGroup: 200, onIndexed: async (study) => void indexed.push(study) });
    rows = new InstanceRowReader(t.db, 200);
    queue = new Queue('index-instance', { connection: { url: TEST_REDIS_URL }, prefix: uniqueName('huren-test') });
  });
  afterAll(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    await writer.close();
    await t.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** What STOW does for one instance: object written, row recorded as received. */
  async function receive(part10: Buffer): Promise<{ sop: string; version: number }> {
    const [outcome] = await storeParts(uploadDeps(t.db, store), [part10]);
    if (!outcome.stored || outcome.duplicate) throw new Error('not stored');
    const row = await t.db('instance').where({ sop_instance_uid: outcome.identity.sopInstanceUid }).first('version');
    return { sop: outcome.identity.sopInstanceUid, version: row.version };
  }

  it('keeps study and series aggregates exact under concurrent jobs of one study', async () => {
    const study = randomUid();
    const series = [randomUid(), randomUid()];
    const received = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        receive(makeInstance({ studyInstanceUid: study, seriesInstanceUid: series[i % 2], modality: i % 2 ? 'MR' : 'CT', instanceNumber: i + 1 })),
      ),
    );
    await Promise.all(received.map((r) => execIndexInstance(deps(), { sopInstanceUid: r.sop, version: r.version })));

    const row = await t.db('study').where({ study_instance_uid: study }).first();
    expect(row.number_of_study_related_instances).toBe(20);
    expect(row.number_of_study_related_series).toBe(2);
    expect(row.modalities_in_study).toEqual(['CT', 'MR']);
    const counts = await t.db('series').where({ study_instance_uid: study }).select('number_of_series_related_instances');
    expect(counts.map((c) => c.number_of_series_related_instances)).toEqual([10, 10]);
    // Once per group the study was written in, not once per instance.
    expect(indexed.filter((s) => s === study).length).toBeGreaterThanOrEqual(1);
    expect(indexed.filter((s) => s === study).length).toBeLessThanOrEqual(20);
  });

  it('is idempotent: a retried or outdated job changes nothing', async () => {
    const { sop, version } = await receive(makeInstance());
    expect(await execIndexInstance(deps(), { sopInstanceUid: sop, version })).toBe('indexed');
    expect(await execIndexInstance(deps(), { sopInstanceUid: sop, version })).toBe('skipped');
    expect(await execIndexInstance(deps(), { sopInstanceUid: sop, version: version + 1 })).toBe('skipped');
  });

  it('indexes an instance whose text holds a NUL character (PostgreSQL stores none), without the NUL', async () => {
    const { sop, version } = await receive(makeInstance({ studyDescription: 'MR\u0000HEAD' }));
    expect(await execIndexInstance(deps(), { sopInstanceUid: sop, version })).toBe('indexed');
    const row = await t.db('instance').where({ sop_instance_uid: sop }).first('metadata', 'study_instance_uid');
    expect(row.metadata['00081030']).toEqual({ vr: 'LO', Value: ['MRHEAD'] });
    expect(await t.db('study').where({ study_instance_uid: row.study_instance_uid }).first('study_description')).toEqual({ study_description: 'MRHEAD' });
  });

  it('fails unrecoverably, with the reason kept, for an object that cannot be parsed', async () => {
    const part10 = makeInstance();
    const { sop, version } = await receive(part10);
    const row = await t.db('instance').where({ sop_instance_uid: sop }).first();
    await store.put(row.object_key, Readable.from([part10.subarray(0, 600)]));
    await expect(execIndexInstance(deps(), { sopInstanceUid: sop, version })).rejects.toBeInstanceOf(UnrecoverableError);
    expect((await t.db('instance').where({ sop_instance_uid: sop }).first()).index_error).toMatch(/truncated|ends/i);
    await expect(execIndexInstance(deps(), { sopInstanceUid: randomUid(), version: 1 })).rejects.toBeInstanceOf(UnrecoverableError);
  });

  it('indexes a batch job around the instances that can never be indexed, then fails it naming them', async () => {
    const good = await Promise.all(Array.from({ length: 3 }, () => receive(makeInstance())));
    const part10 = makeInstance();
    const truncated = await receive(part10);
    const row = await t.db('instance').where({ sop_instance_uid: truncated.sop }).first('object_key');
    await store.put(row.object_key, Readable.from([part10.subarray(0, 600)]));
    const missing = { sopInstanceUid: randomUid(), version: 1 };
    const instances = [...good, truncated].map((r) => ({ sopInstanceUid: r.sop, version: r.version }));

    const run = execIndexJob({ ...deps(), slots: pLimit(4) }, { instances: [...instances, missing] });
    await expect(run).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(run).rejects.toThrow(new RegExp(`^2 of 5 instances not indexed: .*${truncated.sop}.*${missing.sopInstanceUid}`));
    const statuses = await t
      .db('instance')
      .whereIn(
        'sop_instance_uid',
        instances.map((i) => i.sopInstanceUid),
      )
      .select('sop_instance_uid', 'status', 'index_error');
    expect(
      statuses
        .filter((r) => r.status === 'indexed')
        .map((r) => r.sop_instance_uid)
        .sort(),
    ).toEqual(good.map((g) => g.sop).sort());
    expect(statuses.find((r) => r.sop_instance_uid === truncated.sop).index_error).toMatch(/truncated|ends/i);
  });

  it('fails a batch job for a retry when storage fails for one instance, and the retry indexes only what is left', async () => {
    const received = await Promise.all(Array.from({ length: 4 }, () => receive(makeInstance())));
    const unreadable = (await t.db('instance').where({ sop_instance_uid: received[2].sop }).first('object_key')).object_key;
    let storageDown = true;
    // The fs store, unavailable for one object while storageDown: a storage outage as the job sees it.
    const flaky = Object.assign(Object.create(store) as FsObjectStore, {
      get: (key: string, range?: ByteRange) => (storageDown && key === unreadable ? Promise.reject(new Error('connect ECONNREFUSED')) : store.get(key, range)),
    });
    const data = { instances: received.map((r) => ({ sopInstanceUid: r.sop, version: r.version })) };

    const first = execIndexJob({ ...deps(), store: flaky, slots: pLimit(4) }, data);
    await expect(first).rejects.toThrow('ECONNREFUSED');
    await expect(first).rejects.not.toBeInstanceOf(UnrecoverableError);
    expect(
      await t
        .db('instance')
        .whereIn(
          'sop_instance_uid',
          data.instances.map((i) => i.sopInstanceUid),
        )
        .where({ status: 'indexed' })
        .count(),
    ).toEqual([{ count: '3' }]);

    storageDown = false;
    expect(await execIndexJob({ ...deps(), store: flaky, slots: pLimit(4) }, data)).toEqual({ indexed: 1, skipped: 3 });
  });

  it("parses no more of a job's instances at once than the process has slots", async () => {
    const received = await Promise.all(Array.from({ length: 8 }, () => receive(makeInstance())));
    let reading = 0;
    let most = 0;
    const held: Array<() => void> = [];
    const counting = Object.assign(Object.create(store) as FsObjectStore, {
      get: async (key: string, range?: ByteRange) => {
        most = Math.max(most, ++reading);
        await new Promise<void>((resolve) => held.push(resolve));
        reading--;
        return store.get(key, range);
      },
    });
    const data = { instances: received.map((r) => ({ sopInstanceUid: r.sop, version: r.version })) };
    let finished = false;
    const job = execIndexJob({ ...deps(), store: counting, slots: pLimit(2) }, data).finally(() => (finished = true));
    while (!finished) {
      // Every instance not held back by a slot gets as far as its read: its row read (queued
      // behind this one) done, then a few turns of the event loop.
      await rows.read(randomUid());
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
      for (const release of held.splice(0)) release();
    }
    expect(await job).toEqual({ indexed: 8, skipped: 0 });
    expect(most).toBe(2);
  });

  it('enqueues a STOW batch as jobs of at most INDEX_JOB_MAX_INSTANCES instances, with ids from their first instance', async () => {
    const instances = Array.from({ length: 2 * INDEX_JOB_MAX_INSTANCES + 3 }, () => ({ sopInstanceUid: randomUid(), version: 1 }));
    await enqueueIndexInstances(queue, instances, 3);
    const ids = [0, INDEX_JOB_MAX_INSTANCES, 2 * INDEX_JOB_MAX_INSTANCES].map((i) => indexJobId(instances.slice(i, i + INDEX_JOB_MAX_INSTANCES)));
    expect(ids[0]).toBe(`${instances[0].sopInstanceUid}-v1+${INDEX_JOB_MAX_INSTANCES - 1}`);
    expect(ids[2]).toBe(`${instances[2 * INDEX_JOB_MAX_INSTANCES].sopInstanceUid}-v1+2`);
    const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
    expect(jobs.map((j) => j?.data.instances.length)).toEqual([INDEX_JOB_MAX_INSTANCES, INDEX_JOB_MAX_INSTANCES, 3]);
    expect(jobs.flatMap((j) => j?.data.instances)).toEqual(instances);
    // Enqueued again (a repeated call), the same jobs: nothing added.
    const before = await queue.count();
    await enqueueIndexInstances(queue, instances, 3);
    expect(await queue.count()).toBe(before);
    expect(indexJobId([instances[0]])).toBe(`${instances[0].sopInstanceUid}-v1`);
  });

  it('marks a study stable only after the quiet period', async () => {
    const study = randomUid();
    const { sop, version } = await receive(makeInstance({ studyInstanceUid: study }));
    await execIndexInstance(deps(), { sopInstanceUid: sop, version });
    const hooked: string[] = [];
    const stable = (quietMs: number) => execStudyStable({ db: t.db, quietMs, onStable: [async (s) => void hooked.push(s)] }, { studyInstanceUid: study });
    expect(await stable(60_000)).toBe('not_quiet');
    expect(await stable(1)).toBe('stable');
    expect(hooked).toEqual([study]);
    expect(await execStudyStable({ db: t.db, quietMs: 1, onStable: [] }, { studyInstanceUid: randomUid() })).toBe('unknown');
  });

  it('re-enqueues received-but-unindexed instances and removes objects of uploads that never committed', async () => {
    const { sop, version } = await receive(makeInstance());
    await t
      .db('instance')
      .where({ sop_instance_uid: sop })
      .update({ received_at: new Date(Date.now() - 3_600_000) });

    // A gateway that crashed mid-request: its claim and a partial object under its prefix.
    const orphan = await beginUpload(t.db);
    const orphanKey = uploadObjectKey(orphan.prefix, 1, randomUid());
    await store.putUnsynced(orphanKey, Readable.from([Buffer.from('partial')]));
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(path.join(dir, orphanKey), hourAgo, hourAgo);
    await t.db('upload').where({ id: orphan.uploadId }).update({ created_at: hourAgo });

    const result = await execReconcile({ db: t.db, store, indexQueue: queue, jobAttempts: 3, graceMs: 60_000, batchSize: 100 });
    expect(result.reenqueued).toBeGreaterThanOrEqual(1);
    expect(result.orphansRemoved).toBe(1);
    expect(await queue.getJob(`${sop}-v${version}`)).toBeDefined();
    expect(await store.stat(orphanKey)).toBeUndefined();
    expect(await t.db('upload').where({ id: orphan.uploadId })).toHaveLength(0);
  });
});
