import { MAX_FINDING_INSTANCES, type Dataset, type QualityInput, type QualitySeries } from './types';

/**
 * Readers for naturalized values (scalars or arrays depending on VM, PN as { Alphabetic, … }),
 * SOP class families, and the date helpers the checks share.
 */

const firstOf = (v: unknown): unknown => (Array.isArray(v) ? v[0] : v);

function asText(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  if (typeof v === 'object' && !(v instanceof String)) {
    const pn = v as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
    const parts = [pn.Alphabetic, pn.Ideographic, pn.Phonetic].filter((p): p is string => typeof p === 'string' && p.trim() !== '');
    return parts.length ? parts.join('=') : undefined;
  }
  const s = String(v).trim();
  return s === '' ? undefined : s;
}

/** First value as trimmed text (PN groups joined by '='), or undefined when absent/empty. */
export function str(ds: Dataset | undefined, key: string): string | undefined {
  return ds ? asText(firstOf(ds[key])) : undefined;
}

/** Every value as trimmed text, empty ones dropped. */
export function strs(ds: Dataset | undefined, key: string): string[] {
  const v = ds?.[key];
  const list = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return list.map(asText).filter((s): s is string => s !== undefined);
}

/** Every numeric value (numbers, or DS/IS strings that parse), NaN dropped. */
export function nums(ds: Dataset | undefined, key: string): number[] {
  const v = ds?.[key];
  const list = Array.isArray(v) ? v : v === undefined || v === null ? [] : [v];
  return list.map((x) => (typeof x === 'number' ? x : typeof x === 'string' && x.trim() !== '' ? Number(x) : NaN)).filter((n) => Number.isFinite(n));
}

export function num(ds: Dataset | undefined, key: string): number | undefined {
  return nums(ds, key)[0];
}

/** True when the attribute is present with a value (a sequence with at least one item). */
export function has(ds: Dataset | undefined, key: string): boolean {
  const v = ds?.[key];
  if (Array.isArray(v)) return v.some((x) => asText(x) !== undefined || (typeof x === 'object' && x !== null));
  if (v && typeof v === 'object' && 'BulkDataURI' in v) return true;
  return asText(v) !== undefined;
}

/** Items of a sequence attribute. */
export function items(ds: Dataset | undefined, key: string): Dataset[] {
  const v = ds?.[key];
  return Array.isArray(v) ? v.filter((x): x is Dataset => typeof x === 'object' && x !== null) : [];
}

export const sopUid = (ds: Dataset): string => str(ds, 'SOPInstanceUID') ?? '';

/** Instance UID list for a finding, capped (the message carries the full count). */
export const uidList = (datasets: Dataset[]): string[] => datasets.map(sopUid).filter(Boolean).slice(0, MAX_FINDING_INSTANCES);

/** Upper-cased descriptive text of a series/instance for keyword matching. */
export function descriptiveText(series: QualitySeries | undefined, ds: Dataset | undefined, keys: string[] = DESCRIPTIVE_KEYS): string {
  const parts = [series?.description ?? '', ...keys.flatMap((k) => strs(ds, k))];
  // Underscores join words in protocol names (t2_tse_sag); as spaces, \b finds the words.
  return parts.join(' | ').replace(/_/g, ' ').toUpperCase();
}
const DESCRIPTIVE_KEYS = ['SeriesDescription', 'ProtocolName', 'SequenceName', 'AcquisitionDeviceProcessingDescription', 'ImageComments'];

// ---------------------------------------------------------------------------------------------
// SOP classes

const STORAGE = '1.2.840.10008.5.1.4.1.1.';

/** SR classes that hold diagnostic reports (Basic Text, Enhanced, Comprehensive, Comprehensive 3D, Extensible). */
export const REPORT_SR_CLASSES = new Set(['88.11', '88.22', '88.33', '88.34', '88.35'].map((s) => STORAGE + s));
export const ENCAPSULATED_PDF = `${STORAGE}104.1`;
export const SECONDARY_CAPTURE_CLASSES = new Set(['7', '7.1', '7.2', '7.3', '7.4'].map((s) => STORAGE + s));

/** Storage classes without pixel data of their own (SR family, documents, presentation states, raw data, RT non-image, waveforms). */
const NON_IMAGE_PREFIXES = ['88.', '104.', '11.', '66', '9.', '481.2', '481.3', '481.4', '481.5', '481.6', '481.7', '481.8', '481.9', '4.2'].map(
  (p) => STORAGE + p,
);

/** Single-frame CT and MR Image Storage: the Image Plane module is at the top level (enhanced IODs use functional groups). */
export const CT_IMAGE = `${STORAGE}2`;
export const MR_IMAGE = `${STORAGE}4`;

export function sopClassOf(ds: Dataset): string {
  return str(ds, 'SOPClassUID') ?? '';
}

export function isImage(ds: Dataset): boolean {
  const cls = sopClassOf(ds);
  if (NON_IMAGE_PREFIXES.some((p) => cls === p || cls.startsWith(p))) return false;
  return cls.startsWith(STORAGE) || has(ds, 'Rows') || has(ds, 'PixelData');
}

export const isSecondaryCapture = (ds: Dataset): boolean => SECONDARY_CAPTURE_CLASSES.has(sopClassOf(ds));

/** Localizer / scout / topogram images: excluded from slice and coverage checks. */
export function isLocalizer(series: QualitySeries | undefined, ds: Dataset): boolean {
  if (strs(ds, 'ImageType').some((t) => t.toUpperCase() === 'LOCALIZER')) return true;
  return /TOPO|SCOUT|SURVIEW|SCANO|LOCALI[ZS]ER|SURVEY|定位/.test(descriptiveText(series, ds, ['SeriesDescription', 'ProtocolName']));
}

/** Modality groups as the catalogs use them. */
export type ModalityGroup = 'DR' | 'MG' | 'CT' | 'MR' | 'other';
export function modalityGroup(modality: string | null | undefined): ModalityGroup {
  switch ((modality ?? '').toUpperCase()) {
    case 'CR':
    case 'DX':
    case 'DR':
    case 'RG':
      return 'DR';
    case 'MG':
      return 'MG';
    case 'CT':
      return 'CT';
    case 'MR':
      return 'MR';
    default:
      return 'other';
  }
}

export const seriesModality = (s: QualitySeries): string | undefined => s.modality ?? (s.instances[0] ? str(s.instances[0], 'Modality') : undefined);

/** The image instances of the study with their series, for checks that walk images. */
export function imagesOf(input: QualityInput, group?: ModalityGroup): Array<{ series: QualitySeries; ds: Dataset }> {
  return input.series
    .filter((s) => !group || modalityGroup(seriesModality(s)) === group)
    .flatMap((series) => series.instances.filter(isImage).map((ds) => ({ series, ds })));
}

// ---------------------------------------------------------------------------------------------
// Dates

/** DA (YYYYMMDD, or the old YYYY.MM.DD) → Date at 00:00 UTC, or null when absent or not a real date. */
export function parseDa(value: string | undefined): Date | null {
  const m = value && /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(value.trim());
  if (!m) return null;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]) ? d : null;
}

/** TM (HH, HHMM, HHMMSS, HHMMSS.FFFFFF, or HH:MM:SS) is valid. */
export function isValidTm(value: string): boolean {
  const m = /^(\d{2})(?::?(\d{2})(?::?(\d{2})(\.\d{1,6})?)?)?$/.exec(value.trim());
  return !!m && Number(m[1]) < 24 && (m[2] === undefined || Number(m[2]) < 60) && (m[3] === undefined || Number(m[3]) < 61);
}

/**
 * DT (YYYYMMDDHHMMSS.FFFFFF&ZZXX, any precision from the year) → ISO 8601, or undefined.
 * Without an offset the time is taken as China Standard Time (+08:00), as Chinese PACS write it.
 */
export function dtToIso(value: string | undefined): string | undefined {
  const m = value && /^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\.\d{1,6})?([+-]\d{4})?$/.exec(value.trim());
  if (!m) return undefined;
  const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', , tz] = m;
  const offset = tz ? `${tz.slice(0, 3)}:${tz.slice(3)}` : '+08:00';
  const iso = `${y}-${mo}-${d}T${h}:${mi}:${s}${offset}`;
  return Number.isNaN(Date.parse(iso)) ? undefined : iso;
}

export const DAY_MS = 86_400_000;
