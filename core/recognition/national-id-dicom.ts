/**
 * Where a 居民身份证号 sits in an instance, and keeping it out of the stored metadata.
 * Senders put it in OtherPatientIDsSequence (0010,1002) as an item whose IssuerOfPatientID
 * names the resident ID register (IHE PIX/IRWF style: the sender's own PatientID stays the
 * primary identifier). Which issuer values count is configured (HUREN_NATIONAL_ID_ISSUER)
 * on top of the common spellings below.
 */
import { normalizeNationalId } from './national-id';

/** Issuer values PACS in China use for the resident ID register, compared case-insensitively. */
export const COMMON_NATIONAL_ID_ISSUERS = ['RESIDENT_ID', '居民身份证', '居民身份证号', '居民身份证号码', '身份证', '身份证号', '身份证号码'];

const OTHER_PATIENT_IDS_SEQUENCE = '00101002';
const OTHER_PATIENT_IDS = '00101000'; // retired, multi-valued LO without issuers; some PACS still copy the number there
const PATIENT_ID = '00100020';
const ISSUER_OF_PATIENT_ID = '00100021';

type Json = Record<string, { vr?: string; Value?: unknown[] } | undefined>;

const issuerKey = (issuer: string) => issuer.normalize('NFKC').replace(/\s+/gu, '').toUpperCase();

/** The configured issuer list (comma-separated) plus the common spellings, in comparable form. */
export function nationalIdIssuers(configured: string): ReadonlySet<string> {
  return new Set([...configured.split(','), ...COMMON_NATIONAL_ID_ISSUERS].map(issuerKey).filter(Boolean));
}

const first = (el: { Value?: unknown[] } | undefined): string | undefined => {
  const v = el?.Value?.[0];
  return typeof v === 'string' && v.trim() ? v.trim() : undefined;
};

function isNationalIdItem(item: Json, issuers: ReadonlySet<string>): boolean {
  const issuer = first(item[ISSUER_OF_PATIENT_ID]);
  return issuer !== undefined && issuers.has(issuerKey(issuer)) && first(item[PATIENT_ID]) !== undefined;
}

/**
 * The number the instance carries: an OtherPatientIDsSequence item of a national-ID issuer,
 * else the primary PatientID when its own issuer is one (some hospitals use the resident ID
 * as their patient number).
 */
export function nationalIdInDataset(dicomJson: Record<string, unknown>, issuers: ReadonlySet<string>): string | undefined {
  const json = dicomJson as Json;
  const items = (json[OTHER_PATIENT_IDS_SEQUENCE]?.Value ?? []) as Json[];
  const item = items.find((i) => isNationalIdItem(i, issuers));
  if (item) return first(item[PATIENT_ID]);
  return isNationalIdItem(json, issuers) ? first(json[PATIENT_ID]) : undefined;
}

/**
 * The DICOM JSON to store (instance metadata, study attributes): without national-ID items in
 * OtherPatientIDsSequence, nor the same number among the retired OtherPatientIDs values.
 * The Part 10 object in storage keeps them byte for byte (WADO-RS returns what was sent).
 */
export function withoutNationalIds(dicomJson: Record<string, unknown>, issuers: ReadonlySet<string>): Record<string, unknown> {
  const json = dicomJson as Json;
  const items = (json[OTHER_PATIENT_IDS_SEQUENCE]?.Value ?? []) as Json[];
  const removed = items.filter((i) => isNationalIdItem(i, issuers));
  if (removed.length === 0) return dicomJson;

  const out: Record<string, unknown> = { ...dicomJson };
  const kept = items.filter((i) => !removed.includes(i));
  if (kept.length) out[OTHER_PATIENT_IDS_SEQUENCE] = { ...json[OTHER_PATIENT_IDS_SEQUENCE], Value: kept };
  else delete out[OTHER_PATIENT_IDS_SEQUENCE];

  const numbers = new Set(removed.map((i) => normalizeNationalId(first(i[PATIENT_ID])!)));
  const others = json[OTHER_PATIENT_IDS];
  if (others?.Value) {
    const values = others.Value.filter((v) => !(typeof v === 'string' && numbers.has(normalizeNationalId(v))));
    if (values.length) out[OTHER_PATIENT_IDS] = { ...others, Value: values };
    else out[OTHER_PATIENT_IDS] = { vr: others.vr ?? 'LO' };
  }
  return out;
}
