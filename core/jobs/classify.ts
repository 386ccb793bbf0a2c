import type { Queue } from 'bullmq';
import type { Db } from '../db';
import type { Catalog } from '../../catalogs/schema';
import type { CatalogClassification } from '../recognition/classify';
import { classifyDatasets, naturalize } from '../recognition/classify-study';

export interface ClassifyData {
  studyInstanceUid: string;
}

/** One classification per study at a time; a later trigger runs again after it (BullMQ keepLastIfActive). */
export async function enqueueClassify(queue: Queue, data: ClassifyData): Promise<void> {
  await queue.add('classify', data, {
    deduplication: { id: data.studyInstanceUid, keepLastIfActive: true },
    attempts: 5,
    backoff: { type: 'exponential', delay: 1000 },
    removeOnComplete: { age: 3600, count: 10_000 },
    removeOnFail: { age: 30 * 24 * 3600 },
  });
}

export interface ClassifyDeps {
  db: Db;
  catalogs: readonly Catalog[];
  /** Runs after the classification is stored (the quality job reads the mapped items). */
  onClassified(studyInstanceUid: string): Promise<void>;
}

/**
 * Maps a study to the items of every enabled catalog and stores, per catalog, the full result
 * (study_classification) and the mapped items (study_item, only when the status is `mapped`).
 * A reviewer's decision stands until the catalog version it was made under changes.
 */
export async function execClassify(deps: ClassifyDeps, data: ClassifyData): Promise<'classified' | 'unknown'> {
  const study = await deps.db('study').where({ study_instance_uid: data.studyInstanceUid }).first('sending_institution_code');
  if (!study) return 'unknown';
  const rows = await deps.db('instance').where({ study_instance_uid: data.studyInstanceUid, status: 'indexed' }).select('metadata');
  const datasets = rows.map((r) => naturalize(r.metadata));
  const results = await classifyDatasets(deps.db, datasets, study.sending_institution_code, deps.catalogs);
  await deps.db.transaction(async (trx) => {
    for (const result of results) await storeClassification(trx, data.studyInstanceUid, result, 'classifier');
  });
  await deps.onClassified(data.studyInstanceUid);
  return 'classified';
}

export async function storeClassification(
  trx: Db,
  studyInstanceUid: string,
  result: CatalogClassification,
  source: 'classifier' | 'reviewer',
  reviewer?: string,
): Promise<void> {
  const key = { study_instance_uid: studyInstanceUid, catalog_id: result.catalogId };
  if (source === 'classifier') {
    const current = await trx('study_classification').where(key).first('source', 'catalog_version');
    if (current?.source === 'reviewer' && current.catalog_version === result.catalogVersion) return;
  }
  const mappedBy = result.items.some((i) => i.evidence.some((e) => e.tag === 'LocalMapping')) ? 'local_mapping' : source;
  await trx('study_classification')
    .insert({
      ...key,
      catalog_version: result.catalogVersion,
      status: result.status,
      source: mappedBy,
      result,
      reviewed_by: reviewer ?? null,
      classified_at: trx.fn.now(),
    })
    .onConflict(['study_instance_uid', 'catalog_id'])
    .merge();
  await trx('study_item').where(key).delete();
  if (result.status === 'mapped' && result.items.length > 0) {
    await trx('study_item').insert(result.items.map((i) => ({ ...key, catalog_version: result.catalogVersion, item_code: i.code, confidence: i.confidence })));
  }
}
