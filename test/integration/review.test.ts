import { makeInstance, randomUid } from '../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../support/gateway';

/**
 * The review queue on the real gateway and workers: studies the classifier could not decide are
 * listed per institution; a reviewer's decision is stored, audited, re-assessed for quality and
 * optionally saved as a local mapping that re-classifies the sender's other studies.
 */
describe('review of classifications', () => {
  let gw: TestGateway;
  const H = 'REVH-001';
  const NAME = '评审示例医院';
  const S = { knee: randomUid(), kneeOlder: randomUid(), unattributed: randomUid() };
  const ZJ = 'zhejiang-2021';

  beforeAll(async () => {
    gw = await startTestGateway();
    expect((await call('PUT', `/admin/institutions/${H}`, { name: NAME, region: 'ZJ', level: 'L2A', aliases: { institutionNames: [NAME] } })).status).toBe(201);
    await stow(
      makeInstance({ studyInstanceUid: S.knee, modality: 'DX', studyDescription: 'XR KNEE RT 2V', studyDate: '20260110', extra: { InstitutionName: NAME } }),
      makeInstance({
        studyInstanceUid: S.kneeOlder,
        modality: 'DX',
        studyDescription: 'XR KNEE RT 2V',
        studyDate: '20251201',
        extra: { InstitutionName: NAME },
      }),
      makeInstance({
        studyInstanceUid: S.unattributed,
        modality: 'MR',
        studyDescription: '院内套餐C',
        studyDate: '20240101',
        extra: { InstitutionName: '未登记医院' },
      }),
    );
    await waitFor(async () => {
      const [{ n }] = await gw.core.db('study_classification').whereIn('study_instance_uid', Object.values(S)).count({ n: '*' });
      return Number(n) === 9 ? true : undefined;
    }, 'classification');
  });
  afterAll(() => gw.close());

  async function call(method: string, path: string, body?: unknown, contentType = 'application/json') {
    const res = await gw.fetch(`${gw.baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': contentType },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, json: res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined };
  }

  async function stow(...instances: Buffer[]): Promise<void> {
    const { body, contentType } = multipartBody(instances);
    const res = await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType } });
    expect(res.status).toBe(200);
  }

  async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const classification = (study: string) => gw.core.db('study_classification').where({ study_instance_uid: study, catalog_id: ZJ }).first();
  const items = (study: string) => gw.core.db('study_item').where({ study_instance_uid: study, catalog_id: ZJ }).orderBy('item_code').pluck('item_code');
  const decide = (study: string, body: unknown, catalogId = ZJ) => call('PUT', `/recognition/studies/${study}/classification/${catalogId}`, body);

  it('lists studies needing review per institution and catalog, oldest first, with candidates and reasons', async () => {
    const res = await call('GET', `/recognition/review?institution=${H}&catalog=${ZJ}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ total: 2, limit: 50, offset: 0 });
    expect(res.json.studies.map((s: { studyInstanceUid: string }) => s.studyInstanceUid)).toEqual([S.kneeOlder, S.knee]);
    expect(res.json.studies[1]).toEqual({
      studyInstanceUid: S.knee,
      studyDate: '2026-01-10',
      description: 'XR KNEE RT 2V',
      procedure: { localCode: null, localName: 'XR KNEE RT 2V', source: 'StudyDescription' },
      modalities: ['DX'],
      institutionName: NAME,
      sendingInstitution: { code: H, name: NAME },
      catalogId: ZJ,
      catalogVersion: '2021',
      source: 'classifier',
      classifiedAt: expect.any(String),
      items: [],
      candidates: [{ code: 'BQ07ZZZ0B-00', name: '右膝关节正侧位', confidence: expect.any(Number), why: 'projections not stated' }],
      reasons: [expect.stringContaining('projections not stated')],
    });

    // Without filters: every catalog, every sender (the unattributed study too, oldest first).
    const all = await call('GET', '/recognition/review');
    expect(all.json.total).toBe(9);
    expect(all.json.studies[0]).toMatchObject({ studyInstanceUid: S.unattributed, sendingInstitution: null, catalogId: 'chuanyu-2025' });
    const page = await call('GET', `/recognition/review?catalog=${ZJ}&limit=1&offset=1`);
    expect(page.json).toMatchObject({ total: 3, limit: 1, offset: 1 });
    expect(page.json.studies.map((s: { studyInstanceUid: string }) => s.studyInstanceUid)).toEqual([S.kneeOlder]);

    expect((await call('GET', '/recognition/review?institution=NOPE')).json).toMatchObject({ status: 404, code: 'institution_not_found' });
    expect((await call('GET', '/recognition/review?catalog=beijing')).json.code).toBe('invalid_query');
    expect((await call('GET', '/recognition/review?limit=501')).json.code).toBe('invalid_query');
    expect((await call('GET', '/recognition/review?colour=red')).json.code).toBe('invalid_query');
  });

  it('refuses bad decisions with bilingual 400/404 and writes nothing', async () => {
    const unknown = await decide(S.knee, { itemCodes: ['BQ07ZZZ0B-00', 'XJHRYX-DR0507'], reviewer: '王医生' });
    expect(unknown.status).toBe(400);
    expect(unknown.json).toMatchObject({ code: 'unknown_item_codes', details: { catalogId: ZJ, unknownCodes: ['XJHRYX-DR0507'] } });
    expect(unknown.json.message).toContain('XJHRYX-DR0507 → xinjiang');
    expect((await decide(S.knee, { itemCodes: ['BQ07ZZZ0B-00'] })).json.details.errors).toEqual([expect.stringMatching(/^reviewer: /)]);
    expect((await decide(S.knee, { itemCodes: 'BQ07ZZZ0B-00', reviewer: 'x' })).json.code).toBe('invalid_body');
    expect((await decide(S.knee, { itemCodes: [], reviewer: 'x', saveAsMapping: 'yes' })).json.code).toBe('invalid_body');

    const noCatalog = await decide(S.knee, { itemCodes: [], reviewer: 'x' }, 'beijing');
    expect(noCatalog).toMatchObject({ status: 404, json: { code: 'catalog_not_found' } });
    expect(noCatalog.json.message).toMatch(/目录 beijing 不存在或未启用 \/ No enabled catalog beijing/);
    expect((await decide(randomUid(), { itemCodes: [], reviewer: 'x' })).json).toMatchObject({ status: 404, code: 'study_not_found' });
    expect((await decide('not-a-uid', { itemCodes: [], reviewer: 'x' })).json).toMatchObject({ status: 400, code: 'invalid_uid' });

    const unattributed = await decide(S.unattributed, { itemCodes: [], reviewer: 'x', saveAsMapping: true });
    expect(unattributed.json).toMatchObject({ status: 400, code: 'study_unattributed' });
    expect(unattributed.json.message).toMatch(/该检查未归属到任何机构.* \/ The study is not attributed/);

    expect(await gw.core.db('classification_review').count({ n: '*' })).toEqual([{ n: '0' }]);
    expect(await classification(S.unattributed)).toMatchObject({ status: 'needs_review', source: 'classifier' });
    expect(await gw.core.db('local_procedure_mapping').count({ n: '*' })).toEqual([{ n: '0' }]);
  });

  it('stores a decision with saveAsMapping: audited, items replaced, mapping created, the sender’s other studies re-classified', async () => {
    const res = await decide(S.knee, { itemCodes: ['BQ07ZZZ0B-00'], reviewer: '王医生', note: '正侧位两张', saveAsMapping: true });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      studyInstanceUid: S.knee,
      classification: {
        catalogId: ZJ,
        catalogVersion: '2021',
        status: 'mapped',
        source: 'reviewer',
        reviewedBy: '王医生',
        result: {
          status: 'mapped',
          items: [{ code: 'BQ07ZZZ0B-00', confidence: 1, evidence: [{ tag: 'Reviewer', value: '王医生' }] }],
          candidates: [],
          reasons: ['reviewer 王医生: BQ07ZZZ0B-00', 'note: 正侧位两张', 'before review: needs_review', expect.stringContaining('projections not stated')],
        },
      },
      review: { id: expect.any(Number), catalogId: ZJ, previousItemCodes: [], itemCodes: ['BQ07ZZZ0B-00'], reviewer: '王医生', note: '正侧位两张' },
      mapping: {
        institutionCode: H,
        localKey: 'name:xr knee rt 2v',
        localCode: null,
        localName: 'XR KNEE RT 2V',
        catalogId: ZJ,
        itemCodes: ['BQ07ZZZ0B-00'],
        createdBy: '王医生',
        created: true,
      },
      reclassifyQueued: true,
    });

    const audit = await gw.core.db('classification_review').where({ study_instance_uid: S.knee }).select('*');
    expect(audit).toEqual([
      expect.objectContaining({ catalog_id: ZJ, previous_item_codes: [], item_codes: ['BQ07ZZZ0B-00'], reviewer: '王医生', note: '正侧位两张' }),
    ]);
    expect(await items(S.knee)).toEqual(['BQ07ZZZ0B-00']);
    expect(await gw.core.db('local_procedure_mapping').where({ institution_code: H }).pluck('local_key')).toEqual(['name:xr knee rt 2v']);

    // The mapping re-classifies the older study of the same procedure; the reviewer's decision stands.
    const older = await waitFor(async () => {
      const row = await classification(S.kneeOlder);
      return row?.source === 'local_mapping' ? row : undefined;
    }, `re-classification of ${S.kneeOlder}`);
    expect(older.status).toBe('mapped');
    expect(await items(S.kneeOlder)).toEqual(['BQ07ZZZ0B-00']);
    expect(await classification(S.knee)).toMatchObject({ source: 'reviewer', status: 'mapped' });
    expect(await items(S.knee)).toEqual(['BQ07ZZZ0B-00']);
    expect((await call('GET', `/recognition/review?institution=${H}&catalog=${ZJ}`)).json.total).toBe(0);

    // The quality job ran again and read the reviewed item.
    const quality = await waitFor(async () => {
      const row = await gw.core.db('study_quality').where({ study_instance_uid: S.knee }).first('item_codes');
      return row?.item_codes.includes('BQ07ZZZ0B-00') ? row : undefined;
    }, 'quality re-assessment');
    expect(quality.item_codes).toContain('BQ07ZZZ0B-00');
  });

  it('records a later decision against the previous items, and lists every catalog’s classification with its history', async () => {
    // Let the re-classification of the previous step finish before deciding again.
    await waitFor(
      async () => ((await gw.core.queues.classify.getJobCounts('active', 'waiting', 'delayed', 'prioritized')).active === 0 ? true : undefined),
      'idle',
    );
    const res = await decide(S.knee, { itemCodes: [], reviewer: '李医生' });
    expect(res.status).toBe(200);
    expect(res.json.classification).toMatchObject({ status: 'not_applicable', source: 'reviewer', reviewedBy: '李医生' });
    expect(res.json.review).toMatchObject({ previousItemCodes: ['BQ07ZZZ0B-00'], itemCodes: [], reviewer: '李医生', note: null });
    expect(res.json).not.toHaveProperty('mapping');
    expect(res.json.reclassifyQueued).toBe(false);
    expect(await items(S.knee)).toEqual([]);

    const got = await call('GET', `/recognition/studies/${S.knee}/classification`);
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({
      studyInstanceUid: S.knee,
      sendingInstitution: { code: H, name: NAME },
      procedure: { localCode: null, localName: 'XR KNEE RT 2V', source: 'StudyDescription' },
    });
    expect(got.json.classifications.map((c: { catalogId: string; status: string; source: string }) => [c.catalogId, c.status, c.source])).toEqual([
      ['chuanyu-2025', 'needs_review', 'classifier'],
      ['xinjiang', 'needs_review', 'classifier'],
      [ZJ, 'not_applicable', 'reviewer'],
    ]);
    expect(got.json.classifications[2]).toMatchObject({
      reviewedBy: '李医生',
      mappedItems: [],
      result: { reasons: expect.arrayContaining(['reviewer 李医生: no item']) },
    });
    expect(got.json.reviews.map((r: { reviewer: string; itemCodes: string[] }) => [r.reviewer, r.itemCodes])).toEqual([
      ['王医生', ['BQ07ZZZ0B-00']],
      ['李医生', []],
    ]);

    expect((await call('GET', `/recognition/studies/${randomUid()}/classification`)).json.code).toBe('study_not_found');
    expect((await call('GET', '/recognition/studies/x/classification')).json.code).toBe('invalid_uid');
  });
});
