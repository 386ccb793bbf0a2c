import type { Queue } from 'bullmq';
import type { Db } from '../db';

export interface StudyStableData {
  studyInstanceUid: string;
}

/**
 * (Re)starts the study's quiet-period timer: one delayed job per study, pushed back by
 * every newly indexed instance (BullMQ debounce: replace the delayed job, extend its ttl).
 * `renew: false` only arms a timer where none is pending (the reconciliation sweep: renewing
 * on every sweep would push a pending timer back forever when the sweep runs more often than
 * the quiet period — found by `npm run chaos`, redis-restart).
 */
export async function enqueueStudyStable(queue: Queue, studyInstanceUid: string, quietMs: number, opts: { renew?: boolean } = {}): Promise<void> {
  const renew = opts.renew ?? true;
  await queue.add('stable', { studyInstanceUid } satisfies StudyStableData, {
    delay: quietMs,
    deduplication: { id: studyInstanceUid, ttl: quietMs, ...(renew && { extend: true, replace: true }) },
    attempts: 5,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 30 * 24 * 3600 },
  });
}

export interface StudyStableDeps {
  db: Db;
  quietMs: number;
  /** Work that runs once a study is stable (classification and quality hook on here). */
  onStable: ReadonlyArray<(studyInstanceUid: string) => Promise<void>>;
}

/**
 * Marks the study stable when no instance has been indexed for the quiet period;
 * returns 'not_quiet' (and the caller re-arms the timer) when one arrived meanwhile.
 */
export async function execStudyStable(deps: StudyStableDeps, data: StudyStableData): Promise<'stable' | 'not_quiet' | 'unknown'> {
  const updated = await deps
    .db('study')
    .where({ study_instance_uid: data.studyInstanceUid })
    .andWhereRaw('last_instance_at <= now() - make_interval(secs => ?)', [deps.quietMs / 1000])
    .update({ stable_at: deps.db.fn.now() })
    .returning('study_instance_uid');
  if (updated.length === 0) {
    const exists = await deps.db('study').where({ study_instance_uid: data.studyInstanceUid }).first('study_instance_uid');
    return exists ? 'not_quiet' : 'unknown';
  }
  for (const hook of deps.onStable) await hook(data.studyInstanceUid);
  return 'stable';
}
