import { UnrecoverableError, type Queue } from 'bullmq';
import type { Db } from '../db';
import { GroupCommit } from '../group-commit';
import { DicomInvalidError } from '../dicom/errors';
import { readStoredInstance } from '../dicom/read-stored-instance';
import { instanceBulkDataPath } from '../dicom/bulkdata';
import type { ObjectStore } from '../storage/object-store';
import type { IndexWriter } from '../index-store/index-writer';
import { withoutNulCharacters } from '../index-store/storable';
import type { InstanceRow } from '../index-store/upsert';

/** Payload: identifiers only, never patient data. */
export interface IndexInstanceData {
  sopInstanceUid: string;
  version: number;
}

export interface IndexInstanceDeps {
  db: Db;
  store: ObjectStore;
  /** The process's reader of instance rows: it reads this job's row together with other jobs'. */
  rows: InstanceRowReader;
  /** The process's group-commit writer: it indexes the parsed instance together with other jobs' and renews the study-stable timer. */
  writer: IndexWriter;
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

/** One job per stored version: a resend of the same bytes adds nothing. */
export const indexJobId = (data: IndexInstanceData) => `${data.sopInstanceUid}-v${data.version}`;

const indexJobOptions = (data: IndexInstanceData, attempts: number) => ({
  jobId: indexJobId(data),
  attempts,
  backoff: { type: 'exponential', delay: 500 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: { age: 30 * 24 * 3600 },
});

export async function enqueueIndexInstance(queue: Queue, data: IndexInstanceData, attempts: number): Promise<void> {
  await queue.add('index', data, indexJobOptions(data, attempts));
}

/** The index jobs of a STOW-RS batch in one Redis round trip. */
export async function enqueueIndexInstances(queue: Queue, instances: IndexInstanceData[], attempts: number): Promise<void> {
  if (instances.length === 0) return;
  await queue.addBulk(instances.map((data) => ({ name: 'index', data, opts: indexJobOptions(data, attempts) })));
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
