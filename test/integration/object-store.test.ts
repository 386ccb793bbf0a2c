import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { FsObjectStore, ObjectNotFoundError, S3ObjectStore, type ObjectStore } from '../../core/storage';
import { StoredObjectStream } from '../../core/storage/fs-store';
import { startS3rver } from '../support/s3rver';

/**
 * One contract, run against both drivers: the fs driver in a fresh temp dir, the S3 driver
 * against a real s3rver (in-process S3 emulator) through the real minio client.
 */

const MiB = 1024 * 1024;
const BIG = 20_000_000; // over the S3 driver's 16 MiB part size: a two-part multipart upload

interface Harness {
  store: ObjectStore;
  /** Stray temp files, for drivers that can show them. */
  leftovers(): Promise<string[]>;
  stop(): Promise<void>;
}

const tempDir = (prefix: string) => mkdtemp(path.join(os.tmpdir(), `huren-${prefix}-`));
const bucketName = () => `huren-test-${process.pid}-${randomBytes(4).toString('hex')}`;

function s3Store(port: number, bucket: string): S3ObjectStore {
  // s3rver accepts this fixed key pair.
  return new S3ObjectStore({
    endPoint: '127.0.0.1',
    port,
    useSSL: false,
    accessKey: 'S3RVER',
    secretKey: 'S3RVER',
    bucket,
    region: 'us-east-1',
    pingTimeoutMs: 2000,
  });
}

async function startFs(): Promise<Harness> {
  const root = await tempDir('objects');
  const allFiles = async () => (await readdir(root, { recursive: true })).map(String);
  return {
    store: new FsObjectStore(root),
    leftovers: async () => (await allFiles()).filter((f) => f.endsWith('.part')),
    stop: () => rm(root, { recursive: true, force: true }),
  };
}

async function startS3(): Promise<Harness> {
  const server = await startS3rver();
  const store = s3Store(server.port, bucketName());
  await store.ensureBucket();
  return { store, leftovers: async () => [], stop: () => server.stop() };
}

/** `total` deterministic pseudo-random bytes (AES-CTR keystream), made chunk by chunk, never whole. */
function generated(total: number, seed: string, failAfter?: { bytes: number; error?: Error }): Readable {
  const cipher = createCipheriv('aes-128-ctr', createHash('md5').update(seed).digest(), Buffer.alloc(16));
  let sent = 0;
  return new Readable({
    read() {
      if (failAfter && sent >= failAfter.bytes) return void this.destroy(failAfter.error);
      if (sent === total) return void this.push(null);
      const n = Math.min(64 * 1024, total - sent);
      sent += n;
      this.push(cipher.update(Buffer.alloc(n)));
    },
  });
}

async function sha256(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Bytes start..end (inclusive) of a stream, keeping only those. */
async function slice(stream: Readable, start: number, end: number): Promise<Buffer> {
  const kept: Buffer[] = [];
  let offset = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const from = Math.max(start - offset, 0);
    const to = Math.min(end + 1 - offset, chunk.length);
    if (from < to) kept.push(chunk.subarray(from, to));
    offset += chunk.length;
  }
  return Buffer.concat(kept);
}

const text = (s: string) => Readable.from([Buffer.from(s)]);

describe.each([
  ['fs', startFs],
  ['s3', startS3],
])('%s object store contract', (driver, start) => {
  let h: Harness;
  let store: ObjectStore;

  beforeAll(async () => {
    h = await start();
    store = h.store;
  });
  afterAll(() => h?.stop());

  afterEach(async () => {
    expect(await h.leftovers()).toEqual([]);
  });

  it('answers ping', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });

  it('round-trips a small object and an empty one', async () => {
    await expect(store.put('small/a.dcm', text('hello, 互认'))).resolves.toEqual({ size: 13 });
    expect((await readAll(await store.get('small/a.dcm'))).toString()).toBe('hello, 互认');
    await expect(store.put('small/empty.dcm', Readable.from([]), 0)).resolves.toEqual({ size: 0 });
    expect(await readAll(await store.get('small/empty.dcm'))).toHaveLength(0);
    expect(await store.stat('small/empty.dcm')).toEqual({ size: 0 });
  });

  it.each([
    ['with its size declared', BIG],
    ['without a size', undefined],
  ])('round-trips a 20 MB streamed body byte-exact %s', async (_how, size) => {
    const key = `big/${size ?? 'unsized'}.dcm`;
    await expect(store.put(key, generated(BIG, key), size)).resolves.toEqual({ size: BIG });
    expect(await store.stat(key)).toEqual({ size: BIG });
    expect(await sha256(await store.get(key))).toBe(await sha256(generated(BIG, key)));
    // A range across the S3 driver's part boundary.
    const range = { start: 16 * MiB - 100, end: 16 * MiB + 99 };
    const got = await readAll(await store.get(key, range));
    expect(got).toHaveLength(200);
    expect(got.equals(await slice(generated(BIG, key), range.start, range.end))).toBe(true);
  });

  it('serves byte ranges, clamping an end past the object', async () => {
    await store.put('range/a', text('0123456789'), 10);
    const read = async (start: number, end: number) => (await readAll(await store.get('range/a', { start, end }))).toString();
    // s3rver answers `bytes=0-0` with the whole object (it reads end 0 as "no end"); real S3 does not.
    if (driver !== 's3') expect(await read(0, 0)).toBe('0');
    expect(await read(0, 1)).toBe('01');
    expect(await read(9, 9)).toBe('9');
    expect(await read(2, 5)).toBe('2345');
    expect(await read(7, 1000)).toBe('789');
    await expect(store.get('range/a', { start: 10, end: 12 })).rejects.toThrow(RangeError);
    await expect(store.get('range/a', { start: 5, end: 4 })).rejects.toThrow(RangeError);
  });

  it('stats present and absent keys', async () => {
    await store.put('stat/a', text('abc'));
    expect(await store.stat('stat/a')).toEqual({ size: 3 });
    expect(await store.stat('stat/missing')).toBeUndefined();
    expect(await store.stat('nowhere/at/all')).toBeUndefined();
  });

  it('rejects get of a missing key with ObjectNotFoundError', async () => {
    const attempt = store.get('missing/a.dcm');
    await expect(attempt).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(attempt).rejects.toMatchObject({ key: 'missing/a.dcm' });
    await expect(store.get('missing/a.dcm', { start: 0, end: 1 })).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it('deletes idempotently', async () => {
    await store.put('del/a', text('abc'));
    await store.delete('del/a');
    expect(await store.stat('del/a')).toBeUndefined();
    await expect(store.get('del/a')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(store.delete('del/a')).resolves.toBeUndefined();
    await expect(store.delete('del/never/existed')).resolves.toBeUndefined();
  });

  it.each([
    ['errors after 1 MB', 1 * MiB, new Error('client went away')],
    ['errors after 17 MiB (S3 multipart under way)', 17 * MiB, new Error('client went away')],
    ['is destroyed without an error after 1 MB', 1 * MiB, undefined],
  ])('rejects a put whose body %s, leaving no object', async (_how, bytes, error) => {
    const key = `fail/${bytes}-${error ? 'error' : 'destroy'}.dcm`;
    const put = store.put(key, generated(BIG, key, { bytes, error }));
    await expect(put).rejects.toThrow(error ? 'client went away' : /premature close/i);
    expect(await store.stat(key)).toBeUndefined();
    await expect(store.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
  });

  it.each([
    ['more', 1000, 999],
    ['fewer', 1000, 1001],
    ['more (multipart)', BIG, 16 * MiB + 1],
    ['fewer (multipart)', BIG, BIG + 1],
  ])('rejects a body with %s bytes than declared, leaving no object', async (what, actual, declared) => {
    const key = `size/${actual}-${declared}.dcm`;
    await expect(store.put(key, generated(actual, key), declared)).rejects.toThrow(`the body has ${what.split(' ')[0]} bytes than the declared ${declared}`);
    expect(await store.stat(key)).toBeUndefined();
  });

  it('rejects a declared size that is not a byte count', async () => {
    await expect(store.put('size/negative', text('x'), -1)).rejects.toThrow(RangeError);
    await expect(store.put('size/fraction', text('x'), 0.5)).rejects.toThrow(RangeError);
  });

  it('keeps the old object when an overwrite fails', async () => {
    await store.put('keep/a', text('old'));
    await expect(store.put('keep/a', generated(2 * MiB, 'x', { bytes: MiB, error: new Error('boom') }))).rejects.toThrow('boom');
    expect((await readAll(await store.get('keep/a'))).toString()).toBe('old');
  });

  it('overwrites a key', async () => {
    await store.put('over/a', text('first version'));
    await store.put('over/a', text('second'));
    expect(await store.stat('over/a')).toEqual({ size: 6 });
    expect((await readAll(await store.get('over/a'))).toString()).toBe('second');
  });

  it('handles concurrent puts to different keys', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `concurrent/${i}/x.dcm`);
    const sizes = keys.map((_, i) => 100_000 + i * 300_001);
    await Promise.all(keys.map((key, i) => store.put(key, generated(sizes[i]!, key), sizes[i])));
    for (const [i, key] of keys.entries()) {
      expect(await sha256(await store.get(key))).toBe(await sha256(generated(sizes[i]!, key)));
    }
  });

  it('writes unsynced objects that sync makes durable, and lists them by prefix', async () => {
    const keys = Array.from({ length: 5 }, (_, i) => `batch/${driver}/${i + 1}.dcm`);
    const sizes = keys.map((_, i) => 1000 + i * 700_001);
    const t0 = Date.now();
    for (const [i, key] of keys.entries()) await expect(store.putUnsynced(key, generated(sizes[i]!, key))).resolves.toEqual({ size: sizes[i] });
    await expect(store.sync(keys)).resolves.toBeUndefined();
    for (const [i, key] of keys.entries()) expect(await sha256(await store.get(key))).toBe(await sha256(generated(sizes[i]!, key)));
    await store.put(`batch/${driver}-other/x.dcm`, text('not listed'));

    const listed = await store.list(`batch/${driver}/`);
    expect(listed.map((o) => o.key).sort()).toEqual([...keys].sort());
    // Stores keep modification times in whole seconds.
    for (const o of listed) expect(o.modifiedAt.getTime()).toBeGreaterThanOrEqual(Math.floor(t0 / 1000) * 1000);
    expect(await store.list('batch/none/')).toEqual([]);
    await expect(store.list('batch')).rejects.toThrow(/must end with/);
  });

  it('leaves no object when an unsynced write fails', async () => {
    const key = `broken-unsynced/${driver}.dcm`;
    await expect(store.putUnsynced(key, generated(2 * MiB, key, { bytes: MiB, error: new Error('client gone') }))).rejects.toThrow('client gone');
    expect(await store.stat(key)).toBeUndefined();
    await expect(store.putUnsynced('../escape', text('x'))).rejects.toThrow(/Unsafe object key/);
  });

  it.each(['../escape', '/abs', 'a/../../b', 'a\\b', 'a\0b', ''])('refuses the unsafe key %j everywhere', async (key) => {
    await expect(store.put(key, text('x'))).rejects.toThrow(/Unsafe object key/);
    await expect(store.get(key)).rejects.toThrow(/Unsafe object key/);
    await expect(store.stat(key)).rejects.toThrow(/Unsafe object key/);
    await expect(store.delete(key)).rejects.toThrow(/Unsafe object key/);
  });
});

describe('fs driver reads', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startFs();
  });
  afterAll(() => h?.stop());

  it('reads into the buffers its reader supplies, whole object and range', async () => {
    const size = 2 * MiB + 12_345;
    await h.store.put('into/a', generated(size, 'into'), size);
    for (const [range, expected] of [
      [undefined, [MiB, MiB, 12_345]],
      [{ start: MiB - 10, end: MiB + 9 }, [20]],
    ] as const) {
      const supplied: Buffer[] = [];
      const source = await h.store.get('into/a', range);
      expect(source).toBeInstanceOf(StoredObjectStream);
      (source as StoredObjectStream).readInto((n) => {
        supplied.push(Buffer.alloc(n));
        return supplied[supplied.length - 1];
      });
      const chunks: Buffer[] = [];
      for await (const chunk of source as AsyncIterable<Buffer>) chunks.push(chunk);
      expect(chunks.map((c) => c.length)).toEqual(expected);
      chunks.forEach((c, i) => expect(c.buffer).toBe(supplied[i].buffer));
      const whole = await slice(generated(size, 'into'), range?.start ?? 0, range?.end ?? size - 1);
      expect(Buffer.concat(chunks).equals(whole)).toBe(true);
    }
  });
});

describe('s3 driver readiness', () => {
  it('ensureBucket creates a missing bucket, idempotently', async () => {
    const server = await startS3rver();
    try {
      const store = s3Store(server.port, bucketName());
      await expect(store.ping()).rejects.toThrow(/does not exist/);
      await store.ensureBucket();
      await store.ensureBucket();
      await expect(store.ping()).resolves.toBeUndefined();
    } finally {
      await server.stop();
    }
  });

  it('ping fails once the server is stopped', async () => {
    const bucket = bucketName();
    const server = await startS3rver([bucket]);
    const store = s3Store(server.port, bucket);
    try {
      await expect(store.ping()).resolves.toBeUndefined();
    } finally {
      await server.stop();
    }
    await expect(store.ping()).rejects.toThrow();
  });
});
