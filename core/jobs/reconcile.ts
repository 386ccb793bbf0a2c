import type { Queue } from 'bullmq';
import type { Db } from '../db';
import type { ObjectStore } from '../storage/object-store';
import { enqueueIndexInstance } from './index-instance';

export interface ReconcileDeps {
  db: Db;
  store: ObjectStore;
  indexQueue: Queue;
  jobAttempts: number;
  /** How long an instance may stay received-but-unindexed, or an upload unfinished, before the sweep acts. */
  graceMs: number;
  batchSize: number;
}

export interface ReconcileResult {
  reenqueued: number;
  orphansRemoved: number;
}

/**
 * The safety net behind "nothing acknowledged is ever lost": re-enqueues instances that
 * are durable but were never indexed (Redis was down when STOW enqueued, a job was lost),
 * and deletes the objects of uploads that never committed (crash or disconnect mid-write).
 * Enqueueing is idempotent (job id per version), so running it often is harmless.
 */
export async function execReconcile(deps: ReconcileDeps): Promise<ReconcileResult> {
  const cutoff = new Date(Date.now() - deps.graceMs);
  const stale = await deps
    .db('instance')
    .select('sop_instance_uid', 'version')
    .where('status', 'received')
    .andWhere('received_at', '<', cutoff)
    .whereNull('index_error')
    .orderBy('received_at')
    .limit(deps.batchSize);
  for (const row of stale) {
    await enqueueIndexInstance(deps.indexQueue, { sopInstanceUid: row.sop_instance_uid, version: row.version }, deps.jobAttempts);
  }

  const orphans = await deps.db('upload').select('id', 'object_key').where('created_at', '<', cutoff).orderBy('created_at').limit(deps.batchSize);
  for (const upload of orphans) {
    // An instance row may point at the key (the upload row is deleted in the same
    // transaction, so this only happens if that commit raced the sweep): keep it then.
    const used = await deps.db('instance').where({ object_key: upload.object_key }).first('sop_instance_uid');
    if (!used) await deps.store.delete(upload.object_key);
    await deps.db('upload').where({ id: upload.id }).delete();
  }
  return { reenqueued: stale.length, orphansRemoved: orphans.length };
}
