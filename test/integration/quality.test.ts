import { getCatalog } from '../../catalogs/index';
import { execQuality, loadQualityInput, readQuality } from '../../core/jobs/quality';
import type { Finding } from '../../core/quality/types';
import { makeDataset, makeInstance, randomUid, TS, writePart10 } from '../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../support/gateway';

/**
 * The quality job on the real database after STOW-RS and the index worker, and the
 * /recognition report and quality endpoints.
 */
describe('quality: job and API', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());

  const db = () => gw.core.db;
  const codes = (findings: Finding[]) => findings.map((f) => f.code);
  const byCode = (findings: Finding[], code: string) => findings.find((f) => f.code === code);

  /** Complete patient/study attributes, so that only what a test spoils is found. */
  const complete = (extra: Record<string, unknown> = {}) => ({
    PatientSex: 'F',
    PatientBirthDate: '19750312',
    AccessionNumber: 'ACC-42',
    InstitutionName: '示例医院',
    ...extra,
  });

  async function stow(parts: Buffer[], study: string): Promise<void> {
    const { body, contentType } = multipartBody(parts);
    const res = await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' } });
    expect(res.status).toBe(200);
    await gw.waitForIndexed(study, parts.length);
  }

  async function mapTo(study: string, catalogId: string, code: string): Promise<void> {
    await db()('study_item').insert({
      study_instance_uid: study,
      catalog_id: catalogId,
      catalog_version: getCatalog(catalogId)!.version,
      item_code: code,
      confidence: 1,
    });
  }

  async function assess(study: string) {
    expect(await execQuality({ db: db() }, { studyInstanceUid: study })).toBe('assessed');
    return (await readQuality(db(), study))!;
  }

  /** An axial CT stack with Image Plane attributes. */
  const ctSlices = (study: string, series: string, n: number, extra: Record<string, unknown> = {}) =>
    Array.from({ length: n }, (_, i) =>
      makeInstance({
        modality: 'CT',
        studyInstanceUid: study,
        seriesInstanceUid: series,
        instanceNumber: i + 1,
        extra: complete({
          ImagePositionPatient: [0, 0, -5 * i],
          ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
          PixelSpacing: [0.7, 0.7],
          SliceThickness: 5,
          ConvolutionKernel: 'H30s',
          CTDIvol: 42.1,
          ...extra,
        }),
      }),
    );

  async function poll<T>(what: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await what();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error('timed out');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('DR 正侧位 with AP and lateral images meets 新疆 XJHRYX-DR0208; without a report it fails (XJ-REQ-05)', async () => {
    const study = randomUid();
    const series = randomUid();
    const dx = (view: string, n: number) =>
      makeInstance({
        modality: 'DX',
        studyInstanceUid: study,
        seriesInstanceUid: series,
        instanceNumber: n,
        bodyPartExamined: 'CSPINE',
        extra: complete({ ViewPosition: view }),
      });
    await stow([dx('AP', 1), dx('LL', 2)], study);
    await mapTo(study, 'xinjiang', 'XJHRYX-DR0208');

    const q = await assess(study);
    expect(q.itemCodes).toEqual(['XJHRYX-DR0208']);
    expect(q.findings).toEqual([expect.objectContaining({ code: 'QC-REPORT-MISSING', severity: 'fail', basis: ['XJ-REQ-05'] })]);
    expect(q.result).toBe('fail');
    expect(q.rulesVersion).toMatch(/^\d{4}-\d{2}-\d{2}/);
  });

  it('DR 正侧位 with one projection only: the missing lateral is a finding', async () => {
    const study = randomUid();
    const series = randomUid();
    const dx = (n: number) =>
      makeInstance({
        modality: 'DX',
        studyInstanceUid: study,
        seriesInstanceUid: series,
        instanceNumber: n,
        bodyPartExamined: 'CSPINE',
        extra: complete({ ViewPosition: 'AP' }),
      });
    await stow([dx(1), dx(2)], study);
    await mapTo(study, 'chuanyu-2025', 'CY2025-019');
    const q = await assess(study);
    expect(byCode(q.findings, 'QC-ITEM-DR-VIEWS-INCOMPLETE')).toMatchObject({ severity: 'warn' });
  });

  it('a CT without SliceThickness: QC-CT-SLICE-THICKNESS-MISSING naming every slice', async () => {
    const study = randomUid();
    const slices = ctSlices(study, randomUid(), 3, { SliceThickness: undefined });
    await stow(slices, study);
    const q = await assess(study);
    expect(byCode(q.findings, 'QC-CT-SLICE-THICKNESS-MISSING')).toMatchObject({ severity: 'warn' });
    expect(byCode(q.findings, 'QC-CT-SLICE-THICKNESS-MISSING')!.instances).toHaveLength(3);
    expect(codes(q.findings)).toEqual(['QC-REPORT-MISSING', 'QC-CT-SLICE-THICKNESS-MISSING']);
    expect(q.result).toBe('warn');
  });

  it('reads the frame index and metadata of the stored instances', async () => {
    const study = randomUid();
    const series = randomUid();
    await stow(
      [
        makeInstance({
          modality: 'CT',
          studyInstanceUid: study,
          seriesInstanceUid: series,
          numberOfFrames: 3,
          rows: 16,
          columns: 16,
          transferSyntaxUid: TS.jpegBaseline,
        }),
        makeInstance({ modality: 'CT', studyInstanceUid: study, seriesInstanceUid: series, instanceNumber: 2 }),
      ],
      study,
    );
    const input = (await loadQualityInput(db(), study))!;
    expect(
      Object.values(input.stored!)
        .map((s) => s.frameCount)
        .sort(),
    ).toEqual([1, 3]);
    expect(input.series[0].instances[0].PatientName).toEqual([{ Alphabetic: 'TEST^PATIENT' }]);
    const q = await assess(study);
    expect(codes(q.findings)).toContain('QC-PIX-LOSSY');
    expect(codes(q.findings)).not.toContain('QC-PIX-FRAME-COUNT-MISMATCH');
  });

  it('finds a verified DICOM SR report inside the study', async () => {
    const study = randomUid();
    const ct = ctSlices(study, randomUid(), 2);
    const { dataset } = makeDataset({ studyInstanceUid: study, modality: 'SR', sopClassUid: '1.2.840.10008.5.1.4.1.1.88.11', extra: complete() });
    for (const k of ['Rows', 'Columns', 'BitsAllocated', 'BitsStored', 'HighBit', 'PixelRepresentation', 'SamplesPerPixel', 'PhotometricInterpretation'])
      delete dataset[k];
    Object.assign(dataset, {
      ValueType: 'CONTAINER',
      CompletionFlag: 'COMPLETE',
      VerificationFlag: 'VERIFIED',
      VerifyingObserverSequence: [{ VerifyingObserverName: 'WANG^FANG', VerificationDateTime: '20240101150000', VerifyingOrganization: 'X' }],
    });
    await stow([...ct, writePart10({ dataset, transferSyntaxUid: TS.explicitLittleEndian })], study);
    const q = await assess(study);
    expect(codes(q.findings)).toEqual([]);
    expect(q.result).toBe('pass');
  });

  it('is re-assessed by the worker: stable study → quality row; an API report clears QC-REPORT-MISSING', async () => {
    const study = randomUid();
    await stow(ctSlices(study, randomUid(), 4), study);
    // Stable after HUREN_STUDY_STABLE_SECONDS=1, then the quality job (no execQuality call here).
    const first = await poll(async () => readQuality(db(), study));
    expect(codes(first.findings)).toEqual(['QC-REPORT-MISSING']);

    const res = await gw.fetch(`${gw.baseUrl}/recognition/studies/${study}/reports`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ author: '王芳', signedAt: '2024-01-01T16:00:00+08:00', conclusion: '颅脑CT平扫未见异常。', text: '检查所见：脑实质密度均匀。' }),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as Record<string, string>;
    expect(created).toMatchObject({ studyInstanceUid: study, source: 'api', author: '王芳', signedAt: '2024-01-01T08:00:00.000Z' });
    const row = await db()('study_report').where({ id: created.id }).first();
    expect(row).toMatchObject({
      study_instance_uid: study,
      source: 'api',
      body: '检查所见：脑实质密度均匀。',
      conclusion: '颅脑CT平扫未见异常。',
      content_type: 'text/plain',
    });

    const second = await poll(async () => {
      const q = await readQuality(db(), study);
      return q && !codes(q.findings).includes('QC-REPORT-MISSING') ? q : undefined;
    });
    expect(second.result).toBe('pass');
    expect(second.assessedAt.getTime()).toBeGreaterThan(first.assessedAt.getTime());

    const get = await gw.fetch(`${gw.baseUrl}/recognition/studies/${study}/quality`);
    expect(get.status).toBe(200);
    const body = (await get.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ studyInstanceUid: study, result: 'pass', findings: [], itemCodes: [] });
    expect(new Date(String(body.assessedAt)).getTime()).toBe(second.assessedAt.getTime());
  });

  it('answers unknown studies with "unknown"', async () => {
    expect(await execQuality({ db: db() }, { studyInstanceUid: randomUid() })).toBe('unknown');
  });

  describe('HTTP errors', () => {
    const post = (uid: string, body: unknown, contentType = 'application/json') =>
      gw.fetch(`${gw.baseUrl}/recognition/studies/${uid}/reports`, {
        method: 'POST',
        headers: { 'Content-Type': contentType },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    const valid = { author: '李医生', signedAt: '2024-01-02T09:00:00+08:00', conclusion: '未见异常' };
    let known: string;
    beforeAll(async () => {
      known = randomUid();
      await db()('study').insert({ study_instance_uid: known, attributes: {} });
    });
    const problem = async (res: Response, status: number, code: string) => {
      expect(res.status).toBe(status);
      const body = (await res.json()) as { status: number; code: string; message: string };
      expect(body).toMatchObject({ status, code });
      return body;
    };

    it('400 for a malformed StudyInstanceUID', async () => {
      await problem(await gw.fetch(`${gw.baseUrl}/recognition/studies/1.2.abc/quality`), 400, 'invalid_uid');
      await problem(await post('01.2.3', valid), 400, 'invalid_uid');
    });

    it('404 with a bilingual message for an unknown study', async () => {
      const a = await problem(await gw.fetch(`${gw.baseUrl}/recognition/studies/1.2.3.999999/quality`), 404, 'study_not_found');
      expect(a.message).toMatch(/未找到该检查.*No such study/);
      await problem(await post('1.2.3.999999', valid), 404, 'study_not_found');
    });

    it('404 quality_not_assessed for a known study not assessed yet', async () => {
      const body = await problem(await gw.fetch(`${gw.baseUrl}/recognition/studies/${known}/quality`), 404, 'quality_not_assessed');
      expect(body.message).toMatch(/尚未完成质量评估/);
    });

    it('validates the report body', async () => {
      await problem(await post(known, { ...valid, author: '' }), 400, 'invalid_body');
      await problem(await post(known, { author: 'x', signedAt: valid.signedAt }), 400, 'invalid_body');
      await problem(await post(known, { ...valid, signedAt: '2024-01-02 09:00' }), 400, 'invalid_body');
      await problem(await post(known, { ...valid, extra: 1 }), 400, 'invalid_body');
      await problem(await post(known, { ...valid, signedAt: new Date(Date.now() + 3_600_000).toISOString() }), 400, 'signed_at_in_future');
      await problem(await post(known, '{"author":'), 400, 'invalid_json');
      await problem(await post(known, 'text', 'text/plain'), 415, 'unsupported_media_type');
      expect(await db()('study_report').where({ study_instance_uid: known })).toHaveLength(0);
    });

    it('201 for a valid report on a known study', async () => {
      const res = await post(known, valid);
      expect(res.status).toBe(201);
      expect(await db()('study_report').where({ study_instance_uid: known })).toHaveLength(1);
    });
  });
});
