/**
 * Cross-hospital patient identity: the 居民身份证号 linked to a sender's patient
 * (patient_national_id). The number is kept twice, never in plain text:
 * - id_hash: HMAC-SHA256 under HUREN_PATIENT_ID_HASH_KEY, so "same person" is an equality
 *   lookup on an index without decrypting anything;
 * - id_ciphertext: AES-256-GCM under HUREN_PATIENT_ID_ENCRYPTION_KEY, bound to the patient row,
 *   for showing the number to authorised users.
 * Both carry the id of their key so rows written under an old key can be found after a rotation.
 * See docs/patient-identity.md.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import { badRequest } from '../errors';
import { nationalIdFindings, parseNationalId, type NationalIdFinding } from './national-id';
import type { PatientIdKeys } from './patient-keys';

export type NationalIdSource = 'dicom' | 'api';

const HASH_SCHEME = 'h1';
const CIPHER_SCHEME = 'g1';

/** A short fingerprint of a key: tells which key wrote a value, reveals nothing of it. */
export function keyId(key: Buffer): string {
  return createHash('sha256').update('huren-key-id:').update(key).digest('hex').slice(0, 8);
}

/** `h1:<key id>:<hex HMAC>` of the canonical number. */
export function hashNationalId(keys: PatientIdKeys, normalized: string): string {
  return `${HASH_SCHEME}:${keyId(keys.hashKey)}:${createHmac('sha256', keys.hashKey).update(normalized, 'utf8').digest('hex')}`;
}

/**
 * `g1:<key id>:<iv>:<ciphertext>:<tag>` (base64url). The patient row's id is the associated
 * data: a ciphertext copied onto another patient's row does not decrypt.
 */
export function encryptNationalId(keys: PatientIdKeys, normalized: string, patientPk: number | string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keys.encryptionKey, iv);
  cipher.setAAD(aad(patientPk));
  const ciphertext = Buffer.concat([cipher.update(normalized, 'utf8'), cipher.final()]);
  const b64 = (b: Buffer) => b.toString('base64url');
  return [CIPHER_SCHEME, keyId(keys.encryptionKey), b64(iv), b64(ciphertext), b64(cipher.getAuthTag())].join(':');
}

export function decryptNationalId(keys: PatientIdKeys, stored: string, patientPk: number | string): string {
  const [scheme, kid, iv, ciphertext, tag] = stored.split(':');
  if (scheme !== CIPHER_SCHEME || !tag) throw new Error('Not a national-ID ciphertext');
  if (kid !== keyId(keys.encryptionKey)) throw new Error(`National ID was encrypted under key ${kid}, not the configured one`);
  const decipher = createDecipheriv('aes-256-gcm', keys.encryptionKey, Buffer.from(iv, 'base64url'));
  decipher.setAAD(aad(patientPk));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}

const aad = (patientPk: number | string) => Buffer.from(`patient_national_id:${patientPk}`);

export interface LinkNationalId {
  patientPk: number | string;
  nationalId: string;
  source: NationalIdSource;
  patientSex?: string | null;
  patientBirthDate?: string | null;
}

export interface LinkedNationalId {
  checkDigitOk: boolean;
  findings: NationalIdFinding[];
}

/**
 * Links a number to a patient (one per patient; the latest wins). A wrong check character
 * is stored with a finding rather than refused: the sender's number is what the patient's
 * records say, and a reviewer can see the finding. A number that is not 18 well-formed
 * characters cannot be matched to anything and is refused (400).
 */
export async function linkNationalId(trx: Knex | Knex.Transaction, keys: PatientIdKeys, link: LinkNationalId): Promise<LinkedNationalId> {
  const parsed = parseNationalId(link.nationalId);
  if (!parsed.valid) throw badRequest('national_id_invalid', `身份证号格式无效：${parsed.message.zh} / Invalid national ID: ${parsed.message.en}`);
  const findings = nationalIdFindings(parsed.normalized, link.patientSex, link.patientBirthDate);
  const row = {
    patient_pk: link.patientPk,
    id_hash: hashNationalId(keys, parsed.normalized),
    source: link.source,
    check_digit_ok: parsed.checkDigitOk,
    findings: JSON.stringify(findings),
  };
  const existing = await trx('patient_national_id').where({ patient_pk: link.patientPk }).first('id_hash', 'source', 'findings');
  const codes = (list: Array<{ code: string }>) => list.map((f) => f.code).join();
  // Re-indexing the same instance must not rewrite the row (nor churn its ciphertext).
  if (existing && existing.id_hash === row.id_hash && existing.source === row.source && codes(existing.findings) === codes(findings)) {
    return { checkDigitOk: parsed.checkDigitOk, findings };
  }
  await trx('patient_national_id')
    .insert({ ...row, id_ciphertext: encryptNationalId(keys, parsed.normalized, link.patientPk) })
    .onConflict('patient_pk')
    // excluded.updated_at is the column default, now().
    .merge(['id_hash', 'id_ciphertext', 'source', 'check_digit_ok', 'findings', 'updated_at']);
  return { checkDigitOk: parsed.checkDigitOk, findings };
}

/** The patients (patient.id) linked to a number, e.g. to remind a receiver of recent exams. */
export async function findPatientsByNationalId(db: Knex, nationalId: string, keys: PatientIdKeys): Promise<number[]> {
  const parsed = parseNationalId(nationalId);
  if (!parsed.valid) throw badRequest('national_id_invalid', `身份证号格式无效：${parsed.message.zh} / Invalid national ID: ${parsed.message.en}`);
  const rows = await db('patient_national_id')
    .where({ id_hash: hashNationalId(keys, parsed.normalized) })
    .orderBy('patient_pk')
    .select('patient_pk');
  return rows.map((r) => Number(r.patient_pk));
}
