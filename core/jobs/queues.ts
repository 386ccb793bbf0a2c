import { Queue, type ConnectionOptions } from 'bullmq';
import { QueueName } from '../queue/names';

export interface JobQueues {
  indexInstance: Queue;
  studyStable: Queue;
  /** Repeatable housekeeping (the reconciliation sweep). */
  maintenance: Queue;
  /** Quality assessment of a stable study (core/jobs/quality.ts). */
  quality: Queue;
  /** Mapping of a stable study to recognition items (core/jobs/classify.ts). */
  classify: Queue;
  /** Bulk re-classification after a catalog version or mapping change. */
  reclassify: Queue;
  all(): Queue[];
  close(): Promise<void>;
}

/** Producer handles for every queue; used by the gateway (STOW) and by jobs that chain jobs. */
export function createJobQueues(connection: ConnectionOptions, prefix: string): JobQueues {
  const indexInstance = new Queue(QueueName.indexInstance, { connection, prefix });
  const studyStable = new Queue(QueueName.studyStable, { connection, prefix });
  const maintenance = new Queue(QueueName.maintenance, { connection, prefix });
  const quality = new Queue(QueueName.quality, { connection, prefix });
  const classify = new Queue(QueueName.classify, { connection, prefix });
  const reclassify = new Queue(QueueName.reclassify, { connection, prefix });
  const all = () => [indexInstance, studyStable, classify, quality, reclassify, maintenance];
  return {
    indexInstance,
    studyStable,
    maintenance,
    quality,
    classify,
    reclassify,
    all,
    async close() {
      await Promise.all(all().map((q) => q.close()));
    },
  };
}
