import type { Knex } from 'knex';
import { pickAttributes, SERIES_LEVEL_TAGS, STUDY_LEVEL_TAGS } from '../dicom/levels';
import { dicomDate, firstString, personName, firstInt } from '../dicom/values';
import { applyRecognition, prepareRecognition, type IndexRecognitionSettings, type PreparedRecognition } from '../recognition/at-index';

export interface ParsedInstance {
  dicomJson: Record<string, unknown>;
  naturalized: Record<string, unknown>;
  frames: unknown;
  /** tag path → [offset, length] of values replaced by a BulkDataURI. */
  bulkdata?: Record<string, [number, number]>;
  /** The Part 10 file meta, from readInstance: its SourceApplicationEntityTitle attributes the sender. */
  header?: { sourceApplicationEntityTitle?: string };
}

export interface InstanceRow {
  sop_instance_uid: string;
  study_instance_uid: string;
  series_instance_uid: string;
  version: number;
  /** The institution of the credential that STOWed it (absent/null: platform credential, attribute by aliases). */
  received_from_institution?: string | null;
}

/** One stored instance version and what its object holds. */
export interface IndexItem {
  row: InstanceRow;
  parsed: ParsedInstance;
}

/** What one instance contributes to each level, computed before any statement runs. */
interface Prepared {
  row: InstanceRow;
  ds: Record<string, unknown>;
  patient: { patient_id: string; issuer_of_patient_id: string; patient_name: string | null; patient_birth_date: string | null; patient_sex: string | null };
  recognition: PreparedRecognition;
  parsed: ParsedInstance;
}

const STUDY_MERGE = [
  'patient_pk',
  'patient_id',
  'issuer_of_patient_id',
  'patient_name',
  'patient_birth_date',
  'patient_sex',
  'study_date',
  'study_time',
  'accession_number',
  'study_id',
  'study_description',
  'referring_physician_name',
  'institution_name',
  'attributes',
];
const SERIES_MERGE = [
  'study_instance_uid',
  'modality',
  'series_number',
  'series_description',
  'body_part_examined',
  'laterality',
  'performed_procedure_step_start_date',
  'performed_procedure_step_start_time',
  'attributes',
];

/** Indexes one instance in the caller's transaction: a group of one (upsertIndexedInstances). */
export function upsertIndexedInstance(trx: Knex.Transaction, row: InstanceRow, parsed: ParsedInstance, recognition: IndexRecognitionSettings): Promise<void> {
  return upsertIndexedInstances(trx, [{ row, parsed }], recognition);
}

/**
 * Indexes a group of instances: patients, studies, series, instances and the study/series
 * aggregates, inside the caller's transaction, with one statement per level rather than per
 * instance. Each patient, study and series is written once, with the values of its last
 * instance in `items` (what a sequence of single writes would have left). Rows are locked in
 * a fixed order — patients, studies, series (each sorted by key), then instances — so
 * concurrent groups (other worker processes) wait for each other rather than deadlock. The
 * study row locks are taken before the instance rows change and held to the commit, so
 * concurrent writers of a study queue on them and each recount sees the others' rows: the
 * aggregates stay exact.
 * `recognition` says how national IDs are read and protected (indexRecognitionSettings(config)).
 */
export async function upsertIndexedInstances(trx: Knex.Transaction, items: readonly IndexItem[], recognition: IndexRecognitionSettings): Promise<void> {
  if (items.length === 0) return;
  const prepared = items.map((item) => prepare(item, recognition));
  const patientKey = (p: { issuer_of_patient_id: string; patient_id: string }) => JSON.stringify([p.issuer_of_patient_id, p.patient_id]);

  const patients: Array<{ id: number | string; issuer_of_patient_id: string; patient_id: string }> = await trx('patient')
    .insert(lastOfEach(prepared, (p) => patientKey(p.patient)).map((p) => ({ ...p.patient, updated_at: trx.fn.now() })))
    .onConflict(['issuer_of_patient_id', 'patient_id'])
    .merge(['patient_name', 'patient_birth_date', 'patient_sex', 'updated_at'])
    .returning(['id', 'issuer_of_patient_id', 'patient_id']);
  const pks = new Map(patients.map((r) => [patientKey(r), r.id]));
  const patientPk = (p: Prepared) => pks.get(patientKey(p.patient))!;

  const studies = lastOfEach(prepared, (p) => p.row.study_instance_uid);
  await trx('study')
    .insert(studies.map((p) => studyValues(p, patientPk(p))))
    .onConflict('study_instance_uid')
    .merge(STUDY_MERGE);
  for (const p of recognitionCalls(prepared)) {
    await applyRecognition(trx, recognition, p.recognition, {
      studyInstanceUid: p.row.study_instance_uid,
      patientPk: patientPk(p),
      patientSex: p.patient.patient_sex,
      patientBirthDate: p.patient.patient_birth_date,
    });
  }

  const series = lastOfEach(prepared, (p) => p.row.series_instance_uid);
  await trx('series').insert(series.map(seriesValues)).onConflict('series_instance_uid').merge(SERIES_MERGE);

  // One statement for all instances, in UID order as STOW locks them (core/ingest/record.ts); the
  // version guard leaves an instance alone that a newer STOW replaced since its job read it (the
  // newer version has its own job).
  await trx.raw(
    `UPDATE instance AS i SET status = 'indexed', instance_number = v.instance_number, number_of_frames = v.number_of_frames,
       metadata = v.metadata, frames = v.frames, bulkdata = v.bulkdata, index_error = NULL, indexed_at = now()
     FROM jsonb_to_recordset(?::jsonb) AS v(sop_instance_uid text, version int, instance_number int, number_of_frames int, metadata jsonb, frames jsonb, bulkdata jsonb)
     WHERE i.sop_instance_uid = v.sop_instance_uid AND i.version = v.version`,
    [JSON.stringify(lastOfEach(prepared, (p) => `${p.row.sop_instance_uid} ${p.row.version}`).map(instanceValues))],
  );

  await trx('series')
    .whereIn(
      'series_instance_uid',
      series.map((p) => p.row.series_instance_uid),
    )
    .update({
      number_of_series_related_instances: trx.raw(
        `(SELECT count(*) FROM instance i WHERE i.series_instance_uid = series.series_instance_uid AND i.status = 'indexed')`,
      ),
      updated_at: trx.fn.now(),
    });
  await trx('study')
    .whereIn(
      'study_instance_uid',
      studies.map((p) => p.row.study_instance_uid),
    )
    .update({
      number_of_study_related_series: trx.raw('(SELECT count(*) FROM series s WHERE s.study_instance_uid = study.study_instance_uid)'),
      number_of_study_related_instances: trx.raw(
        `(SELECT count(*) FROM instance i WHERE i.study_instance_uid = study.study_instance_uid AND i.status = 'indexed')`,
      ),
      modalities_in_study: trx.raw(
        `(SELECT coalesce(array_agg(DISTINCT modality ORDER BY modality), '{}') FROM series s WHERE s.study_instance_uid = study.study_instance_uid AND modality IS NOT NULL)`,
      ),
      last_instance_at: trx.fn.now(),
      stable_at: null,
      updated_at: trx.fn.now(),
    });
}

function prepare({ row, parsed }: IndexItem, settings: IndexRecognitionSettings): Prepared {
  const ds = parsed.naturalized;
  const issuer = firstString(ds.IssuerOfPatientID) ?? '';
  // The stored JSON leaves the national ID out; the patient's own PatientID/Issuer stay as sent.
  const recognition = prepareRecognition(
    {
      dicomJson: parsed.dicomJson,
      institutionName: firstString(ds.InstitutionName),
      issuerOfPatientId: issuer,
      sourceAeTitle: parsed.header?.sourceApplicationEntityTitle,
      receivedFrom: row.received_from_institution ?? null,
    },
    settings,
  );
  const patient = {
    patient_id: firstString(ds.PatientID) ?? '',
    issuer_of_patient_id: issuer,
    patient_name: personName(ds.PatientName),
    patient_birth_date: firstString(ds.PatientBirthDate) ?? null,
    patient_sex: firstString(ds.PatientSex) ?? null,
  };
  return { row, ds, patient, recognition, parsed };
}

/** The last item of each key, sorted by key (the lock order). */
function lastOfEach(items: readonly Prepared[], key: (p: Prepared) => string): Prepared[] {
  const last = new Map(items.map((p) => [key(p), p]));
  return [...last.keys()].sort().map((k) => last.get(k)!);
}

/**
 * The applyRecognition calls that leave the same result as one per instance in order: its
 * writes are last-writer-wins per field, so of identical inputs only the last one counts.
 * Instances of a study carry the same sender and patient, so this is one call per study.
 */
function recognitionCalls(prepared: readonly Prepared[]): Prepared[] {
  const byStudy = new Map<string, Map<string, Prepared>>();
  for (const p of prepared) {
    const study = p.row.study_instance_uid;
    const calls = byStudy.get(study) ?? byStudy.set(study, new Map()).get(study)!;
    const { sender, nationalId, receivedFrom } = p.recognition;
    const key = JSON.stringify([sender, nationalId, receivedFrom, p.patient]);
    // Re-inserted, so the map keeps the order of last occurrences.
    calls.delete(key);
    calls.set(key, p);
  }
  return [...byStudy.keys()].sort().flatMap((study) => [...byStudy.get(study)!.values()]);
}

function studyValues({ row, ds, patient, recognition }: Prepared, patientPk: number | string) {
  const { patient_id, issuer_of_patient_id, ...patientFields } = patient;
  return {
    study_instance_uid: row.study_instance_uid,
    patient_pk: patientPk,
    patient_id,
    issuer_of_patient_id,
    ...patientFields,
    study_date: dicomDate(ds.StudyDate),
    study_time: firstString(ds.StudyTime) ?? null,
    accession_number: firstString(ds.AccessionNumber) ?? null,
    study_id: firstString(ds.StudyID) ?? null,
    study_description: firstString(ds.StudyDescription) ?? null,
    referring_physician_name: personName(ds.ReferringPhysicianName),
    institution_name: firstString(ds.InstitutionName) ?? null,
    attributes: pickAttributes(recognition.dicomJson, STUDY_LEVEL_TAGS),
  };
}

function seriesValues({ row, ds, recognition }: Prepared) {
  return {
    series_instance_uid: row.series_instance_uid,
    study_instance_uid: row.study_instance_uid,
    modality: firstString(ds.Modality) ?? null,
    series_number: firstInt(ds.SeriesNumber),
    series_description: firstString(ds.SeriesDescription) ?? null,
    body_part_examined: firstString(ds.BodyPartExamined) ?? null,
    laterality: firstString(ds.Laterality) ?? null,
    performed_procedure_step_start_date: dicomDate(ds.PerformedProcedureStepStartDate),
    performed_procedure_step_start_time: firstString(ds.PerformedProcedureStepStartTime) ?? null,
    attributes: pickAttributes(recognition.dicomJson, SERIES_LEVEL_TAGS),
  };
}

function instanceValues({ row, ds, recognition, parsed }: Prepared) {
  return {
    sop_instance_uid: row.sop_instance_uid,
    version: row.version,
    instance_number: firstInt(ds.InstanceNumber),
    number_of_frames: firstInt(ds.NumberOfFrames) ?? 1,
    metadata: recognition.dicomJson,
    frames: parsed.frames ?? null,
    bulkdata: parsed.bulkdata ?? {},
  };
}
