import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readPart10Header } from '../../core/dicom/part10-header';
import { multipartBody, parseMultipartResponse, startTestGateway, type TestGateway } from '../support/gateway';

const fixture = (name: string) => readFileSync(path.join(__dirname, '..', 'fixtures', name));

/** WADO-RS on compressed (encapsulated) data, and the operations endpoints. */
describe('WADO-RS on encapsulated instances; ops endpoints', () => {
  let gw: TestGateway;
  const jpeg = fixture('jpeg-2f-2frag-bot.dcm');
  const header = readPart10Header(jpeg);
  if (header === 'incomplete') throw new Error('fixture incomplete');
  const instancePath = `/studies/${header.studyInstanceUid}/series/${header.seriesInstanceUid}/instances/${header.sopInstanceUid}`;

  beforeAll(async () => {
    gw = await startTestGateway();
    const { body, contentType } = multipartBody([jpeg]);
    const res = await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType } });
    expect(res.status).toBe(200);
    await gw.waitForIndexed(header.studyInstanceUid, 1);
  });
  afterAll(() => gw.close());

  it('answers 406 where the default transfer syntax would need transcoding, and serves the stored syntax on request', async () => {
    const refused = await gw.fetch(`${gw.dicomweb}${instancePath}`);
    expect(refused.status).toBe(406);
    expect(await refused.json()).toMatchObject({ status: 406, code: 'transcoding_unavailable' });

    const res = await gw.fetch(`${gw.dicomweb}${instancePath}`, {
      headers: { Accept: `multipart/related; type="application/dicom"; transfer-syntax=${header.transferSyntaxUid}` },
    });
    expect(res.status).toBe(200);
    const [part] = parseMultipartResponse(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    expect(Buffer.compare(part.body, jpeg)).toBe(0);
  });

  it('serves encapsulated frames as image/jpeg, one part per frame, fragments joined', async () => {
    const res = await gw.fetch(`${gw.dicomweb}${instancePath}/frames/1,2`, { headers: { Accept: 'multipart/related; type="image/jpeg"' } });
    expect(res.status).toBe(200);
    const frames = parseMultipartResponse(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    expect(frames).toHaveLength(2);
    for (const f of frames) {
      expect(f.headers['content-type']).toMatch(/^image\/jpeg/);
      expect(f.body.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    }
    expect((await gw.fetch(`${gw.dicomweb}${instancePath}/frames/3`)).status).toBe(404);
    expect((await gw.fetch(`${gw.dicomweb}${instancePath}/frames/0,x`)).status).toBe(400);
  });

  it('answers 406 for a media type it cannot produce', async () => {
    const res = await gw.fetch(`${gw.dicomweb}${instancePath}/metadata`, { headers: { Accept: 'application/dicom+xml' } });
    expect(res.status).toBe(406);
  });

  it('reports liveness, readiness, metrics and the queue UI', async () => {
    expect(await (await gw.fetch(`${gw.baseUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await gw.fetch(`${gw.baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: { postgres: 'ok', redis: 'ok', storage: 'ok' } });
    const metrics = await (await gw.fetch(`${gw.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/huren_stow_instances_total\{outcome="stored"\} 1/);
    expect(metrics).toMatch(/huren_queue_jobs\{queue="index-instance",state="completed"\}/);
    expect(metrics).toMatch(/huren_dicomweb_request_seconds_count\{transaction="stow",status="200"\} 1/);
    const board = await gw.fetch(`${gw.baseUrl}/admin/queues`);
    expect(board.status).toBe(200);
    expect(await board.text()).toMatch(/<html/i);
  });

  it('answers unknown paths with a JSON 404', async () => {
    const res = await gw.fetch(`${gw.baseUrl}/nothing-here`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ status: 404, code: 'not_found' });
  });
});
