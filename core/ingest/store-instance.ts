import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Db } from '../db';
import { DicomInvalidError } from '../dicom/errors';
import { FailureReason } from '../dicom/failure-reasons';
import { readPart10Header } from '../dicom/part10-header';
import type { ObjectStore } from '../storage/object-store';
import { abandonUpload, beginUpload, recordInstance, UploadExpiredError, type ConflictPolicy, type InstanceIdentity } from './record';

export interface StoreInstanceDeps {
  db: Db;
  store: ObjectStore;
  conflictPolicy: ConflictPolicy;
  maxInstanceBytes: number;
  /** The institution of the sending credential, recorded on the instance (docs/security.md). */
  receivedFrom?: string | null;
  /** The access policy: may this instance be stored by this sender? (false → Refused: Not Authorized) */
  admit?(identity: InstanceIdentity): Promise<boolean>;
  /** Called once the instance is durable; a failure here does not undo the store. */
  onReceived(sopInstanceUid: string, version: number): Promise<void>;
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
    };

/** Header bytes are examined from 16 KiB on, doubling, so a big header is not re-parsed per chunk. */
const FIRST_HEADER_ATTEMPT = 16 * 1024;

export class PartTooLargeError extends Error {}

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

/**
 * Makes one Part 10 instance durable: validates its header from the first bytes, notes the
 * upload, streams the bytes to storage (hashing on the way), and records the instance as
 * received. Nothing is reported stored before the object and its row are both committed;
 * on any failure the partial object is removed.
 */
export async function storeInstance(deps: StoreInstanceDeps, body: Readable, expectedStudyUid?: string): Promise<StoreOutcome> {
  const chunks = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let header;
  const head: Buffer[] = [];
  let headBytes = 0;
  let nextAttempt = FIRST_HEADER_ATTEMPT;
  try {
    for (;;) {
      const { value, done } = await chunks.next();
      if (!done) {
        head.push(value);
        headBytes += value.length;
        if (headBytes < nextAttempt) continue;
        nextAttempt = headBytes * 2;
      }
      const parsed = readPart10Header(Buffer.concat(head));
      if (parsed !== 'incomplete') {
        header = parsed;
        break;
      }
      if (done) throw new DicomInvalidError(FailureReason.cannotUnderstand, 'Truncated DICOM file: the header ends before the data set');
    }
  } catch (err) {
    await drain(chunks);
    if (err instanceof DicomInvalidError) return { stored: false, failureReason: err.failureReason, message: err.message };
    throw err;
  }

  const identity: InstanceIdentity = header;
  const failed = (failureReason: number, message: string, unavailable = false): StoreOutcome => ({
    stored: false,
    failureReason,
    message,
    sopClassUid: identity.sopClassUid,
    sopInstanceUid: identity.sopInstanceUid,
    unavailable,
  });
  if (expectedStudyUid && identity.studyInstanceUid !== expectedStudyUid) {
    await drain(chunks);
    return failed(FailureReason.dataSetDoesNotMatchSopClass, `StudyInstanceUID ${identity.studyInstanceUid} differs from the request's ${expectedStudyUid}`);
  }

  if (deps.admit) {
    let admitted;
    try {
      admitted = await deps.admit(identity);
    } catch {
      await drain(chunks);
      return failed(FailureReason.outOfResources, 'The database cannot check the instance now', true);
    }
    if (!admitted) {
      await drain(chunks);
      return failed(FailureReason.notAuthorized, `Study ${identity.studyInstanceUid} or instance ${identity.sopInstanceUid} belongs to another sender`);
    }
  }

  let upload;
  try {
    upload = await beginUpload(deps.db, identity);
  } catch {
    await drain(chunks);
    return failed(FailureReason.outOfResources, 'The database cannot record the instance now', true);
  }

  const hash = createHash('sha256');
  let size = 0;
  const account = (chunk: Buffer) => {
    size += chunk.length;
    if (size > deps.maxInstanceBytes) throw new PartTooLargeError(`Instance exceeds ${deps.maxInstanceBytes} bytes`);
    hash.update(chunk);
    return chunk;
  };
  // One generator from the first bytes to the last: an error of the request stream (client
  // gone, broken framing) or the size limit surfaces in the store's read and fails the put.
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
    await deps.store.put(upload.objectKey, bytes);
  } catch (err) {
    await drain(chunks);
    await discard(deps, upload);
    if (err instanceof PartTooLargeError) return failed(FailureReason.outOfResources, err.message);
    // The request broke off: the whole request fails (readMultipart reports why).
    if (sourceError) throw sourceError;
    return failed(FailureReason.outOfResources, 'Storage cannot make the instance durable now', true);
  }

  let outcome;
  try {
    outcome = await recordInstance(
      deps.db,
      upload.uploadId,
      identity,
      { objectKey: upload.objectKey, sizeBytes: size, sha256: hash.digest('hex') },
      deps.conflictPolicy,
      deps.receivedFrom ?? null,
    );
  } catch (err) {
    if (err instanceof UploadExpiredError) return failed(FailureReason.outOfResources, 'The upload took longer than the reconciliation grace period', true);
    // The object stays: when the connection broke during COMMIT, the instance may be recorded
    // after all, and deleting the object would lose it (found reviewing the chaos scenarios).
    // The upload row decides: gone, the commit happened and the row references the object;
    // still there, the reconciliation sweep removes the object after its grace period.
    return failed(FailureReason.outOfResources, 'The database cannot record the instance now', true);
  }
  if (outcome.kind === 'duplicate' || outcome.kind === 'conflict') await discard(deps, upload);
  if (outcome.kind === 'conflict') {
    return failed(
      FailureReason.dataSetDoesNotMatchSopClass,
      `A different instance with SOPInstanceUID ${identity.sopInstanceUid} is already stored (conflict policy: reject)`,
    );
  }
  if (outcome.kind !== 'duplicate') await deps.onReceived(identity.sopInstanceUid, outcome.version).catch(() => undefined);
  return { stored: true, identity, duplicate: outcome.kind === 'duplicate', replaced: outcome.kind === 'replaced' };
}

/**
 * Deletes an object no instance references, then forgets its upload. When storage refuses the
 * delete (it went away meanwhile, and a put that "failed" may have completed there after all),
 * the upload row stays, so the reconciliation sweep removes the object once storage is back
 * rather than leaving an orphan nobody knows of (found reviewing the storage-down chaos scenario).
 */
async function discard(deps: StoreInstanceDeps, upload: { uploadId: string; objectKey: string }): Promise<void> {
  try {
    await deps.store.delete(upload.objectKey);
  } catch {
    return;
  }
  await abandonUpload(deps.db, upload.uploadId).catch(() => undefined);
}
