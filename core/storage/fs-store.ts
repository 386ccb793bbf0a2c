import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pLimit from 'p-limit';
import { assertValidRange, assertValidSize, ObjectNotFoundError, sizeMismatch, StorageFullError } from './index';
import { assertSafeKey } from './keys';
import type { ByteRange, ListedObject, ObjectInfo, ObjectStore } from './object-store';

const isMissing = (err: unknown) => {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
};

/**
 * A full disk (or a quota: EDQUOT) as StorageFullError, so STOW-RS can tell the sender why and
 * that a retry will do once space is freed; any other error as it is.
 */
function whenFull(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' ? new StorageFullError({ cause: err }) : err;
}

/**
 * Objects as files under `rootDir`, one file per key. Writes go to a temp file that is
 * fsync'd and renamed into place, so a reader sees either the old object or the whole
 * new one, and a crash never leaves a half-written object under a key. A write the disk has
 * no room for rejects with StorageFullError and leaves no file behind.
 */
export class FsObjectStore implements ObjectStore {
  private readonly rootDir: string;
  /** Objects `putUnsynced` wrote and `sync` has not yet made durable: their open file and the directories made for them. */
  private readonly unsynced = new Map<string, { handle: FileHandle; createdDirs: string[] }>();

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
        written = await writeBody(handle, body, (total) => {
          if (size !== undefined && total > size) throw sizeMismatch(key, size, 'more');
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
      throw whenFull(err);
    }
  }

  async putUnsynced(key: string, body: Readable): Promise<ObjectInfo> {
    let handle: FileHandle | undefined;
    const target = this.pathOf(key);
    try {
      // 'wx': keys are new by contract, and a clash must never truncate someone's object.
      // Opened first, and the directories made only when missing: most objects of an upload
      // go to a directory that exists, and this spares them the mkdir system calls.
      let createdDirs: string[] = [];
      handle = await open(target, 'wx').catch(async (err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        const dir = path.dirname(target);
        const firstCreated = await mkdir(dir, { recursive: true });
        // A directory mkdir created is durable only once its parent is fsync'd: `sync` does that.
        if (firstCreated !== undefined) createdDirs = createdChain(firstCreated, dir);
        return open(target, 'wx');
      });
      const size = await writeBody(handle, body, () => undefined);
      // Kept open for `sync`, which fsyncs and closes it: two system calls fewer per object.
      this.unsynced.set(key, { handle, createdDirs });
      return { size };
    } catch (err) {
      body.destroy();
      if (handle) {
        await handle.close().catch(() => undefined);
        await rm(target, { force: true }).catch(() => undefined);
      }
      throw whenFull(err);
    }
  }

  /**
   * fsyncs every file, then every directory holding one (its entry) or created for one (the
   * directory's own entry in its parent): once per directory however many files it holds.
   */
  async sync(keys: string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const key of keys) dirs.add(path.dirname(this.pathOf(key)));
    try {
      const limit = pLimit(SYNC_CONCURRENCY);
      await Promise.all(
        keys.map((key) =>
          limit(async () => {
            const written = this.unsynced.get(key);
            if (!written) return fsyncPath(this.pathOf(key));
            for (const d of written.createdDirs) dirs.add(d);
            await written.handle.sync();
          }),
        ),
      );
      // Only now is every directory known (createdDirs above).
      await Promise.all([...dirs].map((dir) => limit(() => fsyncPath(dir))));
    } catch (err) {
      // Filesystems that allocate late (delayed allocation, NFS, thin volumes) find out at fsync.
      throw whenFull(err);
    } finally {
      await Promise.all(keys.map((key) => this.release(key)));
    }
  }

  /** Closes the handle `putUnsynced` kept open for a key. */
  private async release(key: string): Promise<void> {
    const written = this.unsynced.get(key);
    this.unsynced.delete(key);
    await written?.handle.close().catch(() => undefined);
  }

  async list(prefix: string): Promise<ListedObject[]> {
    if (!prefix.endsWith('/')) throw new Error(`List prefix ${JSON.stringify(prefix)} must end with "/"`);
    const dir = this.pathOf(prefix.slice(0, -1));
    let entries;
    try {
      entries = await readdir(dir, { recursive: true, withFileTypes: true });
    } catch (err) {
      if (isMissing(err)) return [];
      throw err;
    }
    const listed: ListedObject[] = [];
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const file = path.join(entry.parentPath, entry.name);
      const info = await stat(file).catch(() => undefined);
      if (info) listed.push({ key: path.relative(this.rootDir, file).split(path.sep).join('/'), modifiedAt: info.mtime });
    }
    return listed;
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    const file = this.pathOf(key);
    if (range) assertValidRange(range);
    // Open before returning so a missing key rejects here rather than erroring the stream later.
    const handle = await open(file, 'r').catch((err: unknown) => {
      throw isMissing(err) ? new ObjectNotFoundError(key, { cause: err }) : err;
    });
    let size: number;
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new ObjectNotFoundError(key);
      if (range && range.start >= info.size) throw new RangeError(`Range starts at ${range.start}, past the end of a ${info.size}-byte object`);
      size = info.size;
    } catch (err) {
      await handle.close();
      throw err;
    }
    // Stops at the size found on opening: a stored object is never changed in place (put
    // replaces the file by rename).
    return new StoredObjectStream(handle, range?.start ?? 0, Math.min(range?.end ?? size - 1, size - 1) + 1);
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
    await this.release(key);
    await rm(this.pathOf(key), { force: true });
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
      await fsyncPath(d);
      if (d === this.rootDir || d === path.dirname(d)) return;
    }
  }
}

/** The most a stored object's stream reads at a time (the fs stream default is 64 KiB). */
const READ_BYTES = 1024 * 1024;

/**
 * The bytes of a stored object from `position` up to `end` (exclusive), read through `handle`,
 * which the stream closes when it ends or is destroyed. Up to 1 MiB per read: a whole instance
 * is one read sized to it, and no read is spent finding the end. Each read goes into a new
 * buffer sized to it, unless the consumer supplies them (`readInto`).
 */
export class StoredObjectStream extends Readable {
  private allocate: (size: number) => Buffer = (size) => Buffer.allocUnsafeSlow(size);

  constructor(
    private readonly handle: FileHandle,
    private position: number,
    private readonly end: number,
  ) {
    super({ highWaterMark: READ_BYTES });
  }

  /**
   * Reads into buffers from `allocate` (`size` bytes each) from now on, so that a consumer that
   * knows when it is done with a chunk can reuse its memory: WADO-RS series retrieve does, which
   * spares the garbage collector tens of megabytes per response (gateway/dicomweb/wado.ts).
   */
  readInto(allocate: (size: number) => Buffer): void {
    this.allocate = allocate;
  }

  override _read(): void {
    const size = Math.min(READ_BYTES, this.end - this.position);
    if (size <= 0) {
      this.push(null);
      return;
    }
    const buffer = this.allocate(size);
    this.handle.read(buffer, 0, size, this.position).then(
      ({ bytesRead }) => {
        if (this.destroyed) return;
        // Fewer bytes than found on opening: the file was truncated behind the store's back; end there, as fs streams do.
        if (bytesRead === 0) {
          this.push(null);
          return;
        }
        this.position += bytesRead;
        this.push(bytesRead < size ? buffer.subarray(0, bytesRead) : buffer);
      },
      (err: Error) => this.destroy(err),
    );
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    // A FileHandle closes once a read still in flight has finished.
    this.handle.close().then(
      () => callback(err),
      (closeErr: Error) => callback(err ?? closeErr),
    );
  }
}

/** Writes are coalesced up to this size: one system call per MiB rather than per socket read. */
const WRITE_COALESCE_BYTES = 1024 * 1024;
/** The libuv pool has 4 threads by default; more in flight only queue there. */
const SYNC_CONCURRENCY = 8;

/** Writes the whole body through `handle`, returning its size; `check` sees the running total first. */
async function writeBody(handle: FileHandle, body: Readable, check: (total: number) => void): Promise<number> {
  let total = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    // Written through the handle itself, not handle.createWriteStream(): a FileHandle stream
    // keeps the handle referenced, and with autoClose off (needed to fsync) handle.close()
    // would then wait forever. writev: the chunks go out as they came, without a copy.
    const chunks = pending;
    const bytes = pendingBytes;
    pending = [];
    pendingBytes = 0;
    const { bytesWritten } = await handle.writev(chunks);
    // A short write (more chunks than IOV_MAX, a full disk) continues from where it stopped.
    let rest = bytesWritten < bytes ? Buffer.concat(chunks).subarray(bytesWritten) : Buffer.alloc(0);
    while (rest.length > 0) rest = rest.subarray((await handle.write(rest)).bytesWritten);
  };
  await pipeline(body, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      total += chunk.length;
      check(total);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= WRITE_COALESCE_BYTES) await flush();
    }
  });
  if (pendingBytes > 0) await flush();
  return total;
}

async function fsyncPath(file: string): Promise<void> {
  const handle = await open(file, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** The directories `mkdir -p` made, from the first one down to `dir`, and the parent of the first. */
function createdChain(firstCreated: string, dir: string): string[] {
  const chain = [];
  for (let d = dir; d !== path.dirname(firstCreated); d = path.dirname(d)) chain.push(d);
  chain.push(path.dirname(firstCreated));
  return chain;
}
