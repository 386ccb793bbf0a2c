import path from 'node:path';
import type { Config } from '../config';
import { FsObjectStore } from './fs-store';
import type { ByteRange, ObjectStore } from './object-store';
import { S3ObjectStore } from './s3-store';

export type { ByteRange, ObjectInfo, ObjectStore } from './object-store';
export { assertSafeKey, uploadObjectKey, uploadPrefix } from './keys';
export { FsObjectStore } from './fs-store';
export { S3ObjectStore } from './s3-store';

/**
 * `get` of a key that holds no object, whichever driver. The drivers import this class
 * from here (a harmless import cycle: they only use it when a call fails, never while
 * modules load). Not an HTTP error on purpose: a missing object behind an indexed
 * instance is a server-side inconsistency, and the caller decides what to answer.
 */
export class ObjectNotFoundError extends Error {
  readonly code = 'object-not-found';
  constructor(
    readonly key: string,
    options?: ErrorOptions,
  ) {
    super(`No object is stored under key ${JSON.stringify(key)}`, options);
    this.name = 'ObjectNotFoundError';
  }
}

/**
 * A write refused for want of space (the fs driver's ENOSPC or EDQUOT, an S3 store's HTTP 507
 * XMinioStorageFull or InsufficientStorage): nothing is stored
 * under the key, and the same write succeeds once space is freed. Not an outage of the store:
 * STOW-RS says "storage full" so that whoever reads the PACS's log knows what to do.
 */
export class StorageFullError extends Error {
  readonly code = 'storage-full';
  constructor(options?: ErrorOptions) {
    super('The object store has no space left', options);
    this.name = 'StorageFullError';
  }
}

/**
 * Both drivers accept the same ranges: whole non-negative offsets with start <= end. An end
 * past the object is clamped (as in HTTP); a start past it rejects with a RangeError.
 */
export function assertValidRange(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`Invalid byte range ${start}-${end}`);
  }
}

/** A declared object size must be a whole number of bytes. */
export function assertValidSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`Invalid object size ${size}`);
}

/** A body that does not match its declared size: the put rejects and stores nothing. */
export function sizeMismatch(key: string, declared: number, what: 'more' | 'fewer'): Error {
  return new Error(`Object ${JSON.stringify(key)}: the body has ${what} bytes than the declared ${declared}`);
}

/** The store chosen by HUREN_STORAGE. For s3, call `ensureBucket()` once at start. */
export function createObjectStore(config: Config): ObjectStore {
  if (config.HUREN_STORAGE === 'fs') {
    // Resolved now so a later chdir cannot move the store.
    return new FsObjectStore(path.resolve(config.HUREN_DATA_DIR, 'objects'));
  }
  const { S3_ENDPOINT: endPoint, S3_ACCESS_KEY: accessKey, S3_SECRET_KEY: secretKey } = config;
  if (!endPoint || !accessKey || !secretKey) {
    throw new Error('HUREN_STORAGE=s3 needs S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY');
  }
  return new S3ObjectStore({
    endPoint,
    port: config.S3_PORT,
    useSSL: config.S3_USE_SSL,
    accessKey,
    secretKey,
    bucket: config.S3_BUCKET,
    region: config.S3_REGION,
  });
}
