import type { CatalogItem } from '../../catalogs/schema';

/**
 * The quality assessment's vocabulary. Findings are flags for the receiving physician, never a
 * silent veto: 'fail' means "a recognition requirement is not met as far as the data shows",
 * and the physician still decides (documented in docs/quality.md with every finding code).
 */

export type Severity = 'info' | 'warn' | 'fail';
export type QualityResult = 'pass' | 'warn' | 'fail';

export interface Bilingual {
  zh: string;
  en: string;
}

export interface Finding {
  /** Stable machine-readable code, e.g. 'QC-DR-VIEW-MISSING' (docs/quality.md lists them all). */
  code: string;
  severity: Severity;
  message: Bilingual;
  /** SOPInstanceUIDs concerned, at most MAX_FINDING_INSTANCES (the message gives the full count). */
  instances?: string[];
  /** Catalog requirement codes (e.g. 'ZJ-REQ-09') that made this finding a 'fail'. */
  basis?: string[];
}

/** A data set as dcmjs naturalizes DICOM JSON: keywords as keys, scalars or arrays as values. */
export type Dataset = Record<string, unknown>;

export interface QualitySeries {
  seriesInstanceUid: string;
  modality: string | null;
  description: string | null;
  /** Indexed instances of the series, naturalized (no bulk data; PixelData is { BulkDataURI }). */
  instances: Dataset[];
}

/** What the store and index know about an instance beyond its metadata (from the instance row). */
export interface StoredInstance {
  seriesInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  status: 'received' | 'indexed';
  /**
   * Frames located by the index (core/dicom/read-instance.ts FrameIndex): their number, or
   * null when they could not be located by byte range (deflated file, undelimited fragments).
   */
  frameCount: number | null;
  /** Why the index could not read the stored object, if it could not. */
  indexError?: string | null;
}

export type ReportSource = 'dicom_sr' | 'encapsulated_pdf' | 'api';

export interface QualityReport {
  source: ReportSource;
  author?: string;
  /** ISO 8601 date-time of sign-off (SR: VerificationDateTime of a VERIFIED report). */
  signedAt?: string;
  /** SR: CompletionFlag is COMPLETE; false for PARTIAL (preliminary); undefined when not stated. */
  complete?: boolean;
  /** The SR / Encapsulated PDF instance, or the API report's id. */
  ref?: string;
}

/** A catalog item the study is mapped to, with the catalog it belongs to (for requirement severity). */
export type MappedItem = CatalogItem & { catalogId: string };

export interface QualityInput {
  /** Study-level attributes (Patient and General Study modules, InstitutionName), naturalized. */
  study: Dataset;
  series: QualitySeries[];
  /** Items of study_item resolved in their catalogs; empty while the study is not classified. */
  mappedItems: MappedItem[];
  reports: QualityReport[];
  /** Storage/index facts by SOPInstanceUID, including instances that could not be indexed. */
  stored?: Record<string, StoredInstance>;
  /** Reference time for plausibility (dates in the future); default: now. */
  now?: Date;
}

export interface QualityAssessment {
  result: QualityResult;
  findings: Finding[];
}

export type Check = (input: QualityInput) => Finding[];

/** Instance lists in findings are capped so that one finding on a 3000-slice CT stays small. */
export const MAX_FINDING_INSTANCES = 100;
