import { makeInstance, randomUid } from '../support/dicom-factory';
import { multipartBody, parseMultipartResponse, startTestGateway, type TestGateway } from '../support/gateway';
import { s3GatewayEnv, startS3rver } from '../support/s3rver';

/** The whole pipeline on the S3 driver (real minio client, s3rver on loopback), and what happens when S3 goes away. */
describe('STOW-RS and WADO-RS on S3 storage', () => {
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let gw: TestGateway;

  beforeAll(async () => {
    s3 = await startS3rver();
    gw = await startTestGateway({ env: s3GatewayEnv(s3.port) });
  });
  afterAll(async () => {
    await gw.close();
    await s3.stop();
  });

  const stow = (parts: Buffer[]) => {
    const { body, contentType } = multipartBody(parts);
    return gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType } });
  };

  it('stores, indexes and retrieves byte-exact through S3 (the gateway created the bucket)', async () => {
    const study = randomUid();
    const series = randomUid();
    const instance = makeInstance({ studyInstanceUid: study, seriesInstanceUid: series, rows: 256, columns: 256 });
    expect((await stow([instance])).status).toBe(200);
    await gw.waitForIndexed(study, 1);
    const res = await gw.fetch(`${gw.dicomweb}/studies/${study}/series/${series}`, {
      headers: { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
    });
    const [part] = parseMultipartResponse(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    expect(Buffer.compare(part.body, instance)).toBe(0);
  });

  it('answers 503 with Retry-After, never 200, when storage cannot make an instance durable; readiness fails too', async () => {
    await s3.stop();
    const sop = randomUid();
    const res = await stow([makeInstance({ sopInstanceUid: sop })]);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeTruthy();
    expect(await res.json()).toMatchObject({ status: 503, code: 'storage_unavailable' });
    expect(await gw.core.db('instance').where({ sop_instance_uid: sop })).toHaveLength(0);
    // The upload row stays: storage could not confirm that nothing of the failed put is left
    // there, so the reconciliation sweep deletes the key once storage is back (no orphan).
    expect(await gw.core.db('upload').count({ n: '*' })).toEqual([{ n: '1' }]);

    const ready = await gw.fetch(`${gw.baseUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.storage).not.toBe('ok');
  });
});
