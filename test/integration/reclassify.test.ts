import type { Queue } from 'bullmq';
import { execReclassify, type ReclassifyData } from '../../core/jobs/reclassify';
import { createTestDb, type TestDb } from '../support/services';

/**
 * execReclassify on its own (unit level, on a real PostgreSQL schema, with a recording queue):
 * which studies it re-classifies and the progress it reports for bull-board.
 */
describe('execReclassify', () => {
  let t: TestDb;
  const uid = (prefix: number, i: number) => `1.2.826.0.1.${prefix}.${String(i).padStart(5, '0')}`;

  beforeAll(async () => {
    t = await createTestDb();
    await t.db('institution').insert([
      { code: 'R1', name: '一院', region: 'ZJ', level: 'L3A' },
      { code: 'R2', name: '二院', region: 'ZJ', level: 'L2A' },
    ]);
    const rows: Array<{ study_instance_uid: string; sending_institution_code: string | null; attributes: object }> = [
      ...Array.from({ length: 1203 }, (_, i) => ({ study_instance_uid: uid(1, i), sending_institution_code: 'R1', attributes: {} })),
      ...Array.from({ length: 7 }, (_, i) => ({ study_instance_uid: uid(2, i), sending_institution_code: 'R2', attributes: {} })),
      ...Array.from({ length: 3 }, (_, i) => ({ study_instance_uid: uid(3, i), sending_institution_code: null, attributes: {} })),
    ];
    await t.db.batchInsert('study', rows, 500);
  });
  afterAll(() => t.drop());

  function run(data: ReclassifyData) {
    const add = jest.fn(async () => undefined);
    const updateProgress = jest.fn(async () => undefined);
    const result = execReclassify({ db: t.db, classifyQueue: { add } as unknown as Queue }, { data, updateProgress });
    return { add, updateProgress, result };
  }

  it("re-classifies one institution's studies in batches, reporting progress per batch", async () => {
    const { add, updateProgress, result } = run({ reason: 'local_mapping', institutionCode: 'R1' });
    expect(await result).toEqual({ studies: 1203 });
    // 500, 1000, 1203 of 1203 studies.
    expect(updateProgress.mock.calls).toEqual([[42], [83], [100]]);
    expect(add).toHaveBeenCalledTimes(1203);
    const calls = add.mock.calls as unknown as Array<[string, { studyInstanceUid: string }, { deduplication: { id: string } }]>;
    expect(calls.every(([name, data, opts]) => name === 'classify' && opts.deduplication.id === data.studyInstanceUid)).toBe(true);
    const studies = calls.map(([, data]) => data.studyInstanceUid);
    expect(new Set(studies).size).toBe(1203);
    expect(studies.every((s) => s.startsWith('1.2.826.0.1.1.'))).toBe(true);
  });

  it('re-classifies every study after a catalog version change; an institution without studies is done at once', async () => {
    const all = run({ reason: 'catalog_version', catalogId: 'zhejiang-2021' });
    expect(await all.result).toEqual({ studies: 1213 });
    expect(all.updateProgress.mock.calls.at(-1)).toEqual([100]);

    const none = run({ reason: 'local_mapping', institutionCode: 'NONE' });
    expect(await none.result).toEqual({ studies: 0 });
    expect(none.add).not.toHaveBeenCalled();
    expect(none.updateProgress.mock.calls).toEqual([[100]]);
  });
});
