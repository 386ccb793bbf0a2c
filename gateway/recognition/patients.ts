/**
 * PUT /recognition/patients/national-id: a sender supplies the 居民身份证号 of one of its
 * patients (already received, identified by its own IssuerOfPatientID + PatientID). Stored
 * hashed and encrypted (core/recognition/patient-identity.ts); the answer and the logs never
 * contain the number, and the patient's own identifiers are not changed.
 */
import { Router } from 'express';
import { z } from 'zod';
import { HurenError, notFound } from '../../core/errors';
import { linkNationalId } from '../../core/recognition/patient-identity';
import { patientIdKeys, type PatientIdKeys } from '../../core/recognition/patient-keys';
import { jsonBody, parseInput } from '../http/request-body';
import type { GatewayDeps } from '../deps';

const NationalIdBody = z.strictObject({
  // As stored at index time: trimmed, '' when the sender sends none.
  issuerOfPatientId: z.string().trim().max(64),
  patientId: z.string().trim().min(1).max(64),
  nationalId: z.string().min(1).max(64),
});

export function patientsRouter(deps: GatewayDeps): Router {
  // Resolved at the first request: dev keys may live in a file (patient-keys.ts).
  let keys: PatientIdKeys | null | undefined;
  const r = Router();

  r.put('/patients/national-id', jsonBody(), async (req, res) => {
    const body = parseInput(NationalIdBody, req.body, 'body');
    if (keys === undefined) keys = patientIdKeys(deps.config);
    if (!keys) {
      throw new HurenError(
        503,
        'patient_identity_not_configured',
        '未配置患者身份密钥，无法保存身份证号 / Patient-identity keys are not configured; national IDs cannot be stored',
      );
    }
    const patient = await deps
      .db('patient')
      .where({ issuer_of_patient_id: body.issuerOfPatientId, patient_id: body.patientId })
      .first('id', 'patient_sex', 'patient_birth_date');
    if (!patient) {
      throw notFound(
        'patient_not_found',
        '未收到过该患者（按 IssuerOfPatientID + PatientID）的检查 / No study of a patient with this IssuerOfPatientID and PatientID has been received',
      );
    }
    const linkKeys = keys;
    const linked = await deps.db.transaction((trx) =>
      linkNationalId(trx, linkKeys, {
        patientPk: patient.id,
        nationalId: body.nationalId,
        source: 'api',
        patientSex: patient.patient_sex,
        patientBirthDate: patient.patient_birth_date,
      }),
    );
    res.json({ source: 'api', ...linked });
  });

  return r;
}
