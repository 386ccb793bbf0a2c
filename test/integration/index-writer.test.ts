import { Queue } from 'bullmq';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { IndexWriter } from '../../core/index-store/index-writer';
import type { IndexItem } from '../../core/index-store/upsert';
import { readInstance } from '../../core/dicom/read-instance';
import { execIndexInstance, InstanceRowReader } from '../../core/jobs/index-instance';
import { enqueueStudyStable } from '../../core/jobs/study-stable';
import { WITHOUT_NATIONAL_IDS } from '../../core/recognition/at-index';
import { FsObjectStore } from '../../core/storage/fs-store';
import { makeInstance, randomUid, type MakeInstanceOptions } from '../support/dicom-factory';
import { createTestDb, TEST_REDIS_URL, uniqueName, type TestDb } from '../support/services';
import { storeParts, uploadDeps } from '../support/upload';

/** The group-commit index writer (core/index-store/index-writer.ts) on the real database, store and Redis. */
describe('index writer', () => {
  let t: TestDb;
  let dir: string;
  let store: FsObjectStore;
  let stableQueue: Queue;
  const writers: IndexWriter[] = [];
  /** onIndexed calls, by study. */
  const renewed = new Map<string, number>();

  const newWriter = () => {
    const writer = new IndexWriter({
      db: t.db,
      recognition: WITHOUT_NATIONAL_IDS,
      maxGroup: 200,
      onIndexed: async (study) => {
        renewed.set(study, (renewed.get(study) ?? 0) + 1);
        await enqueueStudyStable(stableQueue, study, 60_000);
      },
    });
    writers.push(writer);
    return writer;
  };

  beforeAll(async () => {
    t = await createTestDb();
    dir = mkdtempSync(path.join(os.tmpdir(), 'huren-index-writer-'));
    store = new FsObjectStore(dir);
    stableQueue = new Queue('study-stable', { connection: { url: TEST_REDIS_URL }, prefix: uniqueName('huren-test') });
  });
  afterAll(async () => {
    await Promise.all(writers.map((w) => w.close()));
    await stableQueue.obliterate({ force: true });
    await stableQueue.close();
    await t.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** STOWs the instances (one request), returning their SOP Instance UIDs. */
  async function receive(instances: MakeInstanceOptions[]): Promise<string[]> {
    const outcomes = await storeParts(
      uploadDeps(t.db, store),
      instances.map((o) => makeInstance(o)),
    );
    return outcomes.map((o) => {
      if (!o.stored) throw new Error(`not stored: ${o.message}`);
      return o.identity.sopInstanceUid;
    });
  }

  /** What an index job hands the writer. */
  async function itemOf(sop: string): Promise<IndexItem> {
    const row = await t.db('instance').where({ sop_instance_uid: sop }).first();
    return { row, parsed: readInstance(await buffer(await store.get(row.object_key)), { bulkDataUri: () => 'bulk' }) };
  }

  const statuses = async (sops: string[]) => (await t.db('instance').whereIn('sop_instance_uid', sops).pluck('status')).sort();

  async function expectAggregates(study: string, seriesCounts: number[], modalities: string[]): Promise<void> {
    const row = await t.db('study').where({ study_instance_uid: study }).first();
    expect(row.number_of_study_related_instances).toBe(seriesCounts.reduce((a, b) => a + b, 0));
    expect(row.number_of_study_related_series).toBe(seriesCounts.length);
    expect(row.modalities_in_study).toEqual(modalities);
    const series = await t.db('series').where({ study_instance_uid: study }).orderBy('modality').pluck('number_of_series_related_instances');
    expect(series).toEqual(seriesCounts);
  }

  it('keeps aggregates exact for 3 studies × 40 instances indexed concurrently by two writers (two worker processes)', async () => {
    const studies = [randomUid(), randomUid(), randomUid()];
    const seriesOf = new Map(studies.map((s) => [s, [randomUid(), randomUid()]]));
    const sops = await receive(
      studies.flatMap((study) =>
        Array.from({ length: 40 }, (_, i) => ({
          studyInstanceUid: study,
          seriesInstanceUid: seriesOf.get(study)![i % 2],
          modality: i % 2 ? 'MR' : 'CT',
          instanceNumber: i + 1,
          patientId: `P-${study.slice(-6)}`,
        })),
      ),
    );
    const [a, b] = [newWriter(), newWriter()];
    const rows = await t.db('instance').whereIn('sop_instance_uid', sops).select('sop_instance_uid', 'version');
    const readers = [new InstanceRowReader(t.db, 200), new InstanceRowReader(t.db, 200)];
    const outcomes = await Promise.all(
      rows.map((r, i) =>
        execIndexInstance({ db: t.db, store, rows: readers[i % 2], writer: i % 2 ? a : b }, { sopInstanceUid: r.sop_instance_uid, version: r.version }),
      ),
    );

    expect(outcomes.every((o) => o === 'indexed')).toBe(true);
    expect(await statuses(sops)).toEqual(sops.map(() => 'indexed'));
    for (const study of studies) {
      await expectAggregates(study, [20, 20], ['CT', 'MR']);
      expect(renewed.get(study)).toBeGreaterThanOrEqual(1);
    }
  });

  it('fails only the instance PostgreSQL refuses, not the rest of its group', async () => {
    const study = randomUid();
    const other = randomUid();
    const sops = await receive([
      ...Array.from({ length: 6 }, (_, i) => ({ studyInstanceUid: study, instanceNumber: i + 1 })),
      // Parses, but a NUL character cannot be stored in text or jsonb.
      { studyInstanceUid: study, instanceNumber: 7, studyDescription: 'MR\u0000HEAD' },
      ...Array.from({ length: 3 }, (_, i) => ({ studyInstanceUid: other, instanceNumber: i + 1 })),
    ]);
    const items = await Promise.all(sops.map(itemOf));
    const writer = newWriter();
    // Written in one tick: the first is committed alone at once, the others wait and form one group with the bad instance.
    const results = await Promise.allSettled(items.map((item) => writer.write(item)));

    expect(results.map((r) => r.status)).toEqual([...Array(6).fill('fulfilled'), 'rejected', ...Array(3).fill('fulfilled')]);
    expect(String((results[6] as PromiseRejectedResult).reason)).toMatch(/unsupported Unicode escape|0x00/);
    expect(await t.db('instance').where({ sop_instance_uid: sops[6] }).first('status')).toEqual({ status: 'received' });
    expect(await statuses([...sops.slice(0, 6), ...sops.slice(7)])).toEqual(Array(9).fill('indexed'));
    const counts = await t
      .db('study')
      .whereIn('study_instance_uid', [study, other])
      .orderBy('number_of_study_related_instances')
      .pluck('number_of_study_related_instances');
    expect(counts).toEqual([3, 6]);
  });

  it('renews a study-stable timer once per group, also after the last instance', async () => {
    const [study, series] = [randomUid(), randomUid()];
    const sops = await receive(Array.from({ length: 51 }, (_, i) => ({ studyInstanceUid: study, seriesInstanceUid: series, instanceNumber: i + 1 })));
    const items = await Promise.all(sops.map(itemOf));
    const writer = newWriter();
    // 50 instances in one tick: a group of the first, then one of the other 49.
    await Promise.all(items.slice(0, 50).map((item) => writer.write(item)));
    expect(renewed.get(study)).toBe(2);
    await writer.write(items[50]);
    expect(renewed.get(study)).toBe(3);
    // BullMQ debounce: one delayed timer per study, however often it was renewed.
    const timers = (await stableQueue.getDelayed()).filter((j) => j.data.studyInstanceUid === study);
    expect(timers).toHaveLength(1);
    await expectAggregates(study, [51], ['CT']);
  });

  it('is idempotent: a group written twice keeps its counts, and re-run jobs are skipped', async () => {
    const study = randomUid();
    const series = [randomUid(), randomUid()];
    const sops = await receive(
      Array.from({ length: 10 }, (_, i) => ({
        studyInstanceUid: study,
        seriesInstanceUid: series[i % 2],
        modality: i % 2 ? 'MR' : 'CT',
        instanceNumber: i + 1,
      })),
    );
    const items = await Promise.all(sops.map(itemOf));
    const writer = newWriter();
    await Promise.all(items.map((item) => writer.write(item)));
    await expectAggregates(study, [5, 5], ['CT', 'MR']);
    await Promise.all(items.map((item) => writer.write(item)));
    await expectAggregates(study, [5, 5], ['CT', 'MR']);

    const rows = new InstanceRowReader(t.db, 200);
    const rerun = await Promise.all(
      items.map(({ row }) => execIndexInstance({ db: t.db, store, rows, writer }, { sopInstanceUid: row.sop_instance_uid, version: row.version })),
    );
    expect(rerun).toEqual(Array(10).fill('skipped'));
  });

  it('refuses writes once closed', async () => {
    const writer = newWriter();
    await writer.close();
    const [sop] = await receive([{}]);
    await expect(writer.write(await itemOf(sop))).rejects.toThrow(/closed/);
  });
});
