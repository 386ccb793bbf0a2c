import { makeInstance, randomUid } from '../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../support/gateway';

/** stable → classify → quality on real components, and the dry-run endpoint with the same function. */
describe('classification', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());

  const post = (path: string, body: unknown) =>
    gw.fetch(`${gw.baseUrl}${path}`, { method: 'POST', body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });

  async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('maps a stable study to the items of every catalog, then assesses its quality against them', async () => {
    const study = randomUid();
    const series = randomUid();
    const slices = [1, 2, 3].map((n) =>
      makeInstance({
        studyInstanceUid: study,
        seriesInstanceUid: series,
        instanceNumber: n,
        modality: 'CT',
        studyDescription: '胸部CT平扫',
        bodyPartExamined: 'CHEST',
        extra: { SliceThickness: 1 },
      }),
    );
    const { body, contentType } = multipartBody(slices);
    expect((await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType } })).status).toBe(200);

    const items = await waitFor(async () => {
      const rows = await gw.core.db('study_item').where({ study_instance_uid: study }).orderBy('catalog_id').pluck('item_code');
      return rows.length === 3 ? rows : undefined;
    }, 'classification');
    expect(items).toEqual(['CY2025-094', 'XJHRYX-CT0603', 'BW23ZYZZZ-00']);
    const classification = await gw.core.db('study_classification').where({ study_instance_uid: study, catalog_id: 'xinjiang' }).first();
    expect(classification).toMatchObject({ status: 'mapped', source: 'classifier', catalog_version: expect.any(String) });
    expect(classification.result.items[0].evidence.length).toBeGreaterThan(0);

    const quality = await waitFor(() => gw.core.db('study_quality').where({ study_instance_uid: study }).first(), 'quality');
    expect(quality.item_codes).toEqual(expect.arrayContaining(['XJHRYX-CT0603']));
  });

  it('dry-runs text-only RIS evidence without storing anything', async () => {
    const stored = async () => Number((await gw.core.db('study_classification').count({ n: '*' }))[0].n);
    const before = await stored();
    const res = await post('/recognition/classify', {
      dataset: { '00080060': { vr: 'CS', Value: ['CT'] }, '00321060': { vr: 'LO', Value: ['右股骨CT平扫+三维'] } },
    });
    expect(res.status).toBe(200);
    const answer = (await res.json()) as { classifications: Array<{ catalogId: string; status: string; items: Array<{ code: string }> }> };
    const byCatalog = Object.fromEntries(answer.classifications.map((c) => [c.catalogId, c]));
    expect(byCatalog['xinjiang']).toMatchObject({ status: 'mapped', items: [expect.objectContaining({ code: 'XJHRYX-CT0513' })] });
    expect(byCatalog['zhejiang-2021'].items.map((i) => i.code)).toEqual(['BQ23ZUZZZ-00']);
    expect(await stored()).toBe(before);
  });

  it('answers not_applicable for ultrasound and 400/404 for bad requests', async () => {
    const us = await post('/recognition/classify', { dataset: [{ '00080060': { vr: 'CS', Value: ['US'] }, '00081030': { vr: 'LO', Value: ['腹部超声'] } }] });
    const answer = (await us.json()) as { classifications: Array<{ status: string }> };
    expect(answer.classifications.every((c) => c.status === 'not_applicable')).toBe(true);

    expect((await post('/recognition/classify', { dataset: { nottag: { vr: 'LO' } } })).status).toBe(400);
    expect((await post('/recognition/classify', {})).status).toBe(400);
    expect((await post('/recognition/classify', { dataset: { '00080060': { vr: 'CS', Value: ['CT'] } }, institution: 'NOPE' })).status).toBe(404);
    const notJson = await gw.fetch(`${gw.baseUrl}/recognition/classify`, { method: 'POST', body: 'x', headers: { 'Content-Type': 'text/plain' } });
    expect(notJson.status).toBe(415);
  });
});
