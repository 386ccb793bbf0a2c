import { readdirSync, readlinkSync } from 'node:fs';
import http from 'node:http';
import dcmjs from 'dcmjs';
import { makeInstance, randomUid, TS } from '../support/dicom-factory';
import { multipartBody, parseMultipartResponse, startTestGateway, type TestGateway } from '../support/gateway';
import { s3GatewayEnv, startS3rver } from '../support/s3rver';

/**
 * WADO-RS retrieve of whole series: many parts streamed one after another (objects opened one
 * ahead of the part being sent), instances larger than one storage read, the Implicit →
 * Explicit VR Little Endian transcoding among them, and what a response does when an object
 * is missing or the client leaves half-way.
 */
describe('WADO-RS series retrieve', () => {
  let gw: TestGateway;
  const study = randomUid();
  const series = randomUid();
  const ALL = 'multipart/related; type="application/dicom"; transfer-syntax=*';
  // 24 parts: more than the 10 listeners a response may hold before Node warns. Every fifth is
  // Implicit VR Little Endian; every seventh is over 1 MiB (several reads of the stored file).
  const instances = Array.from({ length: 24 }, (_, k) =>
    makeInstance({
      studyInstanceUid: study,
      seriesInstanceUid: series,
      instanceNumber: k + 1,
      patientId: 'WADO-SERIES',
      transferSyntaxUid: k % 5 === 0 ? TS.implicitLittleEndian : TS.explicitLittleEndian,
      ...(k % 7 === 3 ? { rows: 800, columns: 800 } : { rows: 32, columns: 32 }),
    }),
  );
  const path = `/studies/${study}/series/${series}`;

  let keys: string[] = [];
  /** Stored objects of the series that this process (the gateway's) holds open. */
  const openObjects = () =>
    readdirSync('/proc/self/fd').filter((fd) => {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        return keys.some((key) => target.endsWith(key));
      } catch {
        return false;
      }
    });
  const settle = () => new Promise((r) => setTimeout(r, 200));

  /** Status, and the body bytes that arrived until the response ended or broke off. */
  const rawGet = (accept: string, stopAfter?: number) =>
    new Promise<{ status: number; body: Buffer; complete: boolean }>((resolve, reject) => {
      const req = http.get(`${gw.dicomweb}${path}`, { headers: { ...gw.auth, Accept: accept } }, (res) => {
        const chunks: Buffer[] = [];
        let length = 0;
        const done = (complete: boolean) => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), complete });
        res.on('data', (c: Buffer) => {
          chunks.push(c);
          length += c.length;
          if (stopAfter !== undefined && length >= stopAfter) {
            req.destroy();
            done(false);
          }
        });
        res.on('end', () => done(res.complete));
        res.on('aborted', () => done(false));
        res.on('error', () => done(false));
      });
      req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
    });

  beforeAll(async () => {
    gw = await startTestGateway();
    const { body, contentType } = multipartBody(instances);
    const res = await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType } });
    expect(res.status).toBe(200);
    await gw.waitForIndexed(study, instances.length);
    keys = (await gw.core.db('instance').where({ study_instance_uid: study }).pluck('object_key')) as string[];
    expect(keys).toHaveLength(instances.length);
  });
  afterAll(() => gw.close());

  it('streams every instance byte-exact in instance order, with no listener warnings', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      for (let round = 0; round < 3; round++) {
        const res = await gw.fetch(`${gw.dicomweb}${path}`, { headers: { Accept: ALL } });
        expect(res.status).toBe(200);
        const parts = parseMultipartResponse(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
        expect(parts).toHaveLength(instances.length);
        parts.forEach((part, k) => {
          expect(part.headers['content-type']).toBe(`application/dicom; transfer-syntax=${k % 5 === 0 ? TS.implicitLittleEndian : TS.explicitLittleEndian}`);
          expect(Buffer.compare(part.body, instances[k])).toBe(0);
        });
      }
      await settle();
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.map((w) => w.name)).not.toContain('MaxListenersExceededWarning');
    expect(openObjects()).toEqual([]);
  });

  it('transcodes the Implicit VR Little Endian instances of a series when no transfer syntax is asked', async () => {
    const res = await gw.fetch(`${gw.dicomweb}${path}`, { headers: { Accept: 'multipart/related; type="application/dicom"' } });
    expect(res.status).toBe(200);
    const parts = parseMultipartResponse(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
    expect(parts).toHaveLength(instances.length);
    parts.forEach((part, k) => {
      expect(part.headers['content-type']).toBe(`application/dicom; transfer-syntax=${TS.explicitLittleEndian}`);
      if (k % 5 !== 0) {
        expect(Buffer.compare(part.body, instances[k])).toBe(0);
        return;
      }
      const file = dcmjs.data.DicomMessage.readFile(part.body.buffer.slice(part.body.byteOffset, part.body.byteOffset + part.body.length) as ArrayBuffer);
      expect(file.meta['00020010'].Value).toEqual([TS.explicitLittleEndian]);
      expect(file.dict['00200013'].Value).toEqual([k + 1]);
    });
  });

  it('closes every object it opened when the client leaves half-way', async () => {
    const half = instances.slice(0, 12).reduce((n, b) => n + b.length, 0);
    const res = await rawGet(ALL, half);
    expect(res.status).toBe(200);
    expect(res.complete).toBe(false);
    await settle();
    expect(openObjects()).toEqual([]);
    // The gateway goes on serving.
    expect((await rawGet(ALL)).complete).toBe(true);
  });

  it('breaks off a response (status 200 already sent, no 500) when an object is missing mid-series', async () => {
    const [row] = await gw.core.db('instance').where({ study_instance_uid: study, instance_number: 9 }).select('object_key');
    await gw.core.store.delete(row.object_key as string);
    const res = await rawGet(ALL);
    expect(res.status).toBe(200);
    expect(res.complete).toBe(false);
    // The eight parts before the missing one arrived whole, and nothing of the parts after it.
    const body = res.body.toString('latin1');
    for (let k = 0; k < 8; k++) expect(body.includes(instances[k].toString('latin1'))).toBe(true);
    expect(body.includes(instances[9].subarray(0, 1024).toString('latin1'))).toBe(false);
    await settle();
    expect(openObjects()).toEqual([]);
  });
});

/** The same on the S3 driver, where opening the next object is a GET whose body waits unread. */
describe('WADO-RS series retrieve on S3 storage', () => {
  let s3: Awaited<ReturnType<typeof startS3rver>>;
  let gw: TestGateway;
  const study = randomUid();
  const series = randomUid();
  const instances = Array.from({ length: 12 }, (_, k) =>
    makeInstance({ studyInstanceUid: study, seriesInstanceUid: series, instanceNumber: k + 1, rows: 256, columns: 256 + k }),
  );

  beforeAll(async () => {
    s3 = await startS3rver();
    gw = await startTestGateway({ env: s3GatewayEnv(s3.port) });
    const { body, contentType } = multipartBody(instances);
    const res = await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType } });
    expect(res.status).toBe(200);
    await gw.waitForIndexed(study, instances.length);
  });
  afterAll(async () => {
    await gw.close();
    await s3.stop();
  });

  it('streams every instance byte-exact, also after a client left half-way', async () => {
    const url = `${gw.dicomweb}/studies/${study}/series/${series}`;
    const accept = 'multipart/related; type="application/dicom"; transfer-syntax=*';
    const left = new AbortController();
    const first = await gw.fetch(url, { headers: { Accept: accept }, signal: left.signal });
    expect(first.status).toBe(200);
    await first.body!.getReader().read();
    left.abort();
    for (let round = 0; round < 2; round++) {
      const res = await gw.fetch(url, { headers: { Accept: accept } });
      expect(res.status).toBe(200);
      const parts = parseMultipartResponse(Buffer.from(await res.arrayBuffer()), res.headers.get('content-type')!);
      expect(parts.map((p, k) => Buffer.compare(p.body, instances[k]))).toEqual(instances.map(() => 0));
    }
  });
});
