import iconv from 'iconv-lite';
import { makeInstance, randomUid } from '../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../support/gateway';

/**
 * Per-hospital local mappings on the real gateway, workers, PostgreSQL and Redis: the unmapped
 * procedures of an institution, the admin API and CSV import/export, and the reclassify job that
 * applies a mapping change to the institution's studies.
 */
describe('local procedure mappings', () => {
  let gw: TestGateway;
  const H = 'MAPH-001';
  const NAME = '映射示例医院';
  const S = { pkgA1: randomUid(), pkgA2: randomUid(), knee: randomUid(), coded: randomUid() };

  beforeAll(async () => {
    gw = await startTestGateway();
    const created = await call('PUT', `/admin/institutions/${H}`, { name: NAME, region: 'ZJ', level: 'L3A', aliases: { institutionNames: [NAME] } });
    expect(created.status).toBe(201);
    await stow(
      makeInstance({ studyInstanceUid: S.pkgA1, modality: 'MR', studyDescription: '院内套餐A', studyDate: '20260105', extra: { InstitutionName: NAME } }),
      makeInstance({ studyInstanceUid: S.pkgA2, modality: 'MR', studyDescription: '院内套餐Ａ ', studyDate: '20260106', extra: { InstitutionName: NAME } }),
      makeInstance({ studyInstanceUid: S.knee, modality: 'DX', studyDescription: 'XR KNEE RT 2V', studyDate: '20260107', extra: { InstitutionName: NAME } }),
      makeInstance({
        studyInstanceUid: S.coded,
        modality: 'MR',
        studyDescription: 'MR KNEE',
        extra: {
          InstitutionName: NAME,
          RequestedProcedureDescription: '右膝关节MRI平扫',
          RequestedProcedureCodeSequence: [{ CodeValue: 'MR0412', CodingSchemeDesignator: 'L', CodeMeaning: '右膝MR平扫' }],
        },
      }),
    );
    // Indexed, stable after 1 s, then classified under all three catalogs.
    await waitFor(async () => ((await classifiedCount(Object.values(S))) === 12 ? true : undefined), 'classification of the STOWed studies');
  });
  afterAll(() => gw.close());

  async function call(method: string, path: string, body?: unknown, contentType = 'application/json') {
    const res = await gw.fetch(`${gw.baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'Content-Type': contentType },
      body: body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body),
    });
    const text = await res.text();
    const json = res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined;
    return { status: res.status, json, text, headers: res.headers };
  }

  async function stow(...instances: Buffer[]): Promise<void> {
    const { body, contentType } = multipartBody(instances);
    const res = await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' } });
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

  const classifiedCount = async (studies: string[]) =>
    Number((await gw.core.db('study_classification').whereIn('study_instance_uid', studies).count({ n: '*' }))[0].n);
  const classification = (study: string, catalogId: string) =>
    gw.core.db('study_classification').where({ study_instance_uid: study, catalog_id: catalogId }).first('status', 'source', 'result');
  const items = (study: string, catalogId: string) =>
    gw.core.db('study_item').where({ study_instance_uid: study, catalog_id: catalogId }).orderBy('item_code').pluck('item_code');
  const reclassifyJobs = async () => gw.core.queues.reclassify.getJobs(['completed', 'active', 'waiting', 'delayed', 'failed']);

  it('attributes the studies to the institution and leaves them in review', async () => {
    const senders = await gw.core.db('study').whereIn('study_instance_uid', Object.values(S)).distinct().pluck('sending_institution_code');
    expect(senders).toEqual([H]);
    expect(await classification(S.pkgA1, 'zhejiang-2021')).toMatchObject({ status: 'needs_review', source: 'classifier' });
    expect(await classification(S.knee, 'zhejiang-2021')).toMatchObject({ status: 'needs_review', source: 'classifier' });
    expect(await classification(S.coded, 'zhejiang-2021')).toMatchObject({ status: 'mapped', source: 'classifier' });
  });

  it('lists the unmapped procedures with study counts and the classifier’s best guesses', async () => {
    const res = await call('GET', `/admin/institutions/${H}/unmapped-procedures`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ institutionCode: H, catalogId: null, total: 3, studiesWithoutProcedure: 0 });
    const [pkg, coded, knee] = res.json.procedures;
    // 院内套餐A and 院内套餐Ａ (full-width) are one procedure.
    expect(pkg).toMatchObject({ localKey: 'name:院内套餐a', localCode: null, source: 'StudyDescription', studies: 2, lastStudyDate: '2026-01-06' });
    expect(pkg.classifications.map((c: { catalogId: string }) => c.catalogId)).toEqual(['chuanyu-2025', 'xinjiang', 'zhejiang-2021']);
    expect(pkg.classifications[0]).toEqual({ catalogId: 'chuanyu-2025', status: 'needs_review', source: 'classifier', guesses: [] });
    expect(coded).toMatchObject({
      localKey: 'code:MR0412',
      localCode: 'MR0412',
      localName: '右膝MR平扫',
      codingScheme: 'L',
      source: 'RequestedProcedureCodeSequence',
      studies: 1,
      studyDescriptions: ['MR KNEE'],
    });
    expect(coded.classifications[2]).toEqual({
      catalogId: 'zhejiang-2021',
      status: 'mapped',
      source: 'classifier',
      guesses: [{ code: 'BQ37ZYZZZ-00', name: '右膝平扫', confidence: expect.any(Number), kind: 'item' }],
    });
    expect(knee).toMatchObject({ localKey: 'name:xr knee rt 2v', localName: 'XR KNEE RT 2V', studies: 1, sampleStudyInstanceUid: S.knee });
    expect(knee.classifications[2].guesses).toEqual([
      { code: 'BQ07ZZZ0B-00', name: '右膝关节正侧位', confidence: expect.any(Number), kind: 'candidate', why: expect.any(String) },
    ]);

    const zj = await call('GET', `/admin/institutions/${H}/unmapped-procedures?catalog=zhejiang-2021&limit=1&offset=1`);
    expect(zj.json).toMatchObject({ catalogId: 'zhejiang-2021', total: 3 });
    expect(zj.json.procedures.map((p: { localKey: string }) => p.localKey)).toEqual(['code:MR0412']);
    expect(zj.json.procedures[0].classifications.map((c: { catalogId: string }) => c.catalogId)).toEqual(['zhejiang-2021']);
  });

  it('maps a procedure: the reclassify job re-classifies the institution’s studies, the mapping recorded as evidence', async () => {
    const before = (await reclassifyJobs()).length;
    const put = await call('PUT', `/admin/institutions/${H}/mappings`, {
      localName: '院内套餐A',
      catalogId: 'zhejiang-2021',
      itemCodes: ['BQ37ZYZZZ-00'],
      createdBy: '信息科',
    });
    expect(put.status).toBe(201);
    expect(put.json).toMatchObject({
      created: true,
      changed: true,
      reclassifyQueued: true,
      mapping: {
        id: expect.any(Number),
        institutionCode: H,
        localKey: 'name:院内套餐a',
        localCode: null,
        localName: '院内套餐A',
        catalogId: 'zhejiang-2021',
        itemCodes: ['BQ37ZYZZZ-00'],
        createdBy: '信息科',
      },
    });

    for (const study of [S.pkgA1, S.pkgA2]) {
      const c = await waitFor(async () => {
        const row = await classification(study, 'zhejiang-2021');
        return row?.status === 'mapped' ? row : undefined;
      }, `re-classification of ${study}`);
      expect(c.source).toBe('local_mapping');
      expect(c.result.items).toEqual([
        expect.objectContaining({
          code: 'BQ37ZYZZZ-00',
          confidence: 1,
          evidence: expect.arrayContaining([{ tag: 'LocalMapping', value: 'zhejiang-2021: BQ37ZYZZZ-00', used_for: 'local_mapping' }]),
        }),
      ]);
      expect(await items(study, 'zhejiang-2021')).toEqual(['BQ37ZYZZZ-00']);
      // Other catalogs have no mapping for it.
      expect(await classification(study, 'chuanyu-2025')).toMatchObject({ status: 'needs_review', source: 'classifier' });
    }

    // One bulk job for the institution's four studies, its progress at 100 % (bull-board shows it).
    const jobs = await reclassifyJobs();
    expect(jobs.length).toBe(before + 1);
    const job = await waitFor(async () => {
      const j = (await gw.core.queues.reclassify.getJobs(['completed'])).find((x) => x.data.institutionCode === H);
      return j;
    }, 'reclassify job completed');
    expect(job.data).toEqual({ reason: 'local_mapping', institutionCode: H });
    expect(job.progress).toBe(100);
    expect(job.returnvalue).toEqual({ studies: 4 });

    // The same mapping again changes nothing: 200, no job.
    const again = await call('PUT', `/admin/institutions/${H}/mappings`, { localName: ' 院内套餐a', catalogId: 'zhejiang-2021', itemCodes: ['BQ37ZYZZZ-00'] });
    expect(again.status).toBe(200);
    expect(again.json).toMatchObject({ created: false, changed: false, reclassifyQueued: false, mapping: { id: put.json.mapping.id, createdBy: '信息科' } });
    expect((await reclassifyJobs()).length).toBe(before + 1);

    // Mapped in a catalog: gone from the list; still unmapped for the other catalogs.
    const unmapped = await call('GET', `/admin/institutions/${H}/unmapped-procedures`);
    expect(unmapped.json.procedures.map((p: { localKey: string }) => p.localKey)).toEqual(['code:MR0412', 'name:xr knee rt 2v']);
    const forCy = await call('GET', `/admin/institutions/${H}/unmapped-procedures?catalog=chuanyu-2025`);
    expect(forCy.json.procedures[0]).toMatchObject({ localKey: 'name:院内套餐a', studies: 2 });

    const list = await call('GET', `/admin/institutions/${H}/mappings`);
    // The later spelling is kept for display; the key is the same.
    expect(list.json).toEqual({ institutionCode: H, mappings: [again.json.mapping] });
    expect(again.json.mapping).toMatchObject({ localName: '院内套餐a', localKey: put.json.mapping.localKey });
    expect((await call('GET', `/admin/institutions/${H}/mappings?catalog=xinjiang`)).json.mappings).toEqual([]);
  });

  it('maps a procedure code to no item: its studies become not applicable in that catalog', async () => {
    const put = await call('PUT', `/admin/institutions/${H}/mappings`, { localCode: 'mr0412', localName: '右膝MR平扫', catalogId: 'xinjiang', itemCodes: [] });
    expect(put.status).toBe(201);
    expect(put.json.mapping).toMatchObject({ localKey: 'code:MR0412', localCode: 'mr0412', itemCodes: [] });
    const c = await waitFor(async () => {
      const row = await classification(S.coded, 'xinjiang');
      return row?.status === 'not_applicable' ? row : undefined;
    }, 'not applicable by mapping');
    expect(c.result.reasons).toEqual(expect.arrayContaining(['local mapping: no item']));
    expect(await items(S.coded, 'xinjiang')).toEqual([]);
    expect(await items(S.coded, 'zhejiang-2021')).toEqual(['BQ37ZYZZZ-00']);
  });

  it('answers 400 and 404 with bilingual messages', async () => {
    const path = `/admin/institutions/${H}/mappings`;
    const wrong = await call('PUT', path, { localName: 'X', catalogId: 'zhejiang-2021', itemCodes: ['BQ37ZYZZZ-00', 'CY2025-123', 'NOPE'] });
    expect(wrong.status).toBe(400);
    expect(wrong.json).toMatchObject({
      code: 'unknown_item_codes',
      details: { catalogId: 'zhejiang-2021', unknownCodes: ['CY2025-123', 'NOPE'] },
    });
    expect(wrong.json.message).toMatch(
      /^目录 zhejiang-2021 中没有项目 CY2025-123、NOPE \/ Not items of catalog zhejiang-2021: CY2025-123, NOPE.*CY2025-123 → chuanyu-2025/,
    );

    const noKey = await call('PUT', path, { localCode: ' ', catalogId: 'zhejiang-2021', itemCodes: [] });
    expect(noKey.json).toMatchObject({ status: 400, code: 'invalid_body' });
    expect(noKey.json.details.errors).toEqual(['localCode: 须给出本院项目代码或名称 / localCode or localName is required']);
    expect((await call('PUT', path, { localName: 'X', catalogId: 'beijing', itemCodes: [] })).json.details.errors).toEqual([
      expect.stringMatching(/^catalogId: 应为 chuanyu-2025、xinjiang、zhejiang-2021 之一/),
    ]);
    expect((await call('PUT', path, { localName: 'X', catalogId: 'xinjiang' })).json.code).toBe('invalid_body');
    expect((await call('PUT', path, { localName: 'X', catalogId: 'xinjiang', itemCodes: [], colour: 1 })).json.code).toBe('invalid_body');
    expect((await call('PUT', path, '{"localName":', 'application/json')).json.code).toBe('invalid_json');
    expect((await call('PUT', path, 'x', 'text/plain')).status).toBe(415);

    for (const [method, p] of [
      ['GET', '/admin/institutions/NOPE/mappings'],
      ['GET', '/admin/institutions/NOPE/mappings/export'],
      ['GET', '/admin/institutions/NOPE/unmapped-procedures'],
      ['DELETE', '/admin/institutions/NOPE/mappings/1'],
    ]) {
      const res = await call(method, p);
      expect([p, res.status, res.json.code, res.json.message]).toEqual([p, 404, 'institution_not_found', '未找到机构 NOPE / No institution with code NOPE']);
    }
    const unknownInst = await call('PUT', '/admin/institutions/NOPE/mappings', { localName: 'X', catalogId: 'xinjiang', itemCodes: [] });
    expect(unknownInst.status).toBe(404);
    expect((await call('POST', '/admin/institutions/NOPE/mappings/import', 'catalog_id,item_codes,local_name\nxinjiang,,X', 'text/csv')).status).toBe(404);

    const missing = await call('DELETE', `${path}/999999`);
    expect(missing.status).toBe(404);
    expect(missing.json).toMatchObject({ code: 'mapping_not_found', message: `机构 ${H} 没有编号为 999999 的映射 / Institution ${H} has no mapping 999999` });
    expect((await call('DELETE', `${path}/abc`)).json.code).toBe('invalid_path');
    expect((await call('GET', `/admin/institutions/${H}/unmapped-procedures?limit=0`)).json.code).toBe('invalid_query');
    expect((await call('GET', `${path}?catalog=beijing`)).json.code).toBe('invalid_query');
  });

  describe('CSV', () => {
    const header = 'local_code,local_name,catalog_id,item_codes';

    it('imports all or nothing, with a dry run and line-numbered errors', async () => {
      const path = `/admin/institutions/${H}/mappings`;
      const before = (await call('GET', path)).json.mappings;
      const jobs = (await reclassifyJobs()).length;
      const file = [
        header,
        ',XR KNEE RT 2V,zhejiang-2021,BQ07ZZZ0B-00',
        ',XR KNEE RT 2V,chuanyu-2025,CY2025-014',
        ',院内套餐A,zhejiang-2021,BQ37ZYZZZ-00',
      ].join('\r\n');

      const dry = await call('POST', `${path}/import?dryRun=true`, file, 'text/csv');
      expect(dry.status).toBe(200);
      expect(dry.json).toEqual({ dryRun: true, mappings: 3, created: 2, updated: 0, unchanged: 1, reclassifyQueued: false });
      expect((await call('GET', path)).json.mappings).toEqual(before);

      const bad = await call('POST', `${path}/import`, `${file}\r\nX1,,zhejiang-2021,NOPE\r\n,,xinjiang,`, 'text/csv');
      expect(bad.status).toBe(400);
      expect(bad.json.code).toBe('csv_invalid');
      expect(bad.json.message).toBe('CSV 有 2 处错误，未导入任何数据 / The CSV has 2 error(s); nothing was imported');
      expect(bad.json.details.errors).toEqual([
        { row: 5, column: 'item_codes', message: expect.stringContaining('NOPE') },
        { row: 6, column: 'local_code', message: expect.stringContaining('localCode or localName is required') },
      ]);
      expect((await call('GET', path)).json.mappings).toEqual(before);

      const notUtf8 = await call('POST', `${path}/import`, iconv.encode(`${header}\n,胸片,xinjiang,`, 'gb18030'), 'text/csv');
      expect(notUtf8.json.code).toBe('csv_not_utf8');
      expect((await call('POST', `${path}/import?dryRun=yes`, file, 'text/csv')).json.code).toBe('invalid_query');
      expect((await reclassifyJobs()).length).toBe(jobs);

      const real = await call('POST', `${path}/import`, file, 'text/csv');
      expect(real.json).toEqual({ dryRun: false, mappings: 3, created: 2, updated: 0, unchanged: 1, reclassifyQueued: true });
      expect((await reclassifyJobs()).length).toBe(jobs + 1);
      // GB18030 from Excel, declared as such, is read correctly.
      const gb = await call(
        'POST',
        `${path}/import`,
        iconv.encode(`${header}\n,XR KNEE RT 2V,chuanyu-2025,CY2025-014;CY2025-013`, 'gb18030'),
        'text/csv; charset=gb18030',
      );
      expect(gb.json).toMatchObject({ mappings: 1, created: 0, updated: 1, unchanged: 0 });

      const knee = await waitFor(async () => {
        const row = await classification(S.knee, 'zhejiang-2021');
        return row?.status === 'mapped' ? row : undefined;
      }, 'knee mapped by the imported mapping');
      expect(knee.source).toBe('local_mapping');
      expect(await waitFor(async () => ((await items(S.knee, 'chuanyu-2025')).length === 2 ? true : undefined), 'both CY items')).toBe(true);
    });

    it('exports with a BOM, and the export imports back unchanged', async () => {
      const res = await gw.fetch(`${gw.baseUrl}/admin/institutions/${H}/mappings/export`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
      expect(res.headers.get('content-disposition')).toBe(`attachment; filename=mappings-${H}.csv`);
      const bytes = Buffer.from(await res.arrayBuffer());
      expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
      const text = bytes.toString('utf8');
      expect(text.split('\r\n')).toEqual([
        `\uFEFF${header}`,
        ',XR KNEE RT 2V,chuanyu-2025,CY2025-014;CY2025-013',
        'mr0412,右膝MR平扫,xinjiang,',
        ',XR KNEE RT 2V,zhejiang-2021,BQ07ZZZ0B-00',
        ',院内套餐A,zhejiang-2021,BQ37ZYZZZ-00',
        '',
      ]);
      const listed = (await call('GET', `/admin/institutions/${H}/mappings`)).json.mappings;
      const back = await call('POST', `/admin/institutions/${H}/mappings/import`, text, 'text/csv');
      expect(back.json).toEqual({ dryRun: false, mappings: 4, created: 0, updated: 0, unchanged: 4, reclassifyQueued: false });
      // Not even updated_at changes.
      expect((await call('GET', `/admin/institutions/${H}/mappings`)).json.mappings).toEqual(listed);
    });
  });

  it('deletes a mapping and re-classifies: the study needs review again', async () => {
    const { mappings } = (await call('GET', `/admin/institutions/${H}/mappings?catalog=zhejiang-2021`)).json;
    const pkg = mappings.find((m: { localKey: string }) => m.localKey === 'name:院内套餐a');
    const del = await call('DELETE', `/admin/institutions/${H}/mappings/${pkg.id}`);
    expect(del.status).toBe(200);
    expect(del.json).toEqual({ id: pkg.id, deleted: true, mapping: pkg, reclassifyQueued: true });
    expect((await call('DELETE', `/admin/institutions/${H}/mappings/${pkg.id}`)).status).toBe(404);
    const c = await waitFor(async () => {
      const row = await classification(S.pkgA1, 'zhejiang-2021');
      return row?.status === 'needs_review' ? row : undefined;
    }, 'back in review');
    expect(c.source).toBe('classifier');
    expect(await items(S.pkgA1, 'zhejiang-2021')).toEqual([]);
  });
});
