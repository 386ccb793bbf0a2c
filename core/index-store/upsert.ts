import type { Knex } from 'knex';
import { pickAttributes, SERIES_LEVEL_TAGS, STUDY_LEVEL_TAGS } from '../dicom/levels';
import { dicomDate, firstString, personName, firstInt } from '../dicom/values';
import { applyRecognition, prepareRecognition, type IndexRecognitionSettings } from '../recognition/at-index';

export interface ParsedInstance {
  dicomJson: Record<string, unknown>;
  naturalized: Record<string, unknown>;
  frames: unknown;
  /** tag path → [offset, length] of values replaced by a BulkDataURI. */
  bulkdata?: Record<string, [number, number]>;
  /** The Part 10 file meta, from readInstance: its SourceApplicationEntityTitle attributes the sender. */
  header?: { sourceApplicationEntityTitle?: string };
}

interface InstanceRow {
  sop_instance_uid: string;
  study_instance_uid: string;
  series_instance_uid: string;
  version: number;
  /** The institution of the credential that STOWed it (absent/null: platform credential, attribute by aliases). */
  received_from_institution?: string | null;
}

/**
 * Indexes one instance: patient, study, series, instance and the study/series aggregates,
 * inside the caller's transaction. The study row is upserted first: its row lock
 * serialises concurrent jobs of the same study, so each recount sees the others' rows
 * and the aggregates stay exact; the fixed lock order (study, series, instance) avoids
 * deadlocks.
 * `recognition` says how national IDs are read and protected (indexRecognitionSettings(config)).
 */
export async function upsertIndexedInstance(
  trx: Knex.Transaction,
  row: InstanceRow,
  parsed: ParsedInstance,
  recognitionSettings: IndexRecognitionSettings,
): Promise<void> {
  const ds = parsed.naturalized;
  const studyUid = row.study_instance_uid;
  const seriesUid = row.series_instance_uid;
  const patientId = firstString(ds.PatientID) ?? '';
  const issuer = firstString(ds.IssuerOfPatientID) ?? '';
  const patientFields = {
    patient_name: personName(ds.PatientName),
    patient_birth_date: firstString(ds.PatientBirthDate) ?? null,
    patient_sex: firstString(ds.PatientSex) ?? null,
  };
  // The stored JSON leaves the national ID out; the patient's own PatientID/Issuer stay as sent.
  const recognition = prepareRecognition(
    {
      dicomJson: parsed.dicomJson,
      institutionName: firstString(ds.InstitutionName),
      issuerOfPatientId: issuer,
      sourceAeTitle: parsed.header?.sourceApplicationEntityTitle,
      receivedFrom: row.received_from_institution ?? null,
    },
    recognitionSettings,
  );
  const dicomJson = recognition.dicomJson;

  const [patient] = await trx('patient')
    .insert({ patient_id: patientId, issuer_of_patient_id: issuer, ...patientFields })
    .onConflict(['issuer_of_patient_id', 'patient_id'])
    .merge({ ...patientFields, updated_at: trx.fn.now() })
    .returning('id');

  await trx('study')
    .insert({
      study_instance_uid: studyUid,
      patient_pk: patient.id,
      patient_id: patientId,
      issuer_of_patient_id: issuer,
      ...patientFields,
      study_date: dicomDate(ds.StudyDate),
      study_time: firstString(ds.StudyTime) ?? null,
      accession_number: firstString(ds.AccessionNumber) ?? null,
      study_id: firstString(ds.StudyID) ?? null,
      study_description: firstString(ds.StudyDescription) ?? null,
      referring_physician_name: personName(ds.ReferringPhysicianName),
      institution_name: firstString(ds.InstitutionName) ?? null,
      attributes: pickAttributes(dicomJson, STUDY_LEVEL_TAGS),
    })
    .onConflict('study_instance_uid')
    .merge([
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
    ]);
  await applyRecognition(trx, recognitionSettings, recognition, {
    studyInstanceUid: studyUid,
    patientPk: patient.id,
    patientSex: patientFields.patient_sex,
    patientBirthDate: patientFields.patient_birth_date,
  });

  await trx('series')
    .insert({
      series_instance_uid: seriesUid,
      study_instance_uid: studyUid,
      modality: firstString(ds.Modality) ?? null,
      series_number: firstInt(ds.SeriesNumber),
      series_description: firstString(ds.SeriesDescription) ?? null,
      body_part_examined: firstString(ds.BodyPartExamined) ?? null,
      laterality: firstString(ds.Laterality) ?? null,
      performed_procedure_step_start_date: dicomDate(ds.PerformedProcedureStepStartDate),
      performed_procedure_step_start_time: firstString(ds.PerformedProcedureStepStartTime) ?? null,
      attributes: pickAttributes(dicomJson, SERIES_LEVEL_TAGS),
    })
    .onConflict('series_instance_uid')
    .merge([
      'study_instance_uid',
      'modality',
      'series_number',
      'series_description',
      'body_part_examined',
      'laterality',
      'performed_procedure_step_start_date',
      'performed_procedure_step_start_time',
      'attributes',
    ]);

  await trx('instance')
    .where({ sop_instance_uid: row.sop_instance_uid, version: row.version })
    .update({
      status: 'indexed',
      instance_number: firstInt(ds.InstanceNumber),
      number_of_frames: firstInt(ds.NumberOfFrames) ?? 1,
      metadata: dicomJson,
      frames: parsed.frames === null ? null : JSON.stringify(parsed.frames),
      bulkdata: parsed.bulkdata ?? {},
      index_error: null,
      indexed_at: trx.fn.now(),
    });

  await trx.raw(
    `UPDATE series SET number_of_series_related_instances =
       (SELECT count(*) FROM instance WHERE series_instance_uid = ? AND status = 'indexed'),
       updated_at = now()
     WHERE series_instance_uid = ?`,
    [seriesUid, seriesUid],
  );
  await trx.raw(
    `UPDATE study SET
       number_of_study_related_series = (SELECT count(*) FROM series WHERE study_instance_uid = ?),
       number_of_study_related_instances = (SELECT count(*) FROM instance WHERE study_instance_uid = ? AND status = 'indexed'),
       modalities_in_study = (SELECT coalesce(array_agg(DISTINCT modality ORDER BY modality), '{}') FROM series WHERE study_instance_uid = ? AND modality IS NOT NULL),
       last_instance_at = now(), stable_at = NULL, updated_at = now()
     WHERE study_instance_uid = ?`,
    [studyUid, studyUid, studyUid, studyUid],
  );
}
