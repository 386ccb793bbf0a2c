import { Job, type Queue } from 'bullmq';
import type { Knex } from 'knex';
import type { Db } from '../db';
import { sopInstanceUidOfKey } from '../storage/keys';
import type { ObjectStore } from '../storage/object-store';
import { enqueueIndexInstances, indexJobId, type IndexInstanceData } from './index-instance';
import { enqueueStudyStable } from './study-stable';

export interface ReconcileDeps {
  db: Db;
  store: ObjectStore;
  indexQueue: Queue;
  jobAttempts: number;
  /** How long an instance may stay received-but-unindexed, or an upload unfinished, before the sweep acts. */
  graceMs: number;
  batchSize: number;
  /** Re-arms the quiet-period timer of studies whose "stable" event was lost. */
  studyStable?: { queue: Queue; quietMs: number };
}

export interface ReconcileResult {
  reenqueued: number;
  orphansRemoved: number;
  stableRearmed: number;
}

/**
 * The safety net behind "nothing acknowledged is ever lost": re-enqueues instances that
 * are durable but were never indexed (Redis was down when STOW enqueued, a job was lost),
 * and deletes the objects of uploads that never finished (crash or storage failure mid-request).
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
    await reenqueue(deps.indexQueue, { sopInstanceUid: row.sop_instance_uid, version: row.version }, deps.jobAttempts);
  }

  let orphansRemoved = 0;
  const unfinished = await deps.db('upload').select('id', 'object_prefix').where('created_at', '<', cutoff).orderBy('created_at').limit(deps.batchSize);
  for (const upload of unfinished) {
    if (await sweepUpload(deps, upload, cutoff)) orphansRemoved++;
  }

  // A study's "stable" event is a delayed job enqueued after each indexed instance; when Redis
  // was away at that moment (the job already indexed, so its retry does not enqueue again),
  // the study never became stable and nothing downstream ran (found by `npm run chaos`,
  // redis-restart). Past its quiet period plus the grace, an unstable study has most likely
  // lost its timer: arm one where none is pending (a pending one is left as it is).
  let stableRearmed = 0;
  if (deps.studyStable) {
    const { queue, quietMs } = deps.studyStable;
    const studies: string[] = await deps
      .db('study')
      .whereNull('stable_at')
      .andWhere('last_instance_at', '<', new Date(Date.now() - quietMs - deps.graceMs))
      .orderBy('last_instance_at')
      .limit(deps.batchSize)
      .pluck('study_instance_uid');
    for (const study of studies) await enqueueStudyStable(queue, study, quietMs, { renew: false });
    stableRearmed = studies.length;
  }
  return { reenqueued: stale.length, orphansRemoved, stableRearmed };
}

/**
 * Settles an upload that never finished (the gateway crashed, or storage failed while it
 * cleaned up): deletes the objects under its prefix that no instance references, then the
 * claim. The claim is taken FOR UPDATE: a STOW recording into it right now holds it (KEY
 * SHARE) and the sweep skips it; one recording later finds it gone and records nothing
 * (core/ingest/record.ts). An upload whose last write is more recent than the grace is a
 * slow request still arriving: left for a later sweep.
 */
async function sweepUpload(deps: ReconcileDeps, upload: { id: string; object_prefix: string }, idleSince: Date): Promise<boolean> {
  return deps.db.transaction(async (trx) => {
    const claim = await trx('upload').where({ id: upload.id }).forUpdate().skipLocked().first('id');
    if (!claim) return false;
    const objects = await deps.store.list(upload.object_prefix);
    if (objects.some((o) => o.modifiedAt > idleSince)) return false;
    const referenced = await referencedKeys(
      trx,
      objects.map((o) => o.key),
    );
    for (const o of objects) {
      if (!referenced.has(o.key)) await deps.store.delete(o.key);
    }
    await trx('upload').where({ id: upload.id }).delete();
    return true;
  });
}

/** Which of these keys an instance, current or replaced, points to (looked up by the SOP Instance UID in the key). */
async function referencedKeys(trx: Knex.Transaction, keys: string[]): Promise<Set<string>> {
  const sops = [...new Set(keys.map(sopInstanceUidOfKey).filter((uid) => uid !== undefined))];
  if (sops.length === 0) return new Set();
  const current: string[] = await trx('instance').whereIn('sop_instance_uid', sops).pluck('object_key');
  const replaced: string[] = await trx('instance_version').whereIn('sop_instance_uid', sops).pluck('object_key');
  return new Set([...current, ...replaced]);
}

/**
 * Enqueues an index job of its own for an instance left unindexed. Its id is one per stored
 * version, so `add` does nothing while a job of that id exists (a STOW batch job holding the
 * instance has another id: while such a job still waits past the grace, the instance may be
 * indexed twice, which skips the second time) — and a job that failed for good
 * (its attempts spent while PostgreSQL or storage was down, or stalled by two worker
 * crashes) stays in the failed set for 30 days, keeping the instance unqueryable that long
 * (found by `npm run chaos`, storage-down-10s). Such a job is retried with fresh attempts;
 * a waiting, delayed or active one is left alone.
 */
async function reenqueue(queue: Queue, data: IndexInstanceData, attempts: number): Promise<void> {
  const job = await Job.fromId(queue, indexJobId([data]));
  if (!job) return enqueueIndexInstances(queue, [data], attempts);
  const state = await job.getState();
  if (state !== 'failed' && state !== 'completed') return;
  // Another sweep or worker may have moved it meanwhile: then there is nothing to do.
  await job.retry(state, { resetAttemptsMade: true, resetAttemptsStarted: true }).catch(() => undefined);
}
