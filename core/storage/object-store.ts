import type { Readable } from 'node:stream';

export interface ObjectInfo {
  size: number;
}

/** An object found by `list`. */
export interface ListedObject {
  key: string;
  /** When its bytes were last written: a recent one may belong to a write still in progress. */
  modifiedAt: Date;
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
  /**
   * Writes a new object (never an existing key) whose durability is deferred: it survives a
   * crash only once `sync` has covered its key. STOW-RS writes the instances of a request this
   * way and makes them durable together, so a batch pays for the flushes once. A rejected call
   * leaves no object under the key.
   */
  putUnsynced(key: string, body: Readable): Promise<ObjectInfo>;
  /** Makes objects written by `putUnsynced` durable; resolves once all of them are. */
  sync(keys: string[]): Promise<void>;
  /** Every object whose key starts with `prefix` (which ends with '/'), for the reconciliation sweep. */
  list(prefix: string): Promise<ListedObject[]>;
  get(key: string, range?: ByteRange): Promise<Readable>;
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Removing an absent key is not an error. */
  delete(key: string): Promise<void>;
  /** Throws when the store cannot be reached (readiness probe). */
  ping(): Promise<void>;
}
