/**
 * What the index worker does for recognition, inside its per-instance transaction
 * (core/index-store/upsert.ts): attribute the study to its sending institution, and link the
 * patient's 居民身份证号 (hashed and encrypted) while keeping it out of the stored metadata.
 */
import type { Knex } from 'knex';
import type { Config } from '../config';
import { attributeSender, type SenderIdentity } from './attribution';
import { parseNationalId } from './national-id';
import { nationalIdInDataset, nationalIdIssuers, withoutNationalIds } from './national-id-dicom';
import { linkNationalId } from './patient-identity';
import { patientIdKeys, type PatientIdKeys } from './patient-keys';

export interface IndexRecognitionSettings {
  nationalIdIssuers: ReadonlySet<string>;
  /** null: no keys configured (tests, tsx without npm start); national IDs are then not linked. */
  keys: PatientIdKeys | null;
}

export function indexRecognitionSettings(config: Config): IndexRecognitionSettings {
  return { nationalIdIssuers: nationalIdIssuers(config.HUREN_NATIONAL_ID_ISSUER), keys: patientIdKeys(config) };
}

/** For indexing without patient identity (tests and benchmarks of other concerns): nothing is linked. */
export const WITHOUT_NATIONAL_IDS: IndexRecognitionSettings = { nationalIdIssuers: new Set(), keys: null };

export interface PreparedRecognition {
  /** The DICOM JSON to store: national-ID items removed. */
  dicomJson: Record<string, unknown>;
  nationalId?: string;
  sender: SenderIdentity;
  /** The institution whose credential sent the instance: it wins over the aliases (docs/security.md). */
  receivedFrom?: string | null;
}

export function prepareRecognition(
  input: { dicomJson: Record<string, unknown>; institutionName?: string; issuerOfPatientId?: string; sourceAeTitle?: string; receivedFrom?: string | null },
  settings: IndexRecognitionSettings,
): PreparedRecognition {
  return {
    dicomJson: withoutNationalIds(input.dicomJson, settings.nationalIdIssuers),
    nationalId: nationalIdInDataset(input.dicomJson, settings.nationalIdIssuers),
    sender: { institutionName: input.institutionName, issuerOfPatientId: input.issuerOfPatientId, sourceAeTitle: input.sourceAeTitle },
    receivedFrom: input.receivedFrom ?? null,
  };
}

/**
 * After the study row is written: attribution (an instance that matches no alias leaves an
 * earlier attribution alone; the study stays NULL = unattributed until one matches) and the
 * national-ID link. A number that is not 18 well-formed characters cannot be matched and is
 * not stored.
 */
export async function applyRecognition(
  trx: Knex.Transaction,
  settings: IndexRecognitionSettings,
  prepared: PreparedRecognition,
  ctx: { studyInstanceUid: string; patientPk: number | string; patientSex: string | null; patientBirthDate: string | null },
): Promise<void> {
  // A credential's institution wins over what the data set calls itself (unless it was deleted since).
  const fromCredential = prepared.receivedFrom ? await trx('institution').where({ code: prepared.receivedFrom }).first('code') : undefined;
  const code = fromCredential ? (fromCredential.code as string) : await attributeSender(trx, prepared.sender);
  const ae = prepared.sender.sourceAeTitle;
  if (code || ae) {
    await trx('study')
      .where({ study_instance_uid: ctx.studyInstanceUid })
      .update({ ...(code && { sending_institution_code: code }), ...(ae && { source_ae_title: ae }) });
  }
  if (prepared.nationalId && settings.keys && parseNationalId(prepared.nationalId).valid) {
    await linkNationalId(trx, settings.keys, {
      patientPk: ctx.patientPk,
      nationalId: prepared.nationalId,
      source: 'dicom',
      patientSex: ctx.patientSex,
      patientBirthDate: ctx.patientBirthDate,
    });
  }
}
