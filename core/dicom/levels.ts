/**
 * Which attributes belong to which query/retrieve level. The index worker copies these
 * from each instance into study.attributes / series.attributes; QIDO-RS answers from them
 * (never from files at query time). Tags as 8-hex-digit strings (DICOM JSON keys).
 */

/** Patient IE and Study IE attributes (PS3.3 Patient, General Study, Patient Study modules). */
export const STUDY_LEVEL_TAGS = [
  '00080020', // StudyDate
  '00080030', // StudyTime
  '00080050', // AccessionNumber
  '00080051', // IssuerOfAccessionNumberSequence
  '00080090', // ReferringPhysicianName
  '00080201', // TimezoneOffsetFromUTC
  '00081030', // StudyDescription
  '00081032', // ProcedureCodeSequence
  '00081060', // NameOfPhysiciansReadingStudy
  '00100010', // PatientName
  '00100020', // PatientID
  '00100021', // IssuerOfPatientID
  '00100024', // IssuerOfPatientIDQualifiersSequence
  '00100030', // PatientBirthDate
  '00100040', // PatientSex
  '00101000', // OtherPatientIDs (retired, still sent)
  '00101002', // OtherPatientIDsSequence
  '00101010', // PatientAge
  '00101020', // PatientSize
  '00101030', // PatientWeight
  '0020000D', // StudyInstanceUID
  '00200010', // StudyID
  '00321060', // RequestedProcedureDescription
  '00321064', // RequestedProcedureCodeSequence
  '00401001', // RequestedProcedureID
] as const;

/** Series IE and Equipment IE attributes (General Series, General Equipment, Contrast/Bolus summary). */
export const SERIES_LEVEL_TAGS = [
  '00080021', // SeriesDate
  '00080031', // SeriesTime
  '00080060', // Modality
  '00080070', // Manufacturer
  '00080080', // InstitutionName
  '00081010', // StationName
  '0008103E', // SeriesDescription
  '00081090', // ManufacturerModelName
  '00180010', // ContrastBolusAgent
  '00180015', // BodyPartExamined
  '00181030', // ProtocolName
  '00185100', // PatientPosition
  '0020000E', // SeriesInstanceUID
  '00200011', // SeriesNumber
  '00200060', // Laterality
  '00400244', // PerformedProcedureStepStartDate
  '00400245', // PerformedProcedureStepStartTime
  '00400254', // PerformedProcedureStepDescription
  '00400275', // RequestAttributesSequence
] as const;

export function pickAttributes(dataset: Record<string, unknown>, tags: readonly string[]): Record<string, unknown> {
  const picked: Record<string, unknown> = {};
  for (const tag of tags) if (dataset[tag] !== undefined) picked[tag] = dataset[tag];
  return picked;
}
