import { UnrecoverableError, type Queue } from 'bullmq';
import type pLimit from 'p-limit';
import type { Db } from '../db';
import { GroupCommit } from '../group-commit';
import { DicomInvalidError } from '../dicom/errors';
import { readStoredInstance } from '../dicom/read-stored-instance';
import { instanceBulkDataPath } from '../dicom/bulkdata';
import type { ObjectStore } from '../storage/object-store';
import type { IndexWriter } from '../index-store/index-writer';
import { withoutNulCharacters } from '../index-store/storable';
import type { InstanceRow } from '../index-store/upsert';

/** One stored version of an instance: identifiers only, never patient data. */
export interface IndexInstanceData {
  sopInstanceUid: string;
  version: number;
}

/**
 * Payload of an index job: the instances one STOW-RS flush made durable, or one the
 * reconciliation sweep found unindexed. A job per batch rather than per instance spares each
 * instance BullMQ's add, fetch and finish scripts (≈ 2–3 Redis script calls and their round
 * trips per instance in the gateway, the worker and Redis).
 */
export interface IndexJobData {
  instances: IndexInstanceData[];
}

/** Most instances in one index job: a retried job redoes (or skips) at most this many. */
export const INDEX_JOB_MAX_INSTANCES = 50;

export interface IndexInstanceDeps {
  db: Db;
  store: ObjectStore;
  /** The process's reader of instance rows: it reads this job's row together with other jobs'. */
  rows: InstanceRowReader;
  /** The process's group-commit writer: it indexes the parsed instance together with other jobs' and renews the study-stable timer. */
  writer: IndexWriter;
}

export interface IndexJobDeps extends IndexInstanceDeps {
  /** The process's parse slots (HUREN_WORKER_CONCURRENCY), shared by its jobs: bounds the objects in memory whatever the batch sizes. */
  slots: pLimit.Limit;
}

/** What the job needs of the instance row; `metadata` and the other index columns can be large. */
const ROW_COLUMNS = [
  'sop_instance_uid',
  'study_instance_uid',
  'series_instance_uid',
  'version',
  'status',
  'object_key',
  'size_bytes',
  'received_from_institution',
];

export interface IndexJobRow extends InstanceRow {
  status: string;
  object_key: string;
  /** bigint: a string from pg. */
  size_bytes: string | number;
}

/**
 * Reads the instance rows of one worker process's index jobs. While one read runs, the rows
 * later jobs ask for wait and are read together by the next (core/group-commit.ts): a burst of
 * jobs costs a few queries instead of one round trip each.
 */
export class InstanceRowReader {
  private readonly reads: GroupCommit<string, IndexJobRow | undefined>;

  constructor(db: Db, maxRows: number) {
    this.reads = new GroupCommit(async (sops) => {
      const rows: IndexJobRow[] = await db('instance').whereIn('sop_instance_uid', sops).select(ROW_COLUMNS);
      const bySop = new Map(rows.map((row) => [row.sop_instance_uid, row]));
      return sops.map((sop) => bySop.get(sop));
    }, maxRows);
  }

  /** The row of the instance, undefined when there is none. */
  async read(sopInstanceUid: string): Promise<IndexJobRow | undefined> {
    const [row] = await this.reads.submit([sopInstanceUid]);
    return row;
  }
}

/**
 * A job id per batch, from its first instance's version and its size: a batch enqueued twice
 * is one job, and a single instance's job (`<SOP Instance UID>-v<version>`) is the one the
 * reconciliation sweep looks up.
 */
export const indexJobId = (instances: IndexInstanceData[]) => {
  const [first] = instances;
  return `${first.sopInstanceUid}-v${first.version}${instances.length > 1 ? `+${instances.length - 1}` : ''}`;
};

const indexJobOptions = (instances: IndexInstanceData[], attempts: number) => ({
  jobId: indexJobId(instances),
  attempts,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
});

/** Index jobs for these instances, at most INDEX_JOB_MAX_INSTANCES each, in one Redis round trip. */
export async function enqueueIndexInstances(queue: Queue, instances: IndexInstanceData[], attempts: number): Promise<void> {
  const jobs = [];
  for (let i = 0; i < instances.length; i += INDEX_JOB_MAX_INSTANCES) {
    const batch = instances.slice(i, i + INDEX_JOB_MAX_INSTANCES);
    jobs.push({ name: 'index', data: { instances: batch } satisfies IndexJobData, opts: indexJobOptions(batch, attempts) });
  }
  if (jobs.length > 0) await queue.addBulk(jobs);
}

/**
 * Indexes the instances of one job, each in a parse slot of the process. An instance that
 * cannot be indexed ever (no row, unparseable: its error is recorded) does not hold back the
 * others; the job then fails for good naming them. Any other failure (storage, PostgreSQL)
 * fails the job for a retry, which skips the instances indexed meanwhile.
 */
export async function execIndexJob(deps: IndexJobDeps, data: IndexJobData): Promise<{ indexed: number; skipped: number }> {
  const settled = await Promise.allSettled(data.instances.map((instance) => deps.slots(() => execIndexInstance(deps, instance))));
  const done = { indexed: 0, skipped: 0 };
  const unindexable: string[] = [];
  for (const s of settled) {
    if (s.status === 'fulfilled') done[s.value]++;
    else if (!(s.reason instanceof UnrecoverableError)) throw s.reason;
    else unindexable.push(s.reason.message);
  }
  if (unindexable.length > 0) {
    throw new UnrecoverableError(`${unindexable.length} of ${data.instances.length} instances not indexed: ${unindexable.join('; ')}`);
  }
  return done;
}

/**
 * Reads the stored object, extracts the DICOM JSON, frame index and level attributes, and
 * hands them to the writer, which indexes patient/study/series/instance in one transaction
 * with the instances other jobs of this process parsed meanwhile. Idempotent: re-running it
 * for an already indexed version changes nothing.
 */
export async function execIndexInstance(deps: IndexInstanceDeps, data: IndexInstanceData): Promise<'indexed' | 'skipped'> {
  const row = await deps.rows.read(data.sopInstanceUid);
  if (!row) throw new UnrecoverableError(`No stored instance ${data.sopInstanceUid}`);
  // A newer version has its own job; an indexed one needs nothing.
  if (row.version !== data.version || row.status === 'indexed') return 'skipped';

  // Read and parse: a large object only in ranges (header, fragment item headers, tail), so a
  // multi-GB instance costs the worker megabytes, not gigabytes. Storage errors are not
  // DicomInvalidError: they are rethrown below and the job is retried.
  let parsed;
  const bulkdata: Record<string, [number, number]> = {};
  try {
    parsed = await readStoredInstance(deps.store, row.object_key, {
      recordedSize: Number(row.size_bytes),
      bulkDataUri: (tagPath, location) => {
        if (location.offset !== null) bulkdata[tagPath] = [location.offset, location.length];
        return instanceBulkDataPath(row.study_instance_uid, row.series_instance_uid, row.sop_instance_uid, tagPath);
      },
    });
  } catch (err) {
    if (!(err instanceof DicomInvalidError)) throw err;
    await deps.db('instance').where({ sop_instance_uid: row.sop_instance_uid, version: row.version }).update({ index_error: err.message });
    throw new UnrecoverableError(`Instance ${row.sop_instance_uid} cannot be parsed: ${err.message}`);
  }

  // Write, in this process's next group commit.
  const dicomJson = withoutNulCharacters(parsed.dicomJson);
  // The naturalized form holds the JSON's values under keywords: free of NUL when the JSON is.
  const naturalized = dicomJson === parsed.dicomJson ? parsed.naturalized : withoutNulCharacters(parsed.naturalized);
  const storable = { ...parsed, dicomJson, naturalized, bulkdata };
  await deps.writer.write({ row, parsed: storable });
  return 'indexed';
}
