import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import type { Db } from '../db';
import { uploadPrefix } from '../storage/keys';

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

/** One durable object to record as an instance. */
export interface InstanceToRecord {
  uploadId: string;
  identity: InstanceIdentity;
  written: WrittenObject;
  /** The institution of the credential that sent it (attribution prefers it); null for platform credentials. */
  receivedFrom: string | null;
}

/** What happened to an instance whose object reached storage. */
export type RecordOutcome =
  | { kind: 'created'; version: number }
  | { kind: 'duplicate'; version: number } // identical bytes already stored: nothing changes
  | { kind: 'replaced'; version: number; previousKey: string }
  | { kind: 'conflict' } // different bytes, policy 'reject'
  // The reconciliation sweep took the upload (it outlived the grace period) and may have
  // deleted its objects: the instance must not be recorded, nor acknowledged.
  | { kind: 'expired' };

export type ConflictPolicy = 'replace' | 'reject';

export interface Upload {
  uploadId: string;
  /** Every object of the upload is written under this key prefix. */
  prefix: string;
}

/**
 * Step 1 of a STOW-RS request: claim a key prefix before any byte is written, so objects a
 * crash or a failure leaves there are found and removed by the reconciliation sweep
 * (core/jobs/reconcile.ts). One claim covers the whole request.
 */
export async function beginUpload(db: Db, at = new Date()): Promise<Upload> {
  const uploadId = randomUUID();
  const prefix = uploadPrefix(uploadId, at);
  await db('upload').insert({ id: uploadId, object_prefix: prefix });
  return { uploadId, prefix };
}

/**
 * The last step: every object under the prefix is referenced by an instance or was deleted,
 * so the claim can go. Its commit need not wait for the WAL flush: a claim that reappears
 * after a crash only makes the sweep list the prefix and find nothing to remove.
 */
export async function endUpload(db: Db, uploadId: string): Promise<void> {
  await db.transaction(async (trx) => {
    await trx.raw('SET LOCAL synchronous_commit = off');
    await trx('upload').where({ id: uploadId }).delete();
  });
}

/**
 * Step 2: the objects are durable; record them as `received` instances in one transaction.
 * Each upload's claim is held (KEY SHARE) until the commit, so the sweep, which takes it FOR
 * UPDATE, never deletes objects being recorded, and a claim it already took fails its
 * instances as expired. A new SOP Instance UID costs one row of one multi-row INSERT; an
 * existing one is settled under its row lock (duplicate, replaced or conflict), which
 * serialises concurrent uploads of the same instance so exactly one of them creates it.
 * Results are in the order of `items`.
 */
export async function recordInstances(db: Db, items: InstanceToRecord[], policy: ConflictPolicy): Promise<RecordOutcome[]> {
  return db.transaction(async (trx) => {
    const uploadIds = [...new Set(items.map((i) => i.uploadId))];
    const live = new Set<string>(await trx('upload').whereIn('id', uploadIds).forKeyShare().pluck('id'));
    const outcomes = new Map<InstanceToRecord, RecordOutcome>();
    // Sorted by UID so that concurrent groups take row and index locks in the same order.
    const claimed = items.filter((i) => live.has(i.uploadId)).sort((a, b) => compare(a.identity.sopInstanceUid, b.identity.sopInstanceUid));
    if (claimed.length > 0) {
      const inserted = await trx('instance').insert(claimed.map(instanceRow)).onConflict('sop_instance_uid').ignore().returning(['object_key', 'version']);
      const createdKeys = new Map<string, number>(inserted.map((r: { object_key: string; version: number }) => [r.object_key, r.version]));
      for (const item of claimed) {
        const version = createdKeys.get(item.written.objectKey);
        outcomes.set(item, version !== undefined ? { kind: 'created', version } : await settleExisting(trx, item, policy));
      }
    }
    return items.map((i) => outcomes.get(i) ?? { kind: 'expired' });
  });
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function instanceRow(item: InstanceToRecord) {
  const { identity: id, written } = item;
  return {
    sop_instance_uid: id.sopInstanceUid,
    study_instance_uid: id.studyInstanceUid,
    series_instance_uid: id.seriesInstanceUid,
    sop_class_uid: id.sopClassUid,
    transfer_syntax_uid: id.transferSyntaxUid,
    status: 'received',
    object_key: written.objectKey,
    size_bytes: written.sizeBytes,
    sha256: written.sha256,
    received_from_institution: item.receivedFrom,
  };
}

/** An instance row exists already (stored before, or earlier in this group). */
async function settleExisting(trx: Knex.Transaction, item: InstanceToRecord, policy: ConflictPolicy): Promise<RecordOutcome> {
  const { identity: id, written } = item;
  const existing = await trx('instance').where({ sop_instance_uid: id.sopInstanceUid }).forUpdate().first();
  if (existing.sha256 === written.sha256) return { kind: 'duplicate', version: existing.version };
  if (policy === 'reject') return { kind: 'conflict' };

  await trx('instance_version').insert({
    sop_instance_uid: id.sopInstanceUid,
    version: existing.version,
    object_key: existing.object_key,
    sha256: existing.sha256,
    size_bytes: existing.size_bytes,
    received_at: existing.received_at,
  });
  const version = existing.version + 1;
  await trx('instance')
    .where({ sop_instance_uid: id.sopInstanceUid })
    .update({
      ...instanceRow(item),
      version,
      received_at: trx.fn.now(),
      indexed_at: null,
      index_error: null,
    });
  return { kind: 'replaced', version, previousKey: existing.object_key };
}
