import { randomBytes } from 'node:crypto';
import { decodeKeys } from '../../core/recognition/patient-keys';
import { decryptNationalId, findPatientsByNationalId, hashNationalId } from '../../core/recognition/patient-identity';
import { makeInstance, randomUid } from '../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../support/gateway';

/**
 * The 居民身份证号 across hospitals: read from OtherPatientIDsSequence at index time or supplied
 * through the API, stored only as a keyed hash and a ciphertext, and found again by number.
 */
/** A JSON answer: the link result or a problem. */
interface Answer {
  code?: string;
  message?: string;
  checkDigitOk?: boolean;
  findings: Array<{ code: string }>;
}

describe('patient identity across hospitals', () => {
  const NATIONAL_ID = '11010519491231002X'; // GB 11643 example: female, born 1949-12-31
  const BAD_CHECK = '110105194912310021';
  const keyEnv = { HUREN_PATIENT_ID_HASH_KEY: randomBytes(32).toString('base64'), HUREN_PATIENT_ID_ENCRYPTION_KEY: randomBytes(32).toString('base64') };
  const keys = decodeKeys(keyEnv);
  const saved = { ...process.env };
  let gw: TestGateway;

  const studyA = randomUid(); // hospital A sends the number in OtherPatientIDsSequence
  const studyB = randomUid(); // hospital B sends none; it supplies the number through the API
  const studyC = randomUid(); // hospital C: no number at all

  async function stow(...instances: Buffer[]): Promise<void> {
    const { body, contentType } = multipartBody(instances);
    const res = await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' } });
    expect(res.status).toBe(200);
  }
  const put = (body: unknown, target = gw) =>
    target.fetch(`${target.baseUrl}/recognition/patients/national-id`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  const patientPk = async (issuer: string, id: string) =>
    Number((await gw.core.db('patient').where({ issuer_of_patient_id: issuer, patient_id: id }).first('id')).id);

  beforeAll(async () => {
    // The worker reads its environment (as in production, where its config comes from it).
    Object.assign(process.env, keyEnv);
    gw = await startTestGateway({ env: keyEnv });
    await stow(
      makeInstance({
        studyInstanceUid: studyA,
        patientId: 'A-0001',
        extra: {
          IssuerOfPatientID: 'HOSP_A',
          PatientSex: 'M', // the number says female
          PatientBirthDate: '19491231',
          OtherPatientIDsSequence: [
            { PatientID: 'MRN-77', IssuerOfPatientID: 'HOSP_A_RIS', TypeOfPatientID: 'TEXT' },
            { PatientID: NATIONAL_ID, IssuerOfPatientID: 'RESIDENT_ID', TypeOfPatientID: 'TEXT' },
          ],
          OtherPatientIDs: ['MRN-77', NATIONAL_ID],
        },
      }),
      makeInstance({ studyInstanceUid: studyB, patientId: 'B-9', extra: { IssuerOfPatientID: 'HOSP_B', PatientSex: 'F', PatientBirthDate: '19491231' } }),
      makeInstance({ studyInstanceUid: studyC, patientId: 'C-5', extra: { IssuerOfPatientID: 'HOSP_C', PatientSex: 'F', PatientBirthDate: '19600101' } }),
    );
    await Promise.all([studyA, studyB, studyC].map((s) => gw.waitForIndexed(s, 1)));
  });
  afterAll(async () => {
    await gw.close();
    for (const k of Object.keys(keyEnv)) if (saved[k] === undefined) delete process.env[k];
  });

  it('reads the number at index time and stores it hashed and encrypted, with findings', async () => {
    const pk = await patientPk('HOSP_A', 'A-0001');
    const row = await gw.core.db('patient_national_id').where({ patient_pk: pk }).first();
    expect(row).toMatchObject({ id_hash: hashNationalId(keys, NATIONAL_ID), source: 'dicom', check_digit_ok: true });
    expect(decryptNationalId(keys, row.id_ciphertext, pk)).toBe(NATIONAL_ID);
    expect(row.findings.map((f: { code: string; severity: string }) => [f.code, f.severity])).toEqual([['national_id_sex_mismatch', 'warn']]);
  });

  it('keeps the sender’s own PatientID and IssuerOfPatientID as sent', async () => {
    const study = await gw.core.db('study').where({ study_instance_uid: studyA }).first('patient_id', 'issuer_of_patient_id');
    expect(study).toEqual({ patient_id: 'A-0001', issuer_of_patient_id: 'HOSP_A' });
    const metadata = (await gw.fetch(`${gw.dicomweb}/studies/${studyA}/metadata`).then((r) => r.json())) as Array<Record<string, { Value?: unknown[] }>>;
    expect(metadata[0]['00101002'].Value).toEqual([expect.objectContaining({ '00100020': { vr: 'LO', Value: ['MRN-77'] } })]);
  });

  it('leaves the number in plain text nowhere in the database', async () => {
    const schema = gw.core.config.HUREN_DB_SCHEMA;
    const tables: Array<{ table_name: string }> = await gw.core.db('information_schema.tables').where({ table_schema: schema }).select('table_name');
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(['instance', 'study', 'patient', 'patient_national_id']));
    const rowsContaining = async (table: string, text: string) =>
      (await gw.core.db.raw(`SELECT count(*)::int AS n FROM ??.?? t WHERE t::text ILIKE ?`, [schema, table, `%${text}%`])).rows[0].n as number;
    // The probe works: the other identifier of the same sequence is stored (instance metadata, study attributes).
    expect(await rowsContaining('instance', 'MRN-77')).toBe(1);
    for (const { table_name } of tables) {
      expect({ table: table_name, rows: await rowsContaining(table_name, NATIONAL_ID) }).toEqual({ table: table_name, rows: 0 });
    }
  });

  it('takes the number from the sender through the API, and finds both hospitals’ patients by it', async () => {
    const res = await put({ issuerOfPatientId: 'HOSP_B', patientId: 'B-9', nationalId: ` ${NATIONAL_ID.toLowerCase()} ` });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ source: 'api', checkDigitOk: true, findings: [] });

    const found = await findPatientsByNationalId(gw.core.db, NATIONAL_ID, keys);
    expect(found).toEqual([await patientPk('HOSP_A', 'A-0001'), await patientPk('HOSP_B', 'B-9')].sort((a, b) => a - b));
    expect(await findPatientsByNationalId(gw.core.db, '440524188001010014', keys)).toEqual([]);
    await expect(findPatientsByNationalId(gw.core.db, 'not-a-number', keys)).rejects.toMatchObject({ status: 400 });
  });

  it('stores a number with a wrong check character, with findings, rather than refusing it', async () => {
    const res = await put({ issuerOfPatientId: 'HOSP_C', patientId: 'C-5', nationalId: BAD_CHECK });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Answer;
    expect(body).toMatchObject({ checkDigitOk: false });
    expect(body.findings.map((f) => f.code)).toEqual(['national_id_check_digit', 'national_id_birth_date_mismatch']);
    expect(JSON.stringify(body)).not.toContain(BAD_CHECK);
    const row = await gw.core
      .db('patient_national_id')
      .where({ patient_pk: await patientPk('HOSP_C', 'C-5') })
      .first();
    expect(row).toMatchObject({ source: 'api', check_digit_ok: false });
  });

  it('answers 404 for an unknown patient and 400 for a malformed number or body, without echoing them', async () => {
    const unknown = await put({ issuerOfPatientId: 'HOSP_B', patientId: 'NOBODY-1', nationalId: NATIONAL_ID });
    expect(unknown.status).toBe(404);
    const problem = (await unknown.json()) as Answer;
    expect(problem).toMatchObject({ status: 404, code: 'patient_not_found' });
    expect(problem.message).toMatch(/[\u4e00-\u9fff].* \/ No study of a patient/);
    expect(JSON.stringify(problem)).not.toMatch(/NOBODY-1|11010519/);

    const malformed = await put({ issuerOfPatientId: 'HOSP_B', patientId: 'B-9', nationalId: '1101051949123' });
    expect(malformed.status).toBe(400);
    const bad = (await malformed.json()) as Answer;
    expect(bad).toMatchObject({ code: 'national_id_invalid', message: expect.stringMatching(/身份证号.*18 位 \/ Invalid national ID: .*18 characters/) });
    expect(JSON.stringify(bad)).not.toContain('1101051949123');

    const missing = await put({ patientId: 'B-9' });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as Answer).code).toBe('invalid_body');
    const notJson = await gw.fetch(`${gw.baseUrl}/recognition/patients/national-id`, { method: 'PUT', body: 'x' });
    expect(notJson.status).toBe(415);
  });

  it('answers 503 where no keys are configured', async () => {
    for (const k of Object.keys(keyEnv)) delete process.env[k];
    const keyless = await startTestGateway({ workers: false });
    try {
      const res = await put({ issuerOfPatientId: 'HOSP_B', patientId: 'B-9', nationalId: NATIONAL_ID }, keyless);
      expect(res.status).toBe(503);
      expect(((await res.json()) as Answer).code).toBe('patient_identity_not_configured');
    } finally {
      await keyless.close();
      Object.assign(process.env, keyEnv);
    }
  });
});
