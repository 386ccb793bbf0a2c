import type { Knex } from 'knex';
import { crosswalk } from '../../catalogs/crosswalk';
import { findItem } from '../../catalogs';
import { isWithinValidity, validUntil } from '../../catalogs/validity';
import { badRequest } from '../../core/errors';
import { evaluateEligibility, type Outcome } from '../../core/recognition/eligibility';
import { loadInstitutionFacts, loadStudyFacts } from '../../core/recognition/facts';

/**
 * huren's recognition extension of QIDO-RS /studies (documented in the README):
 *   recognitionCode=<item code>  studies mapped to that catalog item
 *   validAt=<YYYYMMDD>          …whose exam is within that item's catalog window on that day (Asia/Shanghai)
 *   recognizableFor=<institution> …that the institution may recognise for that item (recognizable or 酌情)
 * and, on every study result, a private attribute block a standard DICOMweb client still parses:
 *   (0011,0010) LO private creator "HUREN RECOGNITION 1"
 *   (0011,1010) LO mapped items, "catalogId:code" (one value each)
 *   (0011,1011) CS eligibility for recognizableFor (RECOGNIZABLE, DISCRETIONARY)
 *   (0011,1012) DT end of the validity window for recognitionCode (Asia/Shanghai)
 *   (0011,1013) CS quality result (PASS, WARN, FAIL)
 *   (0011,1014) UR the study's classifications as JSON (/recognition/studies/{uid}/classification)
 */
export const PRIVATE_CREATOR = 'HUREN RECOGNITION 1';

export interface RecognitionQuery {
  code: string;
  validAt?: Date;
  recognizableFor?: string;
}

const PARAMS = ['recognitioncode', 'validat', 'recognizablefor'];

/** Splits the extension parameters off a QIDO query; null when none is given. */
export function takeRecognitionParams(query: Record<string, unknown>): { recognition: RecognitionQuery | null; rest: Record<string, unknown> } {
  const rest: Record<string, unknown> = {};
  const given: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    if (!PARAMS.includes(name.toLowerCase())) {
      rest[name] = value;
      continue;
    }
    if (typeof value !== 'string' || !value.trim()) throw badRequest('invalid_query_parameter', `${name} takes one non-empty value`, { parameter: name });
    given[name.toLowerCase()] = value.trim();
  }
  if (Object.keys(given).length === 0) return { recognition: null, rest };
  const code = given.recognitioncode;
  if (!code)
    throw badRequest('invalid_query_parameter', 'validAt and recognizableFor need recognitionCode (the item they are about)', { parameter: 'recognitionCode' });
  if (!findItem(code)) throw badRequest('unknown_item', `No catalog item ${code.slice(0, 40)}`, { parameter: 'recognitionCode' });
  const recognition: RecognitionQuery = { code };
  if (given.validat) recognition.validAt = shanghaiNoon(given.validat);
  if (given.recognizablefor) recognition.recognizableFor = given.recognizablefor;
  return { recognition, rest };
}

/** A DA day as an instant inside that day in Asia/Shanghai (windows are whole days there). */
function shanghaiNoon(da: string): Date {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(da);
  const d = m && new Date(`${m[1]}-${m[2]}-${m[3]}T12:00:00+08:00`);
  if (!d || Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== `${m![1]}-${m![2]}-${m![3]}`) {
    throw badRequest('invalid_query_parameter', `validAt must be a date YYYYMMDD, not ${da.slice(0, 20)}`, { parameter: 'validAt' });
  }
  return d;
}

/** The item codes a study may be mapped to for this query: the code, plus its equivalents when eligibility (crosswalk) decides. */
export function candidateCodes(r: RecognitionQuery): string[] {
  return r.recognizableFor ? [r.code, ...crosswalk().equivalents(r.code)] : [r.code];
}

export function whereMappedTo(sql: Knex.QueryBuilder, db: Knex, codes: string[]): void {
  sql.whereExists(db('study_item').whereRaw('study_item.study_instance_uid = study.study_instance_uid').whereIn('study_item.item_code', codes));
}

export interface StudyRecognition {
  items: string[];
  quality: string | null;
  validUntil?: Date | null;
  outcome?: Outcome;
}

/**
 * Per study: its mapped items and quality, and for a recognition query the validity and
 * eligibility verdicts; studies the query excludes (expired, not recognizable) are left out.
 */
export async function recognitionOf(db: Knex, studyUids: string[], r: RecognitionQuery | null): Promise<Map<string, StudyRecognition>> {
  const facts = await loadStudyFacts(db, studyUids);
  const catalogOfCode = r ? findItem(r.code)!.catalog : undefined;
  const receiver = r?.recognizableFor ? (await loadInstitutionFacts(db, [r.recognizableFor])).get(r.recognizableFor) : undefined;
  if (r?.recognizableFor && !receiver)
    throw badRequest('unknown_institution', `未找到机构 ${r.recognizableFor} / No institution ${r.recognizableFor}`, { parameter: 'recognizableFor' });
  const at = r?.validAt ?? new Date();
  const out = new Map<string, StudyRecognition>();
  for (const study of facts) {
    const entry: StudyRecognition = { items: study.items.map((i) => `${i.catalogId}:${i.code}`), quality: study.quality };
    if (r && catalogOfCode) {
      const when = study.studyDate ? { date: study.studyDate, time: study.studyTime ?? undefined } : null;
      entry.validUntil = when ? validUntil(when, catalogOfCode.validity) : null;
      if (r.validAt && (!when || !isWithinValidity(when, catalogOfCode.validity, r.validAt))) continue;
      if (receiver) {
        const e = evaluateEligibility({ study, receiver, orderedItemCode: r.code, at });
        if (e.outcome === 'not_recognizable') continue;
        entry.outcome = e.outcome;
        entry.validUntil = e.validUntil;
      }
    }
    out.set(study.studyInstanceUid, entry);
  }
  return out;
}

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

/** The private attribute block of one study result. */
export function recognitionAttributes(rec: StudyRecognition, classificationUrl: string): DicomJson {
  const block: DicomJson = { '00110010': { vr: 'LO', Value: [PRIVATE_CREATOR] } };
  block['00111010'] = rec.items.length ? { vr: 'LO', Value: rec.items } : { vr: 'LO' };
  if (rec.outcome) block['00111011'] = { vr: 'CS', Value: [rec.outcome.toUpperCase()] };
  if (rec.validUntil) block['00111012'] = { vr: 'DT', Value: [shanghaiDateTime(rec.validUntil)] };
  block['00111013'] = rec.quality ? { vr: 'CS', Value: [rec.quality.toUpperCase()] } : { vr: 'CS' };
  block['00111014'] = { vr: 'UR', Value: [classificationUrl] };
  return block;
}

function shanghaiDateTime(d: Date): string {
  const local = new Date(d.getTime() + 8 * 3600_000).toISOString();
  return `${local.slice(0, 4)}${local.slice(5, 7)}${local.slice(8, 10)}${local.slice(11, 13)}${local.slice(14, 16)}${local.slice(17, 19)}+0800`;
}
