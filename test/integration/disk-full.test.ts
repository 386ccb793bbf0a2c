/**
 * A full disk under the fs object store (`npm run chaos`, disk-full). The ENOSPC is real: the
 * store lives on a 2 MiB tmpfs that a ballast file fills (mounting needs root; skipped otherwise).
 * Before the fix a full disk looked like any storage outage: STOW-RS answered 503
 * "storage_unavailable" and nothing, in the PACS's log or in huren's, said the disk was full.
 */
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { FailureReason } from '../../core/dicom/failure-reasons';
import { StorageFullError } from '../../core/storage';
import { FsObjectStore } from '../../core/storage/fs-store';
import { makeInstance } from '../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../support/gateway';

const PAGE = 4096;
const mnt = mkdtempSync(path.join(os.tmpdir(), 'huren-disk-full-'));
const mounted = process.getuid?.() === 0 && spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]).status === 0;

afterAll(() => {
  if (mounted) spawnSync('umount', [mnt]);
  rmSync(mnt, { recursive: true, force: true });
});

/** A file filling the tmpfs but for `freePages` pages (tmpfs hands out whole pages). */
class Ballast {
  private handle?: FileHandle;
  constructor(private readonly file: string) {}

  async fill(freePages = 0): Promise<void> {
    this.handle = await open(this.file, 'w');
    let size = 0;
    for (const chunk of [Buffer.alloc(256 * 1024), Buffer.alloc(PAGE)]) {
      for (;;) {
        const written = await this.handle.write(chunk).then(
          (r) => r.bytesWritten,
          (err: NodeJS.ErrnoException) => {
            if (err.code === 'ENOSPC') return 0;
            throw err;
          },
        );
        size += written;
        if (written < chunk.length) break;
      }
    }
    await this.handle.truncate(size - freePages * PAGE);
  }

  async release(): Promise<void> {
    await this.handle?.close();
    this.handle = undefined;
    await rm(this.file, { force: true });
  }
}

/** Every file under `dir`, partial ones included. */
const filesUnder = (dir: string) =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)));

/** Instances of one page each on the tmpfs. */
const small = () => makeInstance({ rows: 16, columns: 16 });

(mounted ? describe : describe.skip)('a full disk under the fs object store', () => {
  const ballast = new Ballast(path.join(mnt, 'ballast'));
  afterEach(() => ballast.release());

  it('rejects a write the disk has no room for with StorageFullError, leaving no file', async () => {
    const root = path.join(mnt, 'driver');
    const store = new FsObjectStore(root);
    await store.ping();
    await ballast.fill();
    const body = () => Readable.from([Buffer.alloc(64 * 1024, 1)]);
    const failure: unknown = await store.putUnsynced('u/1.dcm', body()).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(StorageFullError);
    expect(((failure as Error).cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    await expect(store.put('u/2.dcm', body(), 64 * 1024)).rejects.toBeInstanceOf(StorageFullError);
    expect(filesUnder(root)).toEqual([]);

    await ballast.release();
    await store.putUnsynced('u/1.dcm', body());
    await store.sync(['u/1.dcm']);
    expect(filesUnder(root)).toEqual([path.join('u', '1.dcm')]);
  });

  describe('STOW-RS', () => {
    let gw: TestGateway;
    const objects = path.join(mnt, 'data', 'objects');
    beforeAll(async () => {
      mkdirSync(path.join(mnt, 'data'));
      // No worker indexes here: the index lag must not hold STOW back. Without the hold before the
      // body (tested below), each request here reaches the disk.
      gw = await startTestGateway({
        env: { HUREN_DATA_DIR: path.join(mnt, 'data'), HUREN_STOW_MAX_INDEX_LAG_SECONDS: '0', HUREN_STOW_STORAGE_FULL_HOLD_SECONDS: '0' },
        workers: false,
      });
    });
    afterAll(() => gw.close());

    const stow = (instances: Buffer[]) => {
      const { body, contentType } = multipartBody(instances);
      return gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
    };
    const uploadRows = async () => Number((await gw.core.db('upload').count({ n: '*' }))[0].n);

    it('answers 503 storage_full with Retry-After when no instance fits, leaves nothing behind, and stores them once space is freed', async () => {
      const instances = [small(), small()];
      await ballast.fill();
      const res = await stow(instances);
      expect(res.status).toBe(503);
      // Longer than other 503s' 5 s (HUREN_STOW_STORAGE_FULL_RETRY_AFTER_SECONDS): space is not freed within seconds.
      expect(res.headers.get('retry-after')).toBe('60');
      const problem = (await res.json()) as { code: string; message: string };
      expect(problem.code).toBe('storage_full');
      expect(problem.message).toMatch(/Storage is full/);
      expect(problem.message).toMatch(/存储空间已满/);
      expect(filesUnder(objects)).toEqual([]);
      expect(await uploadRows()).toBe(0);

      await ballast.release();
      const retried = await stow(instances);
      expect(retried.status).toBe(200);
      expect(filesUnder(objects)).toHaveLength(2);
    });

    it('stores what fits and fails the rest with A700 Out of Resources (202), so the PACS re-sends only those', async () => {
      const before = filesUnder(objects).length;
      const instances = [small(), small()];
      await ballast.fill(1);
      const res = await stow(instances);
      expect(res.status).toBe(202);
      const body = (await res.json()) as Record<string, { Value: Array<Record<string, { Value: unknown[] }>> }>;
      expect(body['00081199'].Value).toHaveLength(1);
      expect(body['00081198'].Value).toHaveLength(1);
      expect(body['00081198'].Value[0]['00081197'].Value).toEqual([FailureReason.outOfResources]);
      // The stored instance's object, and no partial one of the other.
      expect(filesUnder(objects)).toHaveLength(before + 1);
      expect(await uploadRows()).toBe(0);

      await ballast.release();
      const failedUid = body['00081198'].Value[0]['00081155'].Value[0];
      const resent = instances.filter((i) => i.includes(Buffer.from(String(failedUid))));
      expect(resent).toHaveLength(1);
      expect((await stow(resent)).status).toBe(200);
    });
  });

  /**
   * A full disk found by one STOW used to be found again by every retry, each read to its end
   * (a PACS re-sending a large study every 5 s). Now the gateway refuses new STOW requests before
   * their body for HUREN_STOW_STORAGE_FULL_HOLD_SECONDS, then lets one request through to probe.
   */
  describe('STOW-RS after storage was found full', () => {
    const HOLD_MS = 2000;
    let gw: TestGateway;
    beforeAll(async () => {
      mkdirSync(path.join(mnt, 'held'));
      gw = await startTestGateway({
        env: { HUREN_DATA_DIR: path.join(mnt, 'held'), HUREN_STOW_MAX_INDEX_LAG_SECONDS: '0', HUREN_STOW_STORAGE_FULL_HOLD_SECONDS: String(HOLD_MS / 1000) },
        workers: false,
      });
    });
    afterAll(() => gw.close());

    const stow = (instances: Buffer[]) => {
      const { body, contentType } = multipartBody(instances);
      return gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' }, body });
    };
    /**
     * A STOW whose client sends the headers and the first bytes of its body, then nothing: it is
     * answered only if the gateway answers without reading the body (otherwise it waits until
     * `abort`, and a test expecting an answer times out).
     */
    const unfinishedStow = () => {
      const { body, contentType } = multipartBody([small()]);
      const req = http.request(`${gw.dicomweb}/studies`, {
        method: 'POST',
        headers: { ...gw.auth, 'Content-Type': contentType, 'Content-Length': body.length, Accept: 'application/dicom+json' },
      });
      req.on('error', () => undefined);
      req.write(body.subarray(0, 200));
      const answer = new Promise<{ status: number; headers: http.IncomingHttpHeaders; problem: { code: string; message: string } }>((resolve, reject) => {
        req.once('response', (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, problem: JSON.parse(Buffer.concat(chunks).toString()) }));
          res.on('error', reject);
        });
      });
      return { answer, abort: () => req.destroy() };
    };
    const refusedBeforeBody = async () => {
      const { answer, abort } = unfinishedStow();
      const res = await answer;
      abort();
      return res;
    };
    /** A STOW with `Expect: 100-continue`: the status it is answered with before it sends its body, or 100. */
    const continueOrStatus = () =>
      new Promise<{ status: number; retryAfter?: string }>((resolve, reject) => {
        const { body, contentType } = multipartBody([small()]);
        const req = http.request(`${gw.dicomweb}/studies`, {
          method: 'POST',
          headers: { ...gw.auth, 'Content-Type': contentType, 'Content-Length': body.length, Expect: '100-continue' },
        });
        req.on('continue', () => {
          resolve({ status: 100 });
          req.destroy();
        });
        req.on('response', (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0, retryAfter: res.headers['retry-after'] as string | undefined });
        });
        req.on('error', (err) => (req.destroyed ? undefined : reject(err)));
        req.flushHeaders();
      });
    const problemOf = async (res: Response) => (await res.json()) as { code: string; message: string };
    const admissions = async (outcome: string) => {
      const text = await (await gw.fetch(`${gw.baseUrl}/metrics`)).text();
      const line = text.split('\n').find((l) => l.startsWith(`huren_stow_admission_total{outcome="${outcome}"}`));
      return line ? Number(line.split(' ')[1]) : 0;
    };
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    const count = async (table: string) => Number((await gw.core.db(table).count({ n: '*' }))[0].n);

    it('refuses new requests before their body during the hold; a probe still finding the disk full holds again, one that stores ends the hold', async () => {
      await ballast.fill();
      const first = await stow([small()]);
      expect(first.status).toBe(503);
      expect((await problemOf(first)).message).toMatch(/no instance was stored/);

      const held = await refusedBeforeBody();
      expect(held.status).toBe(503);
      expect(held.headers.connection).toBe('close');
      expect(held.headers['retry-after']).toBe('60');
      expect(held.problem.code).toBe('storage_full');
      expect(held.problem.message).toMatch(/Storage is full: the request was refused before its body was read/);
      expect(held.problem.message).toMatch(/存储空间已满，请求未接收/);
      // A client that waits for 100 Continue is answered before it sends anything.
      expect(await continueOrStatus()).toEqual({ status: 503, retryAfter: '60' });
      expect(await admissions('storage_full')).toBe(2);

      // After the hold the next request goes through, and finds the disk still full: a new hold.
      await sleep(HOLD_MS + 200);
      const probe = await stow([small()]);
      expect(probe.status).toBe(503);
      expect(probe.headers.get('retry-after')).toBe('60');
      expect((await problemOf(probe)).message).toMatch(/no instance was stored/);
      expect((await refusedBeforeBody()).problem.code).toBe('storage_full');
      expect(await admissions('storage_full')).toBe(3);

      // Space freed: the next probe stores, and the requests after it are not held.
      await ballast.release();
      await sleep(HOLD_MS + 200);
      expect((await stow([small()])).status).toBe(200);
      expect((await stow([small()])).status).toBe(200);
      expect(await continueOrStatus()).toEqual({ status: 100 });
      expect(await admissions('storage_full')).toBe(3);
      expect(await count('instance')).toBe(2);
      expect(await count('upload')).toBe(0);
    });

    it('lets one probe through at a time, and the next request probe when the probe ends without a verdict (its client left)', async () => {
      await ballast.fill();
      expect((await stow([small()])).status).toBe(503);
      await sleep(HOLD_MS + 200);

      const admitted = await admissions('immediate');
      const probe = unfinishedStow();
      // The probe is past the hold once admission control counted it.
      while ((await admissions('immediate')) === admitted) await sleep(20);
      const other = await refusedBeforeBody();
      expect(other.status).toBe(503);
      expect(other.problem.message).toMatch(/before its body was read/);

      await ballast.release();
      probe.abort();
      // The gateway learns of the probe's disconnect on its own time: ask until it let a request through.
      let res: Response;
      for (;;) {
        res = await stow([small()]);
        if (res.status !== 503 || !(await problemOf(res)).message.includes('before its body was read')) break;
        await sleep(50);
      }
      expect(res.status).toBe(200);
      expect((await stow([small()])).status).toBe(200);
    });
  });
});
