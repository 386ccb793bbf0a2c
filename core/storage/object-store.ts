import type { Readable } from 'node:stream';

export interface ObjectInfo {
  size: number;
}

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

/**
 * Where DICOM Part 10 objects live. A `put` resolves only once the bytes are durable
 * (fsync'd file renamed into place, or an S3 PUT acknowledged); a rejected `put`
 * leaves no object under the key.
 */
export interface ObjectStore {
  put(key: string, body: Readable, size?: number): Promise<ObjectInfo>;
  get(key: string, range?: ByteRange): Promise<Readable>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Removing an absent key is not an error. */
  delete(key: string): Promise<void>;
  /** Throws when the store cannot be reached (readiness probe). */
  ping(): Promise<void>;
  /**
   * For the reconciliation sweep, drivers whose interrupted puts leave bytes outside `key`
   * (fs: the temp file of a process killed mid-write): removes them once nothing has been
   * written for `idleMs`; resolves true while a put of `key` is still being written.
   */
  removeAbandonedPut?(key: string, idleMs: number): Promise<boolean>;
}
