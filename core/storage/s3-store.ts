import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Client } from 'minio';
import { assertValidRange, assertValidSize, ObjectNotFoundError, sizeMismatch, StorageFullError } from './index';
import { assertSafeKey } from './keys';
import type { ByteRange, ListedObject, ObjectInfo, ObjectStore } from './object-store';

export interface S3StoreOptions {
  endPoint: string;
  port?: number;
  useSSL: boolean;
  accessKey: string;
  secretKey: string;
  bucket: string;
  region: string;
  /** Bytes held in memory per upload part; S3 needs at least 5 MiB. Default 16 MiB. */
  partSize?: number;
  /** How long `ping` waits for the server. Default 5 s. */
  pingTimeoutMs?: number;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_PART_SIZE = 16 * 1024 * 1024;
const MAX_PARTS = 10_000;

const errorCode = (err: unknown) => (err as { code?: unknown } | undefined)?.code;

/**
 * Error codes of a store that refuses a write for want of space, both with HTTP 507 Insufficient
 * Storage: MinIO's `XMinioStorageFull` ("Storage backend has reached its minimum free drive
 * threshold"), and `InsufficientStorage` of other S3-compatible stores. The minio client keeps the
 * code of the XML error body, not the HTTP status, so the code decides.
 */
const FULL_CODES = new Set(['XMinioStorageFull', 'InsufficientStorage']);

/** A full store as StorageFullError (as the fs driver's ENOSPC), so STOW-RS can say so; any other error as it is. */
function whenFull(err: unknown): unknown {
  const code = errorCode(err);
  return typeof code === 'string' && FULL_CODES.has(code) ? new StorageFullError({ cause: err }) : err;
}

/**
 * Objects in one S3 bucket (MinIO, AWS S3, Ceph RGW), through the `minio` client.
 *
 * `put` does its own part-by-part upload instead of `client.putObject(stream)`, which in
 * minio 8 ignores the declared size, buffers up to 64 MiB (528 MiB parts when the size
 * is unknown), needs ListMultipartUploads to "resume" uploads, and never settles (nor
 * aborts the upload) when the source stream errors mid-way. Here at most one part is in
 * memory, and the object appears only when its single PUT or CompleteMultipartUpload
 * succeeds, both atomic in S3.
 */
export class S3ObjectStore implements ObjectStore {
  readonly bucket: string;
  private readonly region: string;
  private readonly client: Client;
  private readonly partSize: number;
  private readonly pingTimeoutMs: number;

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.region = options.region;
    this.partSize = Math.max(options.partSize ?? DEFAULT_PART_SIZE, MIN_PART_SIZE);
    this.pingTimeoutMs = options.pingTimeoutMs ?? 5000;
    this.client = new Client({
      endPoint: options.endPoint,
      port: options.port,
      useSSL: options.useSSL,
      accessKey: options.accessKey,
      secretKey: options.secretKey,
      // Known region: spares a GetBucketLocation round trip before the first request.
      region: options.region,
    });
  }

  /** Creates the bucket if it is missing; called once at start. */
  async ensureBucket(): Promise<void> {
    if (await this.client.bucketExists(this.bucket)) return;
    try {
      await this.client.makeBucket(this.bucket, this.region);
    } catch (err) {
      // Another instance starting at the same moment may have created it first.
      if (!(await this.client.bucketExists(this.bucket))) throw err;
    }
  }

  async put(key: string, body: Readable, size?: number): Promise<ObjectInfo> {
    let uploadId: string | undefined;
    try {
      assertSafeKey(key);
      if (size !== undefined) assertValidSize(size);
      // A big declared size gets bigger parts, so S3's 10,000-part limit is never hit.
      const partSize = Math.max(this.partSize, Math.ceil((size ?? 0) / MAX_PARTS));
      const parts: Array<{ part: number; etag: string }> = [];
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      let total = 0;

      const uploadPending = async () => {
        if (parts.length === MAX_PARTS) throw new Error(`Object ${JSON.stringify(key)} exceeds ${MAX_PARTS} parts of ${partSize} bytes`);
        uploadId ??= await this.client.initiateNewMultipartUpload(this.bucket, key, {});
        const payload = Buffer.concat(pending, pendingBytes);
        pending = [];
        pendingBytes = 0;
        const part = parts.length + 1;
        // Content-MD5 lets the server reject a corrupted part even over https (unsigned payload).
        const headers = { 'Content-MD5': createHash('md5').update(payload).digest('base64') };
        const { etag } = await this.client.uploadPart({ bucketName: this.bucket, objectName: key, uploadID: uploadId, partNumber: part, headers }, payload);
        parts.push({ part, etag });
      };

      // Iterating pulls the body only as fast as parts are uploaded, and rethrows its errors
      // (a premature close included).
      for await (const chunk of body as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (size !== undefined && total > size) throw sizeMismatch(key, size, 'more');
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= partSize) await uploadPending();
      }
      if (size !== undefined && total !== size) throw sizeMismatch(key, size, 'fewer');
      if (uploadId === undefined) {
        await this.client.putObject(this.bucket, key, Buffer.concat(pending, pendingBytes), pendingBytes);
      } else {
        if (pendingBytes > 0) await uploadPending();
        await this.client.completeMultipartUpload(this.bucket, key, uploadId, parts);
      }
      return { size: total };
    } catch (err) {
      // The put owns the body: even an early failure must not leave the source paused.
      body.destroy();
      // Best effort: parts of an unfinished upload are never an object, only stored bytes;
      // a bucket lifecycle rule (AbortIncompleteMultipartUpload) reaps any left behind.
      if (uploadId !== undefined) await this.client.abortMultipartUpload(this.bucket, key, uploadId).catch(() => undefined);
      // Whichever request the store refused for want of space (PUT, initiate, part, complete).
      throw whenFull(err);
    }
  }

  /** A PUT is durable once S3 acknowledges it: there is nothing to defer (a full store: StorageFullError, as `put`). */
  putUnsynced(key: string, body: Readable): Promise<ObjectInfo> {
    return this.put(key, body);
  }

  async sync(keys: string[]): Promise<void> {
    for (const key of keys) assertSafeKey(key);
  }

  async list(prefix: string): Promise<ListedObject[]> {
    if (!prefix.endsWith('/')) throw new Error(`List prefix ${JSON.stringify(prefix)} must end with "/"`);
    assertSafeKey(prefix.slice(0, -1));
    const listed: ListedObject[] = [];
    for await (const item of this.client.listObjectsV2(this.bucket, prefix, true) as AsyncIterable<{ name?: string; lastModified?: Date }>) {
      if (item.name) listed.push({ key: item.name, modifiedAt: item.lastModified ?? new Date(0) });
    }
    return listed;
  }

  async get(key: string, range?: ByteRange): Promise<Readable> {
    assertSafeKey(key);
    if (range) assertValidRange(range);
    try {
      return range
        ? await this.client.getPartialObject(this.bucket, key, range.start, range.end - range.start + 1)
        : await this.client.getObject(this.bucket, key);
    } catch (err) {
      const code = errorCode(err);
      if (code === 'NoSuchKey' || code === 'NotFound') throw new ObjectNotFoundError(key, { cause: err });
      if (code === 'InvalidRange' && range) throw new RangeError(`Range starts at ${range.start}, past the end of the object`, { cause: err });
      throw err;
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    assertSafeKey(key);
    try {
      const info = await this.client.statObject(this.bucket, key);
      return { size: info.size };
    } catch (err) {
      // A HEAD response has no body, so a missing bucket also reads as NotFound here.
      const code = errorCode(err);
      if (code === 'NotFound' || code === 'NoSuchKey') return undefined;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    try {
      await this.client.removeObject(this.bucket, key);
    } catch (err) {
      // S3 answers 204 for absent keys; some compatible servers say NoSuchKey instead.
      if (errorCode(err) !== 'NoSuchKey') throw err;
    }
  }

  async ping(): Promise<void> {
    // minio sets no request timeout; an unreachable host would hold the probe for minutes.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`S3 did not answer within ${this.pingTimeoutMs} ms`)), this.pingTimeoutMs);
    });
    try {
      const exists = await Promise.race([this.client.bucketExists(this.bucket), timeout]);
      if (!exists) throw new Error(`S3 bucket ${JSON.stringify(this.bucket)} does not exist`);
    } finally {
      clearTimeout(timer);
    }
  }
}
