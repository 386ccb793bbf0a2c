import { makeInstance, randomUid, TS } from '../support/dicom-factory';
import { multipartBody, parseMultipartResponse, startTestGateway, type TestGateway } from '../support/gateway';

/**
 * End to end on real components: STOW a multi-modality study set, let the BullMQ worker
 * index it into PostgreSQL, find it with QIDO-RS at every level and retrieve it with WADO-RS,
 * bytes compared exactly.
 */
describe('STOW-RS → index worker → QIDO-RS / WADO-RS', () => {
  let gw: TestGateway;
  const ctStudy = randomUid();
  const ctSeries = randomUid();
  const drStudy = randomUid();
  const mrStudy = randomUid();
  const mrSeries = randomUid();

  const ct = [1, 2, 3].map((n) =>
    makeInstance({
      modality: 'CT',
      studyInstanceUid: ctStudy,
      seriesInstanceUid: ctSeries,
      instanceNumber: n,
      patientId: 'CT-PID-1',
      patientName: 'WANG^WEI',
      studyDate: '20260310',
      studyDescription: 'Thorax 1.0 B70f',
    }),
  );
  const dr = makeInstance({
    modality: 'CR',
    studyInstanceUid: drStudy,
    patientId: 'DR-PID-2',
    patientName: 'LI^NA',
    studyDate: '20260315',
    transferSyntaxUid: TS.implicitLittleEndian,
    bodyPartExamined: 'CHEST',
  });
  const mr = makeInstance({
    modality: 'MR',
    studyInstanceUid: mrStudy,
    seriesInstanceUid: mrSeries,
    patientId: 'MR-PID-3',
    patientName: '张三^丰',
    charset: 'GB18030',
    studyDescription: '腰椎MRI平扫',
    studyDate: '20260320',
    numberOfFrames: 3,
    rows: 16,
    columns: 16,
  });

  const get = (path: string, headers: Record<string, string> = {}) => gw.fetch(`${gw.dicomweb}${path}`, { headers });
  const json = async (path: string) => {
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/dicom\+json/);
    return (await res.json()) as Array<Record<string, { Value?: unknown[] }>>;
  };
  const value = (ds: Record<string, { Value?: unknown[] }>, tag: string) => ds[tag]?.Value?.[0];

  beforeAll(async () => {
    gw = await startTestGateway();
    const { body, contentType } = multipartBody([...ct, dr, mr]);
    const res = await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' } });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as Record<string, { Value: Array<Record<string, { Value: string[] }>> }>;
    expect(answer['00081199'].Value).toHaveLength(5);
    expect(answer['00081198']).toBeUndefined();
    await Promise.all([gw.waitForIndexed(ctStudy, 3), gw.waitForIndexed(drStudy, 1), gw.waitForIndexed(mrStudy, 1)]);
  });
  afterAll(() => gw.close());

  it('finds studies by PatientID, by Chinese name with wildcards, by date range and modality', async () => {
    const byId = await json('/studies?PatientID=CT-PID-1');
    expect(byId).toHaveLength(1);
    expect(value(byId[0], '0020000D')).toBe(ctStudy);
    expect(byId[0]['00080061'].Value).toEqual(['CT']);
    expect(value(byId[0], '00201206')).toBe(1);
    expect(value(byId[0], '00201208')).toBe(3);

    const byName = await json(`/studies?PatientName=${encodeURIComponent('张*')}`);
    expect(byName.map((s) => value(s, '0020000D'))).toEqual([mrStudy]);
    expect(value(byName[0], '00100010')).toEqual({ Alphabetic: '张三^丰' });

    const byRange = await json('/studies?StudyDate=20260312-20260331');
    expect(byRange.map((s) => value(s, '0020000D')).sort()).toEqual([drStudy, mrStudy].sort());

    const byModality = await json('/studies?ModalitiesInStudy=CR');
    expect(byModality.map((s) => value(s, '0020000D'))).toEqual([drStudy]);
  });

  it('finds series and instances, scoped and unscoped', async () => {
    const series = await json(`/studies/${ctStudy}/series`);
    expect(series).toHaveLength(1);
    expect(value(series[0], '00080060')).toBe('CT');
    expect(value(series[0], '00201209')).toBe(3);

    const mrSeriesFound = await json('/series?Modality=MR');
    expect(mrSeriesFound.map((s) => value(s, '0020000E'))).toEqual([mrSeries]);

    const instances = await json(`/studies/${ctStudy}/series/${ctSeries}/instances`);
    expect(instances.map((i) => value(i, '00200013'))).toEqual([1, 2, 3]);

    const sop = value(instances[1], '00080018') as string;
    const unscoped = await json(`/instances?SOPInstanceUID=${sop}`);
    expect(unscoped).toHaveLength(1);
  });

  it('retrieves an instance byte-exact as stored (transfer-syntax=*)', async () => {
    const [instance] = await json(`/studies/${drStudy}/instances`);
    const res = await get(`/studies/${drStudy}/series/${value(instance, '0020000E')}/instances/${value(instance, '00080018')}`, {
      Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*',
    });
    expect(res.status).toBe(200);
    const parts = parseMultipartResponse(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    expect(parts).toHaveLength(1);
    expect(parts[0].headers['content-type']).toContain(TS.implicitLittleEndian);
    expect(Buffer.compare(parts[0].body, dr)).toBe(0);
  });

  it('retrieves a series and a study, every instance byte-exact', async () => {
    for (const path of [`/studies/${ctStudy}/series/${ctSeries}`, `/studies/${ctStudy}`]) {
      const res = await get(path, { Accept: 'multipart/related; type="application/dicom"' });
      expect(res.status).toBe(200);
      const parts = parseMultipartResponse(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
      expect(parts.map((p) => p.body.toString('base64')).sort()).toEqual(ct.map((b) => b.toString('base64')).sort());
    }
  });

  it('transcodes Implicit VR Little Endian to the default Explicit VR Little Endian when no syntax is asked', async () => {
    const res = await get(`/studies/${drStudy}`);
    expect(res.status).toBe(200);
    const [part] = parseMultipartResponse(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    expect(part.headers['content-type']).toContain(TS.explicitLittleEndian);
    expect(part.body.subarray(128, 132).toString()).toBe('DICM');
  });

  it('serves metadata with decoded Chinese text, BulkDataURIs and an ETag', async () => {
    const path = `/studies/${mrStudy}/metadata`;
    const res = await get(path);
    expect(res.status).toBe(200);
    const [meta] = (await res.json()) as Array<Record<string, { Value?: unknown[]; BulkDataURI?: string }>>;
    expect(meta['00100010'].Value).toEqual([{ Alphabetic: '张三^丰' }]);
    expect(meta['00081030'].Value).toEqual(['腰椎MRI平扫']);
    expect(meta['7FE00010'].BulkDataURI).toBe(`${gw.dicomweb}/studies/${mrStudy}/series/${mrSeries}/instances/${meta['00080018'].Value![0]}/bulk/7FE00010`);
    const etag = res.headers.get('etag')!;
    expect((await get(path, { 'If-None-Match': etag })).status).toBe(304);
  });

  it('retrieves frames by the offsets recorded at ingest, and pixel data by its BulkDataURI', async () => {
    const [instance] = await json(`/studies/${mrStudy}/instances`);
    const sop = value(instance, '00080018') as string;
    const base = `/studies/${mrStudy}/series/${mrSeries}/instances/${sop}`;
    const frameBytes = 16 * 16 * 2;
    const pixelStart = mr.length - 3 * frameBytes;

    const res = await get(`${base}/frames/3,1`);
    expect(res.status).toBe(200);
    const frames = parseMultipartResponse(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    expect(frames.map((f) => f.body)).toEqual([mr.subarray(pixelStart + 2 * frameBytes), mr.subarray(pixelStart, pixelStart + frameBytes)]);

    const bulk = await get(`${base}/bulk/7FE00010`);
    expect(bulk.status).toBe(200);
    const parts = parseMultipartResponse(Buffer.from(await bulk.arrayBuffer()), bulk.headers.get('content-type')!);
    expect(Buffer.concat(parts.map((p) => p.body))).toEqual(mr.subarray(pixelStart));
  });

  it('answers 404 with a JSON problem for unknown UIDs and 400 for non-UID path segments', async () => {
    const missing = await get(`/studies/${randomUid()}/metadata`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ status: 404, code: 'not_found' });
    const bad = await get('/studies/not-a-uid/metadata');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ status: 400, code: 'invalid_uid' });
    expect((await get(`/studies/${mrStudy}/series/${mrSeries}/instances/${randomUid()}/frames/1`)).status).toBe(404);
  });

  it('marks the study stable after the quiet period', async () => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const row = await gw.core.db('study').where({ study_instance_uid: ctStudy }).first('stable_at');
      if (row?.stable_at) break;
      if (Date.now() > deadline) throw new Error('study never became stable');
      await new Promise((r) => setTimeout(r, 200));
    }
  });
});
