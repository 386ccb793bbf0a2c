import { Worker, type Job } from 'bullmq';
import { enqueueClassify, execClassify, type ClassifyData } from '../core/jobs/classify';
import { IndexWriter } from '../core/index-store/index-writer';
import pLimit from 'p-limit';
import { execIndexJob, InstanceRowReader, type IndexJobData } from '../core/jobs/index-instance';
import { enqueueQuality, execQuality, type QualityData } from '../core/jobs/quality';
import { execReconcile } from '../core/jobs/reconcile';
import { execReclassify, type ReclassifyData } from '../core/jobs/reclassify';
import { enqueueStudyStable, execStudyStable, type StudyStableData } from '../core/jobs/study-stable';
import { QueueName } from '../core/queue/names';
import { indexRecognitionSettings } from '../core/recognition/at-index';
import { enabledCatalogs } from '../core/recognition/classify-study';
import type { CoreServices } from '../core/services';
import { execSecurityMaintenance, SECURITY_MAINTENANCE_JOB } from '../core/security/maintenance';

export interface RunningWorkers {
  workers: Worker[];
  /** Stops taking jobs; jobs in progress finish first (BullMQ graceful close), then the index writer closes. */
  close(): Promise<void>;
}

const INDEX_LOCK_MS = 10_000;

/** Starts one BullMQ worker per queue in this process. Any number of such processes may run. */
export async function startWorkers(core: CoreServices): Promise<RunningWorkers> {
  const { config, db, store, queues, redis, logger } = core;
  const connection = redis.duplicate({ maxRetriesPerRequest: null, enableOfflineQueue: true });
  const common = { connection, prefix: config.HUREN_QUEUE_PREFIX };
  const quietMs = config.HUREN_STUDY_STABLE_SECONDS * 1000;
  const recognition = indexRecognitionSettings(config);

  // Index jobs read and parse concurrently; their rows are read, and what they parsed is committed, in groups.
  const writer = new IndexWriter({
    db,
    recognition,
    maxGroup: config.HUREN_INDEX_GROUP_MAX,
    onIndexed: (study) => enqueueStudyStable(queues.studyStable, study, quietMs),
  });
  const rows = new InstanceRowReader(db, config.HUREN_INDEX_GROUP_MAX);
  const slots = pLimit(config.HUREN_WORKER_CONCURRENCY);
  const index = new Worker(QueueName.indexInstance, (job: Job<IndexJobData>) => execIndexJob({ db, store, rows, writer, slots }, job.data), {
    ...common,
    concurrency: config.HUREN_WORKER_CONCURRENCY,
    // An index job takes milliseconds (large objects are read in ranges), so a short lock costs
    // few renewals, and the jobs of a crashed worker are taken over within ≈ 15 s instead of
    // BullMQ's default 30 s lock plus 30 s check (worker-kill9 in docs/chaos.md).
    lockDuration: INDEX_LOCK_MS,
    stalledInterval: INDEX_LOCK_MS / 2,
  });

  const stable = new Worker(
    QueueName.studyStable,
    async (job: Job<StudyStableData>) => {
      const outcome = await execStudyStable({ db, quietMs, onStable: [(study) => enqueueClassify(queues.classify, { studyInstanceUid: study })] }, job.data);
      if (outcome === 'not_quiet') await enqueueStudyStable(queues.studyStable, job.data.studyInstanceUid, quietMs);
      if (outcome === 'stable') logger.info({ studyInstanceUid: job.data.studyInstanceUid }, 'study stable');
      return outcome;
    },
    { ...common, concurrency: 4 },
  );

  // stable → classify → quality (the quality checks read the mapped items).
  const catalogs = enabledCatalogs(config.HUREN_ENABLED_CATALOGS);
  const classify = new Worker(
    QueueName.classify,
    (job: Job<ClassifyData>) => execClassify({ db, catalogs, onClassified: (study) => enqueueQuality(queues.quality, study) }, job.data),
    { ...common, concurrency: 4 },
  );
  const reclassify = new Worker(QueueName.reclassify, (job: Job<ReclassifyData>) => execReclassify({ db, classifyQueue: queues.classify }, job), {
    ...common,
    concurrency: 1,
  });

  const quality = new Worker(QueueName.quality, (job: Job<QualityData>) => execQuality({ db }, job.data), { ...common, concurrency: 4 });

  const maintenance = new Worker(
    QueueName.maintenance,
    async (job: Job) => {
      // Audit retention and expired access grants (docs/security.md), hourly.
      if (job.name === SECURITY_MAINTENANCE_JOB) return execSecurityMaintenance(db, { retentionDays: config.HUREN_AUDIT_RETENTION_DAYS });
      const repaired = await execReconcile({
        db,
        store,
        indexQueue: queues.indexInstance,
        jobAttempts: config.HUREN_JOB_ATTEMPTS,
        graceMs: config.HUREN_RECONCILE_GRACE_SECONDS * 1000,
        batchSize: 1000,
        studyStable: { queue: queues.studyStable, quietMs },
      });
      // Anything the sweep had to do means a fault happened: worth a line.
      if (repaired.reenqueued || repaired.orphansRemoved || repaired.stableRearmed) logger.warn(repaired, 'reconciliation sweep repaired');
      return repaired;
    },
    { ...common, concurrency: 1 },
  );
  await queues.maintenance.upsertJobScheduler('reconcile', { every: config.HUREN_RECONCILE_INTERVAL_SECONDS * 1000 }, { name: 'reconcile' });
  await queues.maintenance.upsertJobScheduler(SECURITY_MAINTENANCE_JOB, { every: 3600_000 }, { name: SECURITY_MAINTENANCE_JOB });

  const workers = [index, stable, classify, quality, reclassify, maintenance];
  for (const w of workers) {
    // Reasons are kept on the failed job (bull-board shows them); log UIDs only.
    w.on('failed', (job, err) => logger.warn({ queue: w.name, jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'job failed'));
    w.on('error', (err) => logger.error({ queue: w.name, err: err.message }, 'worker error'));
  }
  return {
    workers,
    async close() {
      await Promise.all(workers.map((w) => w.close()));
      await writer.close();
      await connection.quit().catch(() => connection.disconnect());
    },
  };
}
