/**
 * A full disk under the fs object store (`npm run chaos`, disk-full). The ENOSPC is real: the
 * store lives on a 2 MiB tmpfs that a ballast file fills (mounting needs root; skipped otherwise).
 * Before the fix a full disk looked like any storage outage: STOW-RS answered 503
 * "storage_unavailable" and nothing, in the PACS's log or in huren's, said the disk was full.
 */
import { spawnSync } from 'node:child_process';
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
      // No worker indexes here: the index lag must not hold STOW back.
      gw = await startTestGateway({ env: { HUREN_DATA_DIR: path.join(mnt, 'data'), HUREN_STOW_MAX_INDEX_LAG_SECONDS: '0' }, workers: false });
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
      expect(res.headers.get('retry-after')).toBeTruthy();
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
});
