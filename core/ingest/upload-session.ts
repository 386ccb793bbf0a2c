import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Db } from '../db';
import { DicomInvalidError } from '../dicom/errors';
import { FailureReason } from '../dicom/failure-reasons';
import { readPart10Header } from '../dicom/part10-header';
import type { GroupCommit } from '../group-commit';
import { StorageFullError } from '../storage';
import { uploadObjectKey } from '../storage/keys';
import type { ObjectStore } from '../storage/object-store';
import { beginUpload, endUpload, type InstanceIdentity, type InstanceToRecord, type RecordOutcome, type Upload } from './record';

export interface UploadSessionDeps {
  db: Db;
  store: ObjectStore;
  /** The process's group commit of instance rows (core/ingest/recorder.ts). */
  recorder: GroupCommit<InstanceToRecord, RecordOutcome>;
  maxInstanceBytes: number;
  /** The institution of the sending credential, recorded on the instance (docs/security.md). */
  receivedFrom?: string | null;
  /** The access policy: may this instance be stored by this sender? (false → Refused: Not Authorized) */
  admit?(identity: InstanceIdentity): Promise<boolean>;
  /** Called with the instances (new or replaced versions) once they are recorded; a failure does not undo them. */
  onReceived(instances: Array<{ sopInstanceUid: string; version: number }>): Promise<void>;
}

export type StoreOutcome =
  | { stored: true; identity: InstanceIdentity; duplicate: boolean; replaced: boolean }
  | {
      stored: false;
      failureReason: number;
      message: string;
      sopClassUid?: string;
      sopInstanceUid?: string;
      /** Storage or database unavailable: the whole request may be answered 503. */
      unavailable?: boolean;
      /** Unavailable because the store has no space left (StorageFullError). */
      storageFull?: boolean;
    };

/** Header bytes are examined from 16 KiB on, doubling, so a big header is not re-parsed per chunk. */
const FIRST_HEADER_ATTEMPT = 16 * 1024;

export class PartTooLargeError extends Error {}

/** An instance whose bytes are written, waiting to be made durable and recorded. */
interface Written {
  item: InstanceToRecord;
  settle(outcome: StoreOutcome): void;
}

/**
 * The instances of one STOW-RS request. Each part is checked from its first bytes and written
 * under the request's upload prefix without waiting for durability; written parts are then
 * made durable and recorded in batches (whatever arrived while the previous batch was being
 * flushed), so a request of many instances pays for fsyncs, WAL flushes and Redis round trips
 * per batch rather than per instance. A part's outcome settles only once its object and row
 * are both durable: nothing is reported stored before that. `finish` removes what no instance
 * references and releases the upload claim.
 */
export class UploadSession {
  private upload?: Promise<Upload>;
  private position = 0;
  private readonly writtenQueue: Written[] = [];
  private flushing?: Promise<void>;
  /** Objects no instance references (duplicates, refused conflicts, expired claims, failed syncs): deleted by `finish`. */
  private readonly redundant: string[] = [];
  /** Set when a commit's outcome is unknown: the claim must stay so the sweep settles its objects. */
  private keepClaim = false;

  constructor(private readonly deps: UploadSessionDeps) {}

  /**
   * Reads one part to its end (so the multipart parser moves on) and resolves with its outcome
   * once that is final. Throws only when the request itself broke off.
   */
  async receive(body: Readable, expectedStudyUid?: string): Promise<StoreOutcome> {
    const position = ++this.position;
    const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    let identity: InstanceIdentity;
    const head: Buffer[] = [];
    try {
      identity = await readHeader(chunks, head);
    } catch (err) {
      await drain(chunks);
      if (err instanceof DicomInvalidError) return { stored: false, failureReason: err.failureReason, message: err.message };
      throw err;
    }
    const failed = (failureReason: number, message: string, unavailable = false) => failedOutcome(identity, failureReason, message, unavailable);
    const refusal = await this.refusal(identity, expectedStudyUid);
    if (refusal) {
      await drain(chunks);
      return refusal;
    }

    let upload;
    try {
      upload = await (this.upload ??= beginUpload(this.deps.db));
    } catch {
      await drain(chunks);
      return failed(FailureReason.outOfResources, 'The database cannot record the instance now', true);
    }

    const objectKey = uploadObjectKey(upload.prefix, position, identity.sopInstanceUid);
    const hash = createHash('sha256');
    let size = 0;
    const account = (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.deps.maxInstanceBytes) throw new PartTooLargeError(`Instance exceeds ${this.deps.maxInstanceBytes} bytes`);
      hash.update(chunk);
      return chunk;
    };
    // One generator from the first bytes to the last: an error of the request stream (client
    // gone, broken framing) or the size limit surfaces in the store's read and fails the write.
    let sourceError: unknown;
    const next = () =>
      chunks.next().catch((err: unknown) => {
        sourceError = err;
        throw err;
      });
    const bytes = Readable.from(
      (async function* () {
        for (const chunk of head) yield account(chunk);
        for (let r = await next(); !r.done; r = await next()) yield account(r.value);
      })(),
    );
    try {
      await this.deps.store.putUnsynced(objectKey, bytes);
    } catch (err) {
      // A write that failed may still have left an object (a lost S3 answer): `finish` deletes
      // the key, and the claim stays for the sweep while storage refuses.
      this.redundant.push(objectKey);
      await drain(chunks);
      if (err instanceof PartTooLargeError) return failed(FailureReason.outOfResources, err.message);
      // The request broke off: the whole request fails (readMultipart reports why).
      if (sourceError) throw sourceError;
      return storageFailure(identity, err);
    }

    const item: InstanceToRecord = {
      uploadId: upload.uploadId,
      identity,
      written: { objectKey, sizeBytes: size, sha256: hash.digest('hex') },
      receivedFrom: this.deps.receivedFrom ?? null,
    };
    return new Promise<StoreOutcome>((settle) => {
      this.writtenQueue.push({ item, settle });
      this.flushing ??= this.flushAll();
    });
  }

  /** Waits for every part's outcome, deletes unreferenced objects, and releases the claim. */
  async finish(): Promise<void> {
    await this.flushing;
    if (!this.upload) return;
    const upload = await this.upload.catch(() => undefined);
    if (!upload) return;
    const deleted = await Promise.allSettled(this.redundant.map((key) => this.deps.store.delete(key)));
    // A failed delete (storage went away) leaves the claim, so the sweep removes the object later.
    if (this.keepClaim || deleted.some((d) => d.status === 'rejected')) return;
    await endUpload(this.deps.db, upload.uploadId).catch(() => undefined);
  }

  private async refusal(identity: InstanceIdentity, expectedStudyUid: string | undefined): Promise<StoreOutcome | undefined> {
    const failed = (failureReason: number, message: string, unavailable = false) => failedOutcome(identity, failureReason, message, unavailable);
    if (expectedStudyUid && identity.studyInstanceUid !== expectedStudyUid) {
      return failed(FailureReason.dataSetDoesNotMatchSopClass, `StudyInstanceUID ${identity.studyInstanceUid} differs from the request's ${expectedStudyUid}`);
    }
    if (!this.deps.admit) return undefined;
    try {
      if (await this.deps.admit(identity)) return undefined;
    } catch {
      return failed(FailureReason.outOfResources, 'The database cannot check the instance now', true);
    }
    return failed(FailureReason.notAuthorized, `Study ${identity.studyInstanceUid} or instance ${identity.sopInstanceUid} belongs to another sender`);
  }

  private async flushAll(): Promise<void> {
    while (this.writtenQueue.length > 0) await this.flush(this.writtenQueue.splice(0));
    this.flushing = undefined;
  }

  private async flush(batch: Written[]): Promise<void> {
    const keys = batch.map((w) => w.item.written.objectKey);
    const fail = (w: Written, message: string) => w.settle(failedOutcome(w.item.identity, FailureReason.outOfResources, message, true));
    try {
      await this.deps.store.sync(keys);
    } catch (err) {
      this.redundant.push(...keys);
      for (const w of batch) w.settle(storageFailure(w.item.identity, err));
      return;
    }
    let outcomes: RecordOutcome[];
    try {
      outcomes = await this.deps.recorder.submit(batch.map((w) => w.item));
    } catch {
      // When the connection broke during COMMIT the instances may be recorded after all, and
      // deleting their objects would lose them (found reviewing the chaos scenarios): the claim
      // stays, and the sweep removes only the objects no instance references.
      this.keepClaim = true;
      for (const w of batch) fail(w, 'The database cannot record the instance now');
      return;
    }
    const received: Array<{ sopInstanceUid: string; version: number }> = [];
    batch.forEach((w, i) => {
      const outcome = outcomes[i];
      const { identity, written } = w.item;
      if (outcome.kind === 'created' || outcome.kind === 'replaced') received.push({ sopInstanceUid: identity.sopInstanceUid, version: outcome.version });
      else this.redundant.push(written.objectKey);
    });
    await this.deps.onReceived(received).catch(() => undefined);
    batch.forEach((w, i) => w.settle(storeOutcome(w.item.identity, outcomes[i])));
  }
}

function storeOutcome(identity: InstanceIdentity, outcome: RecordOutcome): StoreOutcome {
  switch (outcome.kind) {
    case 'created':
    case 'replaced':
    case 'duplicate':
      return { stored: true, identity, duplicate: outcome.kind === 'duplicate', replaced: outcome.kind === 'replaced' };
    case 'conflict':
      return failedOutcome(
        identity,
        FailureReason.dataSetDoesNotMatchSopClass,
        `A different instance with SOPInstanceUID ${identity.sopInstanceUid} is already stored (conflict policy: reject)`,
      );
    case 'expired':
      return failedOutcome(identity, FailureReason.outOfResources, 'The upload took longer than the reconciliation grace period', true);
  }
}

/** A write or sync storage refused: Out of Resources, retryable; saying so when the disk is full. */
function storageFailure(identity: InstanceIdentity, err: unknown): StoreOutcome {
  const storageFull = err instanceof StorageFullError;
  return {
    stored: false,
    failureReason: FailureReason.outOfResources,
    message: storageFull ? 'Storage is full' : 'Storage cannot make the instance durable now',
    sopClassUid: identity.sopClassUid,
    sopInstanceUid: identity.sopInstanceUid,
    unavailable: true,
    storageFull,
  };
}

function failedOutcome(identity: InstanceIdentity, failureReason: number, message: string, unavailable = false): StoreOutcome {
  return { stored: false, failureReason, message, sopClassUid: identity.sopClassUid, sopInstanceUid: identity.sopInstanceUid, unavailable };
}

/** Reads chunks into `head` until the Part 10 header (meta and the identifying attributes) is complete. */
async function readHeader(chunks: AsyncIterator<Buffer>, head: Buffer[]): Promise<InstanceIdentity> {
  let headBytes = 0;
  let nextAttempt = FIRST_HEADER_ATTEMPT;
  for (;;) {
    const { value, done } = await chunks.next();
    if (!done) {
      head.push(value);
      headBytes += value.length;
      if (headBytes < nextAttempt) continue;
      nextAttempt = headBytes * 2;
    }
    const parsed = readPart10Header(Buffer.concat(head));
    if (parsed !== 'incomplete') return parsed;
    if (done) throw new DicomInvalidError(FailureReason.cannotUnderstand, 'Truncated DICOM file: the header ends before the data set');
  }
}

/**
 * Reads and drops the rest of a part we will not store, so the multipart parser moves on to
 * the next part. (The part is already consumed through its async iterator, where `resume()`
 * has no effect.) A body that errors (client gone) is as good as drained.
 */
async function drain(chunks: AsyncIterator<Buffer>): Promise<void> {
  try {
    while (!(await chunks.next()).done);
  } catch {
    // nothing left to read
  }
}
