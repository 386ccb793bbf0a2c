import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertValidRange, assertValidSize, ObjectNotFoundError, sizeMismatch } from './index';
import { assertSafeKey } from './keys';
import type { ByteRange, ObjectInfo, ObjectStore } from './object-store';

const isMissing = (err: unknown) => {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

/**
 * Objects as files under `rootDir`, one file per key. Writes go to a temp file that is
 * fsync'd and renamed into place, so a reader sees either the old object or the whole
 * new one, and a crash never leaves a half-written object under a key.
 */
export class FsObjectStore implements ObjectStore {
  private readonly rootDir: string;

  constructor(rootDir: string) {
    this.rootDir = path.resolve(rootDir);
  }

  async put(key: string, body: Readable, size?: number): Promise<ObjectInfo> {
    let temp: string | undefined;
    let placed: string | undefined;
    try {
      const target = this.pathOf(key);
      if (size !== undefined) assertValidSize(size);
      const dir = path.dirname(target);
      await mkdir(dir, { recursive: true });
      temp = path.join(dir, `.${path.basename(target)}.${randomBytes(8).toString('hex')}.part`);
      let written = 0;
      const handle = await open(temp, 'wx');
      try {
        // Written through the handle itself, not handle.createWriteStream(): a FileHandle
        // stream keeps the handle referenced, and with autoClose off (needed to fsync)
        // handle.close() would then wait forever.
        await pipeline(body, async (source: AsyncIterable<Buffer>) => {
          for await (const chunk of source) {
            written += chunk.length;
            if (size !== undefined && written > size) throw sizeMismatch(key, size, 'more');
            for (let offset = 0; offset < chunk.length;) offset += (await handle.write(chunk, offset)).bytesWritten;
          }
        });
        if (size !== undefined && written !== size) throw sizeMismatch(key, size, 'fewer');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, target);
      placed = target;
      await this.syncDirs(dir);
      return { size: written };
    } catch (err) {
      // The put owns the body: even an early failure must not leave the source paused.
      body.destroy();
      if (temp !== undefined) await rm(temp, { force: true }).catch(() => undefined);
      // Renamed but not yet durable: a rejected put must leave no object, so take it back.
      if (placed !== undefined) await rm(placed, { force: true }).catch(() => undefined);
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(key);
    if (range) assertValidRange(range);
    // Open before returning so a missing key rejects here rather than erroring the stream later.
    const handle = await open(file, 'r').catch((err: unknown) => {
      throw isMissing(err) ? new ObjectNotFoundError(key, { cause: err }) : err;
    });
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new ObjectNotFoundError(key);
      if (range && range.start >= info.size) throw new RangeError(`Range starts at ${range.start}, past the end of a ${info.size}-byte object`);
    } catch (err) {
      await handle.close();
      throw err;
    }
    // The stream closes the handle when it ends or is destroyed.
    return handle.createReadStream(range ? { start: range.start, end: range.end } : {});
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      return info.isFile() ? { size: info.size } : undefined;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    // Empty directories stay: removing them would race with a concurrent put into them.
    await rm(this.pathOf(key), { force: true });
  }

  /**
   * A process killed mid-put leaves its temp file (`.<name>.<random>.part`) next to the key,
   * where `delete` does not look: found by `npm run chaos` (gateway-kill9). The sweep calls
   * this for uploads that never committed; a temp file still being written to (a slow upload
   * older than the sweep's grace) is kept, and reported so the sweep keeps its upload row.
   */
  async removeAbandonedPut(key: string, idleMs: number): Promise<boolean> {
    const target = this.pathOf(key);
    const dir = path.dirname(target);
    const prefix = `.${path.basename(target)}.`;
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
    let writing = false;
    for (const name of names) {
      if (!name.startsWith(prefix) || !name.endsWith('.part')) continue;
      const temp = path.join(dir, name);
      const info = await stat(temp).catch(() => undefined);
      if (!info) continue;
      if (Date.now() - info.mtimeMs < idleMs) writing = true;
      else await rm(temp, { force: true });
    }
    return writing;
  }

  async ping(): Promise<void> {
    // Created here as put would: on a fresh install nothing else creates the root before
    // the first readiness probe, and a failing probe would keep the first put from coming.
    await mkdir(this.rootDir, { recursive: true });
    await access(this.rootDir, constants.R_OK | constants.W_OK | constants.X_OK);
  }

  private pathOf(key: string): string {
    assertSafeKey(key);
    return path.join(this.rootDir, ...key.split('/'));
  }

  /**
   * The rename's directory entry is durable only once `dir` is fsync'd, and a directory
   * mkdir just created only once its parent is; so sync every level up to the root.
   * Syncing a directory with nothing pending is cheap.
   */
  private async syncDirs(dir: string): Promise<void> {
    for (let d = dir; ; d = path.dirname(d)) {
      const handle = await open(d, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (d === this.rootDir || d === path.dirname(d)) return;
    }
  }
}
