import type { Job, Queue } from 'bullmq';
import type { Db } from '../db';
import { enqueueClassify } from './classify';

/** What changed: a catalog version (all its studies), or one institution's local mappings. */
export interface ReclassifyData {
  reason: 'catalog_version' | 'local_mapping';
  catalogId?: string;
  institutionCode?: string;
}

export async function enqueueReclassify(queue: Queue, data: ReclassifyData): Promise<void> {
  await queue.add('reclassify', data, {
    attempts: 3,
    backoff: { type: 'exponential', delay: 5000 },
    removeOnComplete: { age: 7 * 24 * 3600 },
    removeOnFail: { age: 30 * 24 * 3600 },
  });
}

const BATCH = 500;

/**
 * Enqueues a classify job for every affected study, in batches, reporting progress (percent)
 * on the job so the queue UI shows how far a bulk re-classification has come. Not forced: a
 * reviewer's decision stands until the catalog version it was made under changes.
 */
export async function execReclassify(
  deps: { db: Db; classifyQueue: Queue },
  job: Pick<Job<ReclassifyData>, 'data' | 'updateProgress'>,
): Promise<{ studies: number }> {
  const scope = () => {
    const q = deps.db('study');
    if (job.data.institutionCode) q.where({ sending_institution_code: job.data.institutionCode });
    return q;
  };
  const [{ total }] = await scope().count({ total: '*' });
  let done = 0;
  let after = '';
  for (;;) {
    const batch = await scope().where('study_instance_uid', '>', after).orderBy('study_instance_uid').limit(BATCH).pluck('study_instance_uid');
    if (batch.length === 0) break;
    for (const uid of batch) await enqueueClassify(deps.classifyQueue, { studyInstanceUid: uid });
    done += batch.length;
    after = batch[batch.length - 1];
    await job.updateProgress(Math.round((100 * done) / Math.max(1, Number(total))));
  }
  // Nothing to do is done: the queue UI should not show 0 % for it.
  if (done === 0) await job.updateProgress(100);
  return { studies: done };
}
