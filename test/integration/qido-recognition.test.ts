import { getCatalog } from '../../catalogs';
import { Institution } from '../../core/recognition/institution-schema';
import { upsertInstitution } from '../../core/recognition/institutions';
import { makeInstance, randomUid } from '../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../support/gateway';

type Result = Record<string, { vr: string; Value?: unknown[] }>;

/** huren's recognition extension of QIDO-RS /studies: filters and the private attribute block. */
describe('QIDO-RS recognition extension', () => {
  let gw: TestGateway;
  const fresh = randomUid();
  const expired = randomUid();
  const other = randomUid();
  const day = (daysAgo: number) => new Date(Date.now() + 8 * 3600_000 - daysAgo * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');

  async function study(uid: string, daysAgo: number, item: string) {
    const { body, contentType } = multipartBody([makeInstance({ studyInstanceUid: uid, modality: 'DX', studyDate: day(daysAgo), patientId: 'QR-1' })]);
    expect((await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType } })).status).toBe(200);
    await gw.waitForIndexed(uid, 1);
    const db = gw.core.db;
    await db('study').where({ study_instance_uid: uid }).update({ sending_institution_code: 'XJ-A' });
    await db('study_item').insert({
      study_instance_uid: uid,
      catalog_id: 'xinjiang',
      catalog_version: getCatalog('xinjiang')!.version,
      item_code: item,
      confidence: 1,
    });
    await db('study_quality').insert({ study_instance_uid: uid, result: 'pass', findings: '[]', item_codes: [item], rules_version: 'test' });
    await db('study_report').insert({ study_instance_uid: uid, author: '报告医师', signed_at: new Date(), conclusion: '未见异常' });
  }

  beforeAll(async () => {
    // Studies never become stable during the test: no classify job overwrites the rows written here.
    gw = await startTestGateway({ env: { HUREN_STUDY_STABLE_SECONDS: '3600' } });
    const accreditations = [{ catalogId: 'xinjiang', modality: 'DR', validFrom: '2020-01-01' }];
    await upsertInstitution(gw.core.db, Institution.parse({ code: 'XJ-A', name: '甲医院', region: 'XJ', level: 'L3A', accreditations }));
    await upsertInstitution(gw.core.db, Institution.parse({ code: 'XJ-B', name: '乙医院', region: 'XJ', level: 'L2A' }));
    await study(fresh, 5, 'XJHRYX-DR0208');
    await study(expired, 45, 'XJHRYX-DR0208');
    await study(other, 5, 'XJHRYX-DR0209');
  });
  afterAll(() => gw.close());

  const search = async (query: string) => {
    const res = await gw.fetch(`${gw.dicomweb}/studies?${query}`);
    expect(res.status).toBe(200);
    return (await res.json()) as Result[];
  };
  const uids = (results: Result[]) => results.map((r) => r['0020000D'].Value![0]).sort();

  it('filters by item and returns the private recognition block', async () => {
    const results = await search('recognitionCode=XJHRYX-DR0208');
    expect(uids(results)).toEqual([fresh, expired].sort());
    const r = results.find((x) => x['0020000D'].Value![0] === fresh)!;
    expect(r['00110010']).toEqual({ vr: 'LO', Value: ['HUREN RECOGNITION 1'] });
    expect(r['00111010']).toEqual({ vr: 'LO', Value: ['xinjiang:XJHRYX-DR0208'] });
    expect(r['00111013']).toEqual({ vr: 'CS', Value: ['PASS'] });
    expect(r['00111012'].Value![0]).toMatch(/^\d{8}235959\+0800$/);
  });

  it('keeps only studies valid on validAt', async () => {
    expect(uids(await search(`recognitionCode=XJHRYX-DR0208&validAt=${day(0)}`))).toEqual([fresh]);
    expect(uids(await search(`recognitionCode=XJHRYX-DR0208&validAt=${day(40)}`))).toEqual([expired]);
  });

  it('keeps only studies the institution may recognise, with the verdict', async () => {
    const [r, ...rest] = await search('recognitionCode=XJHRYX-DR0208&recognizableFor=XJ-B');
    expect(rest).toHaveLength(0);
    expect(r['0020000D'].Value).toEqual([fresh]);
    expect(r['00111011']).toEqual({ vr: 'CS', Value: ['RECOGNIZABLE'] });
  });

  it.each([
    ['recognizableFor without recognitionCode', 'recognizableFor=XJ-B'],
    ['an unknown item', 'recognitionCode=NOPE'],
    ['a bad date', 'recognitionCode=XJHRYX-DR0208&validAt=2026-13-45'],
    ['an unknown institution', 'recognitionCode=XJHRYX-DR0208&recognizableFor=NOPE'],
  ])('answers 400 for %s', async (_name, query) => {
    const res = await gw.fetch(`${gw.dicomweb}/studies?${query}`);
    expect(res.status).toBe(400);
  });

  it('is a study-level extension: other levels refuse the parameters', async () => {
    expect((await gw.fetch(`${gw.dicomweb}/series?recognitionCode=XJHRYX-DR0208`)).status).toBe(400);
  });
});
