import { randomUUID } from 'node:crypto';
import type { Db } from '../db';
import { instanceObjectKey } from '../storage/keys';

export interface InstanceIdentity {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
}

export interface WrittenObject {
  objectKey: string;
  sizeBytes: number;
  sha256: string;
}

/** What happened to an instance whose object reached storage. */
export type RecordOutcome =
  | { kind: 'created'; version: number }
  | { kind: 'duplicate'; version: number } // identical bytes already stored: nothing changes
  | { kind: 'replaced'; version: number; previousKey: string }
  | { kind: 'conflict' }; // different bytes, policy 'reject'

export type ConflictPolicy = 'replace' | 'reject';

/**
 * Step 1 of making an instance durable: note the object key before any byte is written,
 * so a crash mid-write leaves a trace the reconciliation sweep can clean up.
 */
export async function beginUpload(db: Db, id: InstanceIdentity): Promise<{ uploadId: string; objectKey: string }> {
  const uploadId = randomUUID();
  const objectKey = instanceObjectKey(id.studyInstanceUid, id.seriesInstanceUid, id.sopInstanceUid, uploadId);
  await db('upload').insert({ id: uploadId, sop_instance_uid: id.sopInstanceUid, object_key: objectKey });
  return { uploadId, objectKey };
}

/**
 * The reconciliation sweep took the upload (the write outlived its grace period) and may have
 * deleted the object: the instance must not be recorded, nor acknowledged.
 */
export class UploadExpiredError extends Error {}

/** A write that failed: its (partial) object has been deleted, forget the upload. */
export async function abandonUpload(db: Db, uploadId: string): Promise<void> {
  await db('upload').where({ id: uploadId }).delete();
}

/**
 * Step 2: the object is durable; record the instance as `received` in one transaction.
 * The row lock on an existing instance serialises concurrent uploads of the same SOP
 * Instance UID, so exactly one of several identical uploads creates the row.
 */
export async function recordInstance(
  db: Db,
  uploadId: string,
  id: InstanceIdentity,
  written: WrittenObject,
  policy: ConflictPolicy,
  /** The institution of the credential that sent it (attribution prefers it); null for platform credentials. */
  receivedFrom: string | null = null,
): Promise<RecordOutcome> {
  return db.transaction(async (trx) => {
    // The upload row is the write's claim on its object, and the sweep (core/jobs/reconcile.ts)
    // takes it under a row lock: whoever deletes it owns the object. Gone already means the
    // sweep removed the object (found reviewing the chaos scenarios): recording the instance
    // would acknowledge bytes that no longer exist.
    const claimed = await trx('upload').where({ id: uploadId }).delete();
    if (claimed !== 1) throw new UploadExpiredError(`Upload ${uploadId} was swept before it was recorded`);
    // A redundant object (duplicate, or refused conflict) is the caller's to delete; until it
    // has, the upload row stays so the sweep removes the object if that delete fails.
    const redundant = <T extends RecordOutcome>(outcome: T) =>
      trx('upload')
        .insert({ id: uploadId, sop_instance_uid: id.sopInstanceUid, object_key: written.objectKey })
        .then(() => outcome);
    const inserted = await trx('instance')
      .insert({
        sop_instance_uid: id.sopInstanceUid,
        study_instance_uid: id.studyInstanceUid,
        series_instance_uid: id.seriesInstanceUid,
        sop_class_uid: id.sopClassUid,
        transfer_syntax_uid: id.transferSyntaxUid,
        status: 'received',
        object_key: written.objectKey,
        size_bytes: written.sizeBytes,
        sha256: written.sha256,
        received_from_institution: receivedFrom,
      })
      .onConflict('sop_instance_uid')
      .ignore()
      .returning('version');
    if (inserted.length === 1) return { kind: 'created', version: inserted[0].version };

    const existing = await trx('instance').where({ sop_instance_uid: id.sopInstanceUid }).forUpdate().first();
    if (existing.sha256 === written.sha256) return redundant({ kind: 'duplicate', version: existing.version });
    if (policy === 'reject') return redundant({ kind: 'conflict' });

    await trx('instance_version').insert({
      sop_instance_uid: id.sopInstanceUid,
      version: existing.version,
      object_key: existing.object_key,
      sha256: existing.sha256,
      size_bytes: existing.size_bytes,
      received_at: existing.received_at,
    });
    const version = existing.version + 1;
    await trx('instance').where({ sop_instance_uid: id.sopInstanceUid }).update({
      study_instance_uid: id.studyInstanceUid,
      series_instance_uid: id.seriesInstanceUid,
      sop_class_uid: id.sopClassUid,
      transfer_syntax_uid: id.transferSyntaxUid,
      status: 'received',
      version,
      object_key: written.objectKey,
      size_bytes: written.sizeBytes,
      sha256: written.sha256,
      received_from_institution: receivedFrom,
      received_at: trx.fn.now(),
      indexed_at: null,
      index_error: null,
    });
    return { kind: 'replaced', version, previousKey: existing.object_key };
  });
}
