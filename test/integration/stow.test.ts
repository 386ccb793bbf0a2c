import http from 'node:http';
import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { makeInstance, randomUid } from '../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../support/gateway';

const fixture = (name: string) => readFileSync(path.join(__dirname, '..', 'fixtures', name));
type StowAnswer = Record<string, { Value?: Array<Record<string, { Value?: unknown[] }>> | string[] }>;

/** Every bad input has a documented answer (README, "STOW-RS behaviour"); nothing acknowledged is lost. */
describe('STOW-RS', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ workers: false, env: { HUREN_STOW_MAX_PART_BYTES: '200000', HUREN_STOW_MAX_REQUEST_BYTES: '1000000' } });
  });
  afterAll(() => gw.close());

  const post = async (parts: Parameters<typeof multipartBody>[0], studyPath = '') => {
    const { body, contentType } = multipartBody(parts);
    const res = await gw.fetch(`${gw.dicomweb}/studies${studyPath}`, { method: 'POST', body, headers: { 'Content-Type': contentType } });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type'), body: text ? (JSON.parse(text) as StowAnswer) : {} };
  };
  const failureReasons = (answer: StowAnswer) =>
    ((answer['00081198']?.Value ?? []) as Array<Record<string, { Value?: unknown[] }>>).map((f) => f['00081197'].Value![0]);
  const storedRows = async () => Number((await gw.core.db('instance').count({ n: '*' }))[0].n);
  const objectFiles = async () => {
    const files = await readdir(path.join(gw.core.config.HUREN_DATA_DIR, 'objects'), { recursive: true }).catch(() => []);
    return (files as string[]).filter((f) => f.endsWith('.dcm'));
  };

  it('stores a valid instance and answers 200 with ReferencedSOPSequence and RetrieveURL', async () => {
    const study = randomUid();
    const instance = makeInstance({ studyInstanceUid: study });
    const res = await post([instance], `/${study}`);
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/application\/dicom\+json/);
    expect(res.body['00081190'].Value).toEqual([`${gw.dicomweb}/studies/${study}`]);
    const [ref] = res.body['00081199'].Value as Array<Record<string, { Value?: unknown[] }>>;
    expect(ref['00081150'].Value).toEqual(['1.2.840.10008.5.1.4.1.1.2']);
    expect(String(ref['00081190'].Value![0])).toMatch(new RegExp(`/studies/${study}/series/[\\d.]+/instances/[\\d.]+$`));
    const row = await gw.core.db('instance').where({ study_instance_uid: study }).first();
    expect(row.status).toBe('received');
    expect(Number(row.size_bytes)).toBe(instance.length);
  });

  it('is idempotent: the same instance twice gives one row and one object', async () => {
    const instance = makeInstance();
    const before = (await objectFiles()).length;
    expect((await post([instance])).status).toBe(200);
    expect((await post([instance, instance])).status).toBe(200);
    const rows = await gw.core.db('instance').where({ sop_instance_uid: readSop(instance) });
    expect(rows).toHaveLength(1);
    expect((await objectFiles()).length).toBe(before + 1);
  });

  it('keeps the newer of two different objects with one SOPInstanceUID and records the replaced version', async () => {
    const sop = randomUid();
    const study = randomUid();
    const first = makeInstance({ sopInstanceUid: sop, studyInstanceUid: study, studyDescription: 'first' });
    const second = makeInstance({ sopInstanceUid: sop, studyInstanceUid: study, studyDescription: 'second' });
    expect((await post([first])).status).toBe(200);
    expect((await post([second])).status).toBe(200);
    const row = await gw.core.db('instance').where({ sop_instance_uid: sop }).first();
    expect(row.version).toBe(2);
    const versions = await gw.core.db('instance_version').where({ sop_instance_uid: sop });
    expect(versions).toHaveLength(1);
    expect(versions[0].version).toBe(1);
    expect(versions[0].object_key).not.toBe(row.object_key);
  });

  it('answers 202 with per-instance FailureReasons when some parts fail', async () => {
    const good = makeInstance();
    const res = await post([good, fixture('bad-not-dicom.dcm'), fixture('bad-unknown-ts.dcm'), fixture('bad-uid-mismatch.dcm')]);
    expect(res.status).toBe(202);
    expect(failureReasons(res.body)).toEqual([0xc000, 0xc122, 0xa900]);
    expect(res.body['00081199'].Value).toHaveLength(1);
  });

  it.each([
    ['a non-DICOM part', fixture('bad-not-dicom.dcm'), 0xc000],
    ['a truncated file', fixture('bad-truncated.dcm'), 0xc000],
    ['a file without meta header', fixture('bad-no-meta.dcm'), 0xc000],
    ['an unknown transfer syntax', fixture('bad-unknown-ts.dcm'), 0xc122],
    ['meta and data set disagreeing', fixture('bad-uid-mismatch.dcm'), 0xa900],
    ['a 0-byte part', Buffer.alloc(0), 0xc000],
  ])('answers 409 with a FailureReason for %s, storing nothing', async (_name, part, reason) => {
    const rows = await storedRows();
    const res = await post([part]);
    expect(res.status).toBe(409);
    expect(failureReasons(res.body)).toEqual([reason]);
    expect(await storedRows()).toBe(rows);
  });

  it('skips a large invalid part without stalling the parts after it', async () => {
    const blob = Buffer.alloc(600_000, 0x41);
    const res = await post([blob, makeInstance()]);
    expect(res.status).toBe(202);
    expect(failureReasons(res.body)).toEqual([0xc000]);
  });

  it('refuses an instance of another study than the URL names (0xA900)', async () => {
    const res = await post([makeInstance()], `/${randomUid()}`);
    expect(res.status).toBe(409);
    expect(failureReasons(res.body)).toEqual([0xa900]);
  });

  it('refuses a part that is not application/dicom (0xC000)', async () => {
    const res = await post([{ body: makeInstance(), contentType: 'application/pdf' }]);
    expect(res.status).toBe(409);
    expect(failureReasons(res.body)).toEqual([0xc000]);
  });

  it('refuses an oversized part with 0xA700 and removes its partial object', async () => {
    const before = await objectFiles();
    const big = makeInstance({ rows: 512, columns: 512 });
    const res = await post([big, makeInstance()]);
    expect(res.status).toBe(202);
    expect(failureReasons(res.body)).toEqual([0xa700]);
    expect((await objectFiles()).length).toBe(before.length + 1);
    expect(await gw.core.db('upload').count({ n: '*' })).toEqual([{ n: '0' }]);
  });

  it.each([
    ['no Content-Type', undefined, 415, 'missing_content_type'],
    ['a non-multipart type', 'application/dicom', 415, 'unsupported_media_type'],
    ['multipart of another type', 'multipart/related; type="application/dicom+xml"; boundary=x', 415, 'unsupported_media_type'],
    ['no boundary', 'multipart/related; type="application/dicom"', 400, 'malformed_multipart'],
  ])('answers %s with a JSON problem', async (_name, contentType, status, code) => {
    const res = await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body: makeInstance(), headers: contentType ? { 'Content-Type': contentType } : {} });
    expect(res.status).toBe(status);
    expect(await res.json()).toMatchObject({ status, code });
  });

  it('answers 400 for an empty multipart body and for a wrong boundary', async () => {
    const empty = await gw.fetch(`${gw.dicomweb}/studies`, {
      method: 'POST',
      body: '--b--\r\n',
      headers: { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b' },
    });
    expect(empty.status).toBe(400);
    const { body } = multipartBody([makeInstance()], 'actual');
    const wrong = await gw.fetch(`${gw.dicomweb}/studies`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=declared' },
    });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ code: expect.stringMatching(/malformed_multipart|no_instances/) });
  });

  it('answers 400 for a non-UID StudyInstanceUID in the path', async () => {
    const res = await post([makeInstance()], '/1.2.3/../../etc');
    expect([400, 404]).toContain(res.status);
    const bad = await post([makeInstance()], '/1.02.abc');
    expect(bad.status).toBe(400);
  });

  it('answers 413 before reading the body when Content-Length exceeds the limit, also on Expect: 100-continue', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${gw.dicomweb}/studies`, {
        method: 'POST',
        headers: { ...gw.auth, 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b', 'Content-Length': '5000000', Expect: '100-continue' },
      });
      req.on('continue', () => reject(new Error('server asked for the body')));
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(status).toBe(413);
  });

  it('sends 100 Continue and stores the body when the request is acceptable', async () => {
    const { body, contentType } = multipartBody([makeInstance()]);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${gw.dicomweb}/studies`, {
        method: 'POST',
        headers: { ...gw.auth, 'Content-Type': contentType, 'Content-Length': String(body.length), Expect: '100-continue' },
      });
      req.on('continue', () => req.end(body));
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(status).toBe(200);
  });

  it('answers 413 when a chunked body grows past the limit', async () => {
    const parts = Array.from({ length: 8 }, () => makeInstance({ rows: 256, columns: 256 }));
    const { body, contentType } = multipartBody(parts);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${gw.dicomweb}/studies`, {
        method: 'POST',
        headers: { ...gw.auth, 'Content-Type': contentType, 'Transfer-Encoding': 'chunked' },
      });
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', () => resolve(-1));
      for (let i = 0; i < body.length; i += 64 * 1024) req.write(body.subarray(i, i + 64 * 1024));
      req.end();
      void reject;
    });
    expect(status).toBe(413);
  });

  it('stores nothing and leaves no orphan when the client disconnects mid-upload', async () => {
    const rows = await storedRows();
    const files = (await objectFiles()).length;
    const sop = randomUid();
    const instance = makeInstance({ sopInstanceUid: sop, rows: 256, columns: 256 });
    const { body, contentType } = multipartBody([instance]);
    await new Promise<void>((resolve) => {
      const req = http.request(`${gw.dicomweb}/studies`, {
        method: 'POST',
        headers: { ...gw.auth, 'Content-Type': contentType, 'Transfer-Encoding': 'chunked' },
      });
      req.on('error', () => resolve());
      req.write(body.subarray(0, 60_000));
      setTimeout(() => {
        req.destroy();
        resolve();
      }, 200);
    });
    // The gateway notices the disconnect and cleans up asynchronously.
    for (let i = 0; i < 50 && (await gw.core.db('upload').count({ n: '*' }))[0].n !== '0'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await gw.core.db('upload').count({ n: '*' })).toEqual([{ n: '0' }]);
    expect(await storedRows()).toBe(rows);
    expect(await gw.core.db('instance').where({ sop_instance_uid: sop })).toHaveLength(0);
    expect((await objectFiles()).length).toBe(files);
  });
});

function readSop(instance: Buffer): string {
  // The factory writes SOPInstanceUID into the meta header too: read it from there.
  const text = instance.subarray(0, 400).toString('latin1');
  return /(2\.25\.\d+)/.exec(text.slice(text.indexOf('1.2.840.10008.5.1.4.1.1.2') + 26))![1];
}
