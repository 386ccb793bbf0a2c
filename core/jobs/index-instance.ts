import { UnrecoverableError, type Queue } from 'bullmq';
import { buffer } from 'node:stream/consumers';
import type { Db } from '../db';
import { DicomInvalidError } from '../dicom/errors';
import { readInstance } from '../dicom/read-instance';
import { instanceBulkDataPath } from '../dicom/bulkdata';
import type { ObjectStore } from '../storage/object-store';
import { upsertIndexedInstance } from '../index-store/upsert';
import type { IndexRecognitionSettings } from '../recognition/at-index';

/** Payload: identifiers only, never patient data. */
export interface IndexInstanceData {
  sopInstanceUid: string;
  version: number;
}

export interface IndexInstanceDeps {
  db: Db;
  store: ObjectStore;
  /** How national IDs are read and protected at index time. */
  recognition: IndexRecognitionSettings;
  /** Called after the instance is queryable (debounces the study-stable event). */
  onIndexed(studyInstanceUid: string): Promise<void>;
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
 * indexes patient/study/series/instance in one transaction. Idempotent: re-running it for
 * an already indexed version changes nothing.
 */
export async function execIndexInstance(deps: IndexInstanceDeps, data: IndexInstanceData): Promise<'indexed' | 'skipped'> {
  const row = await deps.db('instance').where({ sop_instance_uid: data.sopInstanceUid }).first();
  if (!row) throw new UnrecoverableError(`No stored instance ${data.sopInstanceUid}`);
  // A newer version has its own job; an indexed one needs nothing.
  if (row.version !== data.version || row.status === 'indexed') return 'skipped';

  const bytes = await buffer(await deps.store.get(row.object_key));
  let parsed;
  const bulkdata: Record<string, [number, number]> = {};
  try {
    parsed = readInstance(bytes, {
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

  await deps.db.transaction(async (trx) => {
    // The index is derived data: the stored object and its `received` row (committed
    // synchronously by STOW) are the truth. Not waiting for this commit's WAL flush frees the
    // study's row lock sooner (concurrent jobs of one study queue on it); a crash can only
    // lose the last fraction of a second of indexing, which leaves those instances
    // `received`, and the reconciliation sweep indexes them again (docs/benchmarks.md).
    await trx.raw('SET LOCAL synchronous_commit = off');
    await upsertIndexedInstance(trx, row, { ...parsed, bulkdata }, deps.recognition);
  });
  await deps.onIndexed(row.study_instance_uid);
  return 'indexed';
}
