/**
 * Loads the facts evaluateEligibility (eligibility.ts) decides on, in batches: one query per
 * table for any number of institutions or studies, never one per row. The reminder service
 * (reminders.ts) evaluates every (ordered item × prior) of a patient from one load.
 */
import type { Knex } from 'knex';
import { ENCAPSULATED_PDF, REPORT_SR_CLASSES } from '../quality/dataset';
import type { InstitutionFacts, StudyFacts } from './eligibility';

/** InstitutionFacts with the name shown to doctors and written into the medical record. */
export interface InstitutionFactsWithName extends InstitutionFacts {
  name: string;
}

/** StudyFacts with what a reminder shows and a decision records besides the eligibility. */
export interface LoadedStudy extends StudyFacts {
  sender: InstitutionFactsWithName | null;
  patientPk: number | null;
  /** YYYY-MM-DD (Shanghai calendar date as sent), or null. */
  studyDateIso: string | null;
  accessionNumber: string | null;
  studyId: string | null;
  /** InstitutionName as the sender wrote it (when it could not be attributed, the only name there is). */
  institutionNameAsSent: string | null;
  modalities: string[];
}

/**
 * The SOP classes that carry a diagnostic report inside the study: the SR classes the quality
 * checks count as reports (Basic Text, Enhanced, Comprehensive, Comprehensive 3D, Extensible)
 * and Encapsulated PDF. Not every SR is a report: Key Object Selection, dose and CAD SRs are
 * not, and a CT study's dose SR must not make it look reported.
 */
export const REPORT_SOP_CLASSES: readonly string[] = [...REPORT_SR_CLASSES, ENCAPSULATED_PDF];

/** Institutions by code (unknown codes are simply absent): 3 queries whatever the number of codes. */
export async function loadInstitutionFacts(db: Knex, codes: readonly string[]): Promise<Map<string, InstitutionFactsWithName>> {
  const wanted = [...new Set(codes)];
  const out = new Map<string, InstitutionFactsWithName>();
  if (wanted.length === 0) return out;
  const [rows, groups, accreditations] = await Promise.all([
    db('institution').whereIn('code', wanted).select('code', 'name', 'region', 'level', 'kind', 'is_public'),
    db('institution_group_member').whereIn('institution_code', wanted).orderBy('group_code').select('institution_code', 'group_code'),
    db('institution_accreditation')
      .whereIn('institution_code', wanted)
      .orderBy('id')
      // to_char: node-postgres would turn a date into a local-midnight Date and shift it.
      .select(
        'institution_code',
        'catalog_id',
        'modality',
        db.raw("to_char(valid_from, 'YYYY-MM-DD') AS valid_from"),
        db.raw("to_char(valid_until, 'YYYY-MM-DD') AS valid_until"),
      ),
  ]);
  for (const r of rows) {
    out.set(r.code, { code: r.code, name: r.name, region: r.region, level: r.level, kind: r.kind, isPublic: r.is_public, groups: [], accreditations: [] });
  }
  for (const g of groups) out.get(g.institution_code)?.groups.push(g.group_code);
  for (const a of accreditations) {
    out.get(a.institution_code)?.accreditations.push({ catalogId: a.catalog_id, modality: a.modality, validFrom: a.valid_from, validUntil: a.valid_until });
  }
  return out;
}

/** The studies with these UIDs (unknown UIDs are absent), in no particular order. */
export async function loadStudyFacts(db: Knex, studyUids: readonly string[]): Promise<LoadedStudy[]> {
  const uids = [...new Set(studyUids)];
  if (uids.length === 0) return [];
  return loadStudies(db, (q) => q.whereIn('s.study_instance_uid', uids));
}

/**
 * The studies of these patients dated on or after `sinceDate` (YYYY-MM-DD), newest first:
 * what a reminder evaluates. Studies without a date are left out (they are never recognizable).
 */
export async function loadRecentStudyFacts(db: Knex, patientPks: readonly number[], sinceDate: string): Promise<LoadedStudy[]> {
  const pks = [...new Set(patientPks)];
  if (pks.length === 0) return [];
  return loadStudies(db, (q) => q.whereIn('s.patient_pk', pks).where('s.study_date', '>=', sinceDate));
}

async function loadStudies(db: Knex, scope: (q: Knex.QueryBuilder) => void): Promise<LoadedStudy[]> {
  const studies = db('study as s')
    .leftJoin('study_quality as q', 'q.study_instance_uid', 's.study_instance_uid')
    .select(
      's.study_instance_uid',
      's.patient_pk',
      db.raw("to_char(s.study_date, 'YYYYMMDD') AS study_date"),
      's.study_time',
      's.accession_number',
      's.study_id',
      's.institution_name',
      's.modalities_in_study',
      's.sending_institution_code',
      'q.result as quality',
      // A report attached through the API, or one inside the study (SR report, Encapsulated PDF).
      db.raw(
        `(EXISTS (SELECT 1 FROM study_report r WHERE r.study_instance_uid = s.study_instance_uid)
          OR EXISTS (SELECT 1 FROM instance i WHERE i.study_instance_uid = s.study_instance_uid AND i.sop_class_uid = ANY(?::text[]))) AS has_report`,
        [[...REPORT_SOP_CLASSES]],
      ),
    )
    .orderBy([
      { column: 's.study_date', order: 'desc', nulls: 'last' },
      { column: 's.study_time', order: 'desc', nulls: 'last' },
      { column: 's.study_instance_uid', order: 'asc' },
    ]);
  scope(studies);
  const rows: StudyRow[] = await studies;
  if (rows.length === 0) return [];

  const uids = rows.map((r) => r.study_instance_uid);
  const [items, senders] = await Promise.all([
    db('study_item')
      .whereIn('study_instance_uid', uids)
      .orderBy(['study_instance_uid', 'catalog_id', 'item_code'])
      .select('study_instance_uid', 'catalog_id', 'item_code'),
    loadInstitutionFacts(
      db,
      rows.flatMap((r) => (r.sending_institution_code ? [r.sending_institution_code] : [])),
    ),
  ]);
  const itemsOf = new Map<string, StudyFacts['items']>();
  for (const i of items) {
    const list = itemsOf.get(i.study_instance_uid) ?? [];
    list.push({ catalogId: i.catalog_id, code: i.item_code });
    itemsOf.set(i.study_instance_uid, list);
  }
  return rows.map((r) => ({
    studyInstanceUid: r.study_instance_uid,
    studyDate: r.study_date,
    studyTime: dicomTime(r.study_time),
    sender: (r.sending_institution_code && senders.get(r.sending_institution_code)) || null,
    items: itemsOf.get(r.study_instance_uid) ?? [],
    quality: r.quality,
    hasReport: r.has_report,
    patientPk: r.patient_pk === null ? null : Number(r.patient_pk),
    studyDateIso: r.study_date ? `${r.study_date.slice(0, 4)}-${r.study_date.slice(4, 6)}-${r.study_date.slice(6, 8)}` : null,
    accessionNumber: r.accession_number || null,
    studyId: r.study_id || null,
    institutionNameAsSent: r.institution_name || null,
    modalities: r.modalities_in_study ?? [],
  }));
}

// DICOM TM (HH[MM[SS[.F]]]); validity.ts refuses anything else, so a malformed StudyTime as
// some PACS send it ('10:15:00') is dropped: the window counts calendar days anyway.
const TM = /^([01]\d|2[0-3])([0-5]\d([0-5]\d(\.\d{1,6})?)?)?$/;
const dicomTime = (value: string | null): string | null => (value && TM.test(value.trim()) ? value.trim() : null);

interface StudyRow {
  study_instance_uid: string;
  patient_pk: string | number | null;
  study_date: string | null;
  study_time: string | null;
  accession_number: string | null;
  study_id: string | null;
  institution_name: string | null;
  modalities_in_study: string[] | null;
  sending_institution_code: string | null;
  quality: StudyFacts['quality'];
  has_report: boolean;
}
