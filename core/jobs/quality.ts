import type { Queue } from 'bullmq';
import { data as dcmjsData } from 'dcmjs';
import type { data as DcmjsTypes } from 'dcmjs';
import { findItem } from '../../catalogs/index';
import type { CatalogItem } from '../../catalogs/schema';
import type { Db } from '../db';
import { assessQuality, QUALITY_RULES_VERSION } from '../quality/assess';
import { reportsFromInstances } from '../quality/reports';
import type { Dataset, MappedItem, QualityAssessment, QualityInput, QualitySeries, StoredInstance } from '../quality/types';

/** Payload: identifiers only, never patient data. */
export interface QualityData {
  studyInstanceUid: string;
}

/** Triggers within this window collapse into one assessment (a stable event and a report, several reports). */
export const QUALITY_DEBOUNCE_MS = 1000;
/** The job runs this long after its trigger; longer than the debounce window, so a dropped trigger is always seen by the pending job. */
export const QUALITY_DELAY_MS = 1500;

/**
 * Queues a quality assessment of the study. Each trigger (study stable, report attached) has its
 * own job id — study UID + version (a timestamp unless the caller names one) — so a study that is
 * re-stabilised later is assessed again rather than matched to its earlier, completed job; the same
 * trigger enqueued twice (a retried hook) adds one job. Triggers arriving while a job is still
 * waiting are dropped (BullMQ deduplication for QUALITY_DEBOUNCE_MS): that job has not started yet
 * and reads the study after them.
 */
export async function enqueueQuality(queue: Queue, studyInstanceUid: string, version: string | number = Date.now()): Promise<void> {
  await queue.add('quality', { studyInstanceUid } satisfies QualityData, {
    jobId: `${studyInstanceUid}-q${String(version).replace(/[^0-9A-Za-z.-]/g, '-')}`,
    delay: QUALITY_DELAY_MS,
    deduplication: { id: `quality-${studyInstanceUid}`, ttl: QUALITY_DEBOUNCE_MS },
    attempts: 5,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 30 * 24 * 3600 },
  });
}

export interface QualityDeps {
  db: Db;
}

export interface StoredQuality extends QualityAssessment {
  itemCodes: string[];
  rulesVersion: string;
  assessedAt: Date;
}

/**
 * Assesses the study's quality (core/quality) and replaces its study_quality row. Assessments of
 * one study are serialised by an advisory lock, so the later one reads the later data and its
 * result is the one kept. 'unknown' when the study does not exist (deleted meanwhile).
 */
export async function execQuality(deps: QualityDeps, data: QualityData): Promise<'assessed' | 'unknown'> {
  return deps.db.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`huren.quality:${data.studyInstanceUid}`]);
    const input = await loadQualityInput(trx, data.studyInstanceUid);
    if (!input) return 'unknown';
    const { result, findings } = assessQuality(input);
    await trx('study_quality')
      .insert({
        study_instance_uid: data.studyInstanceUid,
        result,
        findings: JSON.stringify(findings),
        item_codes: input.mappedItems.map((i) => i.code),
        rules_version: QUALITY_RULES_VERSION,
        assessed_at: trx.fn.now(),
      })
      .onConflict('study_instance_uid')
      .merge();
    return 'assessed';
  });
}

/** The stored assessment of a study, or undefined when it has not been assessed (yet). */
export async function readQuality(db: Db, studyInstanceUid: string): Promise<StoredQuality | undefined> {
  const row = await db('study_quality').where({ study_instance_uid: studyInstanceUid }).first();
  if (!row) return undefined;
  return { result: row.result, findings: row.findings, itemCodes: row.item_codes, rulesVersion: row.rules_version, assessedAt: row.assessed_at };
}

const naturalize = (json: unknown): Dataset => dcmjsData.DicomMetaDictionary.naturalizeDataset((json ?? {}) as DcmjsTypes.DcmjsDataset);

/** Everything the checks read about one study, from the index, study_item + catalogs, and study_report. */
export async function loadQualityInput(db: Db, studyInstanceUid: string): Promise<QualityInput | undefined> {
  const study = await db('study').where({ study_instance_uid: studyInstanceUid }).first('attributes', 'institution_name');
  if (!study) return undefined;

  const seriesRows: Array<{ series_instance_uid: string; modality: string | null; series_description: string | null }> = await db('series')
    .where({ study_instance_uid: studyInstanceUid })
    .orderByRaw('series_number NULLS LAST, series_instance_uid')
    .select('series_instance_uid', 'modality', 'series_description');

  const instanceRows: Array<{
    sop_instance_uid: string;
    series_instance_uid: string;
    sop_class_uid: string;
    transfer_syntax_uid: string;
    status: 'received' | 'indexed';
    metadata: unknown;
    frame_count: number | null;
    index_error: string | null;
  }> = await db('instance')
    .where({ study_instance_uid: studyInstanceUid })
    .orderByRaw('series_instance_uid, instance_number NULLS LAST, sop_instance_uid')
    .select(
      'sop_instance_uid',
      'series_instance_uid',
      'sop_class_uid',
      'transfer_syntax_uid',
      'status',
      'metadata',
      'index_error',
      // The frame index itself can be large (one range per fragment); its frame count is all the checks need.
      db.raw(`CASE WHEN jsonb_typeof(frames -> 'frames') = 'array' THEN jsonb_array_length(frames -> 'frames') END AS frame_count`),
    );

  const stored: Record<string, StoredInstance> = {};
  const bySeries = new Map<string, Dataset[]>();
  for (const row of instanceRows) {
    stored[row.sop_instance_uid] = {
      seriesInstanceUid: row.series_instance_uid,
      sopClassUid: row.sop_class_uid,
      transferSyntaxUid: row.transfer_syntax_uid,
      status: row.status,
      frameCount: row.frame_count === null ? null : Number(row.frame_count),
      indexError: row.index_error,
    };
    if (row.status !== 'indexed' || !row.metadata) continue;
    bySeries.set(row.series_instance_uid, [...(bySeries.get(row.series_instance_uid) ?? []), naturalize(row.metadata)]);
  }
  const series: QualitySeries[] = seriesRows.map((s) => ({
    seriesInstanceUid: s.series_instance_uid,
    modality: s.modality,
    description: s.series_description,
    instances: bySeries.get(s.series_instance_uid) ?? [],
  }));

  const itemRows: Array<{ catalog_id: string; item_code: string; attributes: CatalogItem | null }> = await db('study_item as si')
    .leftJoin('catalog_item as ci', function () {
      this.on('ci.catalog_id', 'si.catalog_id').andOn('ci.version', 'si.catalog_version').andOn('ci.code', 'si.item_code');
    })
    .where('si.study_instance_uid', studyInstanceUid)
    .orderBy(['si.catalog_id', 'si.item_code'])
    .select('si.catalog_id', 'si.item_code', 'ci.attributes');
  const mappedItems: MappedItem[] = itemRows.flatMap((row) => {
    // The version the study was mapped with; the bundled catalog when that version is not loaded.
    const item = row.attributes ?? findItem(row.item_code)?.item;
    return item ? [{ ...item, catalogId: row.catalog_id }] : [];
  });

  const apiReports: Array<{ id: string; author: string; signed_at: Date }> = await db('study_report')
    .where({ study_instance_uid: studyInstanceUid })
    .orderBy('created_at')
    .select('id', 'author', 'signed_at');

  const studyDataset = naturalize(study.attributes);
  if (!studyDataset.InstitutionName && study.institution_name) studyDataset.InstitutionName = study.institution_name;

  return {
    study: studyDataset,
    series,
    mappedItems,
    reports: [
      ...reportsFromInstances(series),
      ...apiReports.map((r) => ({ source: 'api' as const, author: r.author, signedAt: new Date(r.signed_at).toISOString(), ref: r.id })),
    ],
    stored,
  };
}
