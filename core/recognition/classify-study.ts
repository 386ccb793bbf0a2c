import dcmjs from 'dcmjs';
import type { Knex } from 'knex';
import { loadCatalogs } from '../../catalogs';
import type { Catalog } from '../../catalogs/schema';
import type { NaturalizedDataset } from '../dicom/read-instance';
import { classifyStudyAll, type CatalogClassification } from './classify';
import { studyEvidence } from './evidence';
import { loadMappings, mappingLookup } from './local-mapping';

/** The catalogs a deployment maps studies to (HUREN_ENABLED_CATALOGS; all three by default). */
export function enabledCatalogs(ids: readonly string[]): Catalog[] {
  return loadCatalogs().filter((c) => ids.includes(c.id));
}

/** DICOM JSON (wire and storage shape) → the dcmjs-naturalized shape the classifier reads. */
export function naturalize(dicomJson: Record<string, unknown>): NaturalizedDataset {
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dicomJson as never);
}

/**
 * What the classify job stores and the dry-run endpoint returns: every enabled catalog's
 * classification of the datasets, the institution's local mappings taking precedence.
 */
export async function classifyDatasets(
  db: Knex,
  datasets: readonly NaturalizedDataset[],
  institutionCode: string | null,
  catalogs: readonly Catalog[],
): Promise<CatalogClassification[]> {
  const lookup = mappingLookup(await loadMappings(db, institutionCode));
  return classifyStudyAll(studyEvidence(datasets), catalogs, { localMapping: lookup });
}
