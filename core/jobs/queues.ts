import { Queue, type ConnectionOptions } from 'bullmq';
import { QueueName } from '../queue/names';

export interface JobQueues {
  indexInstance: Queue;
  studyStable: Queue;
  /** Repeatable housekeeping (the reconciliation sweep). */
  maintenance: Queue;
  /** Quality assessment of a stable study (core/jobs/quality.ts). */
  quality: Queue;
  all(): Queue[];
  close(): Promise<void>;
}

/** Producer handles for every queue; used by the gateway (STOW) and by jobs that chain jobs. */
export function createJobQueues(connection: ConnectionOptions, prefix: string): JobQueues {
  const indexInstance = new Queue(QueueName.indexInstance, { connection, prefix });
  const studyStable = new Queue(QueueName.studyStable, { connection, prefix });
  const maintenance = new Queue(QueueName.maintenance, { connection, prefix });
  const quality = new Queue(QueueName.quality, { connection, prefix });
  const all = () => [indexInstance, studyStable, maintenance, quality];
  return {
    indexInstance,
    studyStable,
    maintenance,
    quality,
    all,
    async close() {
      await Promise.all(all().map((q) => q.close()));
    },
  };
}
