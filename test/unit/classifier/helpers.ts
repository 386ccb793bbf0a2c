import { getCatalog } from '../../../catalogs/index';
import type { Catalog } from '../../../catalogs/schema';
import { classifyStudy, type CatalogClassification, type ClassifyOptions } from '../../../core/recognition/classify';
import { studyEvidence } from '../../../core/recognition/evidence';

export const CY = getCatalog('chuanyu-2025') as Catalog;
export const XJ = getCatalog('xinjiang') as Catalog;
export const ZJ = getCatalog('zhejiang-2021') as Catalog;

type Dataset = Record<string, unknown>;

/** A RIS that sends only the modality and a description. */
export const textOnly = (Modality: string, StudyDescription: string, extra: Dataset = {}): Dataset => ({ Modality, StudyDescription, ...extra });

/** Instances of one series; `perImage` gives per-instance attributes (ViewPosition …). */
export function series(n: number, index: number, attrs: Dataset, perImage: (i: number) => Dataset = () => ({})): Dataset[] {
  return Array.from({ length: n }, (_, i) => ({
    StudyInstanceUID: '1.2.3',
    SeriesInstanceUID: `1.2.3.${index}`,
    SOPInstanceUID: `1.2.3.${index}.${i + 1}`,
    ...attrs,
    ...perImage(i),
  }));
}

export function classify(input: Dataset | Dataset[], catalog: Catalog, opts?: ClassifyOptions): CatalogClassification {
  return classifyStudy(studyEvidence(input), catalog, opts);
}

export const codes = (r: CatalogClassification) => r.items.map((i) => i.code).sort();
