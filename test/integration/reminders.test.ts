import { randomBytes, randomUUID } from 'node:crypto';
import { getCatalog } from '../../catalogs';
import { upsertInstitution } from '../../core/recognition/institutions';
import type { InstitutionInput } from '../../core/recognition/institution-schema';
import { Institution } from '../../core/recognition/institution-schema';
import { hashNationalId } from '../../core/recognition/patient-identity';
import { decodeKeys } from '../../core/recognition/patient-keys';
import { createReminder, shanghaiDate } from '../../core/recognition/reminders';
import { makeInstance, randomUid } from '../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../support/gateway';

/**
 * The HIS-facing recognition service end to end: reminders (by national ID, local ID + issuer,
 * local order code), 调阅 through the API and through WADO-RS, decisions for the medical
 * record, re-examinations, dismissals, audits, and the indicators over a hand-computed scenario.
 * Studies arrive over STOW-RS; their sender, items, quality and reports are written directly
 * (the classifier and the quality job are not what is tested here).
 */

interface Prior {
  studyInstanceUid: string;
  outcome: string;
  crossRegion: boolean;
  matchedItem: { catalogId: string; code: string; nameZh: string };
  reasons: Array<{ code: string; rule?: string }>;
  institution: { code: string; name: string };
  studyDate: string;
  accessionNumber: string | null;
  modalities: string[];
  validUntil: string;
  quality: { result: string | null };
  hasReport: boolean;
  links: { study: string; metadata: string; viewer?: string };
}
interface Answer {
  reminderId: string;
  items: Array<{ orderedItemCode: string; nameZh: string; nameEn: string; priors: Prior[] }>;
}
interface Problem {
  status: number;
  code: string;
  message: string;
  details?: { validReasons?: Array<{ code: string }> };
}
interface Rate {
  numerator: number;
  denominator: number;
  rate: number | null;
}
interface IndicatorAnswer {
  filters: Record<string, string | null>;
  indicators: Record<'reminderViewRate' | 'recognitionRate' | 'nonComplianceRate' | 'diagnosticAgreementRate', Rate>;
  events: number;
  definitions: string;
}

const DAY = 86_400_000;
const NATIONAL_ID = '11010519491231002X';
const dicomDay = (daysAgo: number) => shanghaiDate(new Date(Date.now() - daysAgo * DAY)).replace(/-/g, '');
const isoDay = (daysAgo: number) => shanghaiDate(new Date(Date.now() - daysAgo * DAY));

const xjAccredited = [
  { catalogId: 'xinjiang' as const, modality: 'DR' as const, validFrom: '2025-01-01' },
  { catalogId: 'xinjiang' as const, modality: 'MR' as const, validFrom: '2025-01-01' },
];
const INSTITUTIONS: InstitutionInput[] = [
  { code: 'XJ-R', name: '新疆受理医院', region: 'XJ', level: 'L2A' },
  { code: 'XJ-IND', name: '新疆指标医院', region: 'XJ', level: 'L2A' },
  { code: 'XJ-A', name: '新疆甲医院', region: 'XJ', level: 'L3A', accreditations: xjAccredited },
  { code: 'XJ-B', name: '新疆乙医院', region: 'XJ', level: 'L2A', accreditations: xjAccredited },
  { code: 'CY-R', name: '川渝受理医院', region: 'CY', level: 'L2A' },
  // Private: outside 新疆's public-only scope, so its study is a prior in 川渝 only.
  {
    code: 'CY-A',
    name: '川渝甲医院',
    region: 'CY',
    level: 'L3A',
    isPublic: false,
    accreditations: [{ catalogId: 'chuanyu-2025', modality: 'DR', validFrom: '2025-01-01' }],
  },
  { code: 'ZJ-Z', name: '浙江丙医院', region: 'ZJ', level: 'L3A', accreditations: [{ catalogId: 'zhejiang-2021', modality: 'DR', validFrom: '2025-01-01' }] },
];

describe('HIS reminders, 调阅, decisions and indicators', () => {
  const keyEnv = { HUREN_PATIENT_ID_HASH_KEY: randomBytes(32).toString('base64'), HUREN_PATIENT_ID_ENCRYPTION_KEY: randomBytes(32).toString('base64') };
  const keys = decodeKeys(keyEnv);
  let gw: TestGateway;

  // S1 XJ-A recognizable · S2 XJ-B discretionary (report as SR) · S3 XJ-A expired · S4 XJ-A left knee
  // (a right knee is ordered) · S5 ZJ-Z under 浙江's item (crosswalk) · S0 the receiver's own other
  // exam · S9 another patient of XJ-A · S6 CY-A under 川渝's item.
  const S = { S6: randomUid(), S0: randomUid(), S1: randomUid(), S2: randomUid(), S3: randomUid(), S4: randomUid(), S5: randomUid(), S9: randomUid() };

  const post = (path: string, body: unknown) =>
    gw.fetch(`${gw.baseUrl}/recognition${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const json = async <T>(res: Response, status: number): Promise<T> => {
    const text = await res.text();
    if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${text}`);
    return JSON.parse(text) as T;
  };
  const remind = async (body: Record<string, unknown>): Promise<Answer> =>
    json<Answer>(await post('/reminders', { receivingInstitution: 'XJ-R', orderingDoctor: '李医生', ...body }), 201);
  const byNationalId = (receivingInstitution: string, orderedItemCodes: string[]) =>
    post('/reminders', { receivingInstitution, orderingDoctor: '李医生', patient: { nationalId: NATIONAL_ID }, orderedItemCodes }).then((r) =>
      json<Answer>(r, 201),
    );
  const priorUids = (a: Answer, i = 0) => a.items[i].priors.map((p) => p.studyInstanceUid);
  const events = (where: Record<string, unknown>) => gw.core.db('recognition_event').where(where).orderBy('id');

  async function stow(
    study: string,
    patientId: string,
    issuer: string,
    daysAgo: number,
    modality: string,
    extra: Record<string, unknown> = {},
    more: Buffer[] = [],
  ) {
    const instance = makeInstance({
      studyInstanceUid: study,
      patientId,
      modality,
      studyDate: dicomDay(daysAgo),
      extra: { IssuerOfPatientID: issuer, StudyTime: '101500', PatientSex: 'F', PatientBirthDate: '19491231', ...extra },
    });
    const { body, contentType } = multipartBody([instance, ...more]);
    const res = await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' } });
    expect(res.status).toBe(200);
    await gw.waitForIndexed(study, 1 + more.length);
  }

  async function classify(study: string, sender: string, catalogId: string, itemCode: string, quality: 'pass' | 'warn' | 'fail', report: boolean) {
    const db = gw.core.db;
    await db('study').where({ study_instance_uid: study }).update({ sending_institution_code: sender });
    await db('study_item').where({ study_instance_uid: study }).delete();
    await db('study_item').insert({
      study_instance_uid: study,
      catalog_id: catalogId,
      catalog_version: getCatalog(catalogId)!.version,
      item_code: itemCode,
      confidence: 1,
    });
    await db('study_quality')
      .insert({ study_instance_uid: study, result: quality, findings: '[]', item_codes: [itemCode], rules_version: 'test' })
      .onConflict('study_instance_uid')
      .merge();
    if (report) await db('study_report').insert({ study_instance_uid: study, author: '报告医师', signed_at: new Date(), conclusion: '未见异常' });
  }

  beforeAll(async () => {
    gw = await startTestGateway({
      // No quality job overwrites the rows written below: studies never become stable during the test.
      env: { ...keyEnv, HUREN_STUDY_STABLE_SECONDS: '3600', HUREN_VIEWER_URL: 'https://viewer.example/viewer?StudyInstanceUIDs=' },
    });
    for (const inst of INSTITUTIONS) await upsertInstitution(gw.core.db, Institution.parse(inst));

    // The report of S2 is an SR document in the study (same study attributes: the last indexed instance wins).
    const sr = makeInstance({
      studyInstanceUid: S.S2,
      patientId: 'B-1',
      modality: 'SR',
      sopClassUid: '1.2.840.10008.5.1.4.1.1.88.11',
      studyDate: dicomDay(3),
      extra: { IssuerOfPatientID: 'HOSP_B', AccessionNumber: 'B77', StudyTime: '101500', PatientSex: 'F', PatientBirthDate: '19491231' },
    });
    await stow(S.S1, 'A-1', 'HOSP_A', 5, 'DX', { AccessionNumber: 'A123' });
    await stow(S.S2, 'B-1', 'HOSP_B', 3, 'DX', { AccessionNumber: 'B77' }, [sr]);
    await stow(S.S3, 'A-1', 'HOSP_A', 40, 'DX');
    await stow(S.S4, 'A-1', 'HOSP_A', 4, 'MR');
    await stow(S.S5, 'Z-1', 'HOSP_Z', 2, 'DX', { AccessionNumber: 'Z5' });
    await stow(S.S0, 'R-1', 'HOSP_R', 10, 'DX');
    await stow(S.S9, 'A-9', 'HOSP_A', 1, 'DX', { AccessionNumber: 'A999' });
    await stow(S.S6, 'C-1', 'HOSP_C', 6, 'DX', { AccessionNumber: 'C6' });

    await classify(S.S1, 'XJ-A', 'xinjiang', 'XJHRYX-DR0208', 'pass', true);
    await classify(S.S2, 'XJ-B', 'xinjiang', 'XJHRYX-DR0208', 'warn', false); // its report is the SR instance
    await classify(S.S3, 'XJ-A', 'xinjiang', 'XJHRYX-DR0208', 'pass', true);
    await classify(S.S4, 'XJ-A', 'xinjiang', 'XJHRYX-MR0515', 'pass', true);
    await classify(S.S5, 'ZJ-Z', 'zhejiang-2021', 'BR00ZZZ8B-00', 'pass', true);
    await classify(S.S0, 'XJ-R', 'xinjiang', 'XJHRYX-DR0101', 'pass', true);
    await classify(S.S9, 'XJ-A', 'xinjiang', 'XJHRYX-DR0208', 'pass', true);
    await classify(S.S6, 'CY-A', 'chuanyu-2025', 'CY2025-019', 'pass', true);

    for (const [issuerOfPatientId, patientId] of [
      ['HOSP_A', 'A-1'],
      ['HOSP_B', 'B-1'],
      ['HOSP_Z', 'Z-1'],
      ['HOSP_R', 'R-1'],
      ['HOSP_C', 'C-1'],
    ]) {
      const res = await gw.fetch(`${gw.baseUrl}/recognition/patients/national-id`, {
        method: 'PUT',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ issuerOfPatientId, patientId, nationalId: NATIONAL_ID }),
      });
      expect(res.status).toBe(200);
    }
    await gw.core.db('local_procedure_mapping').insert({
      institution_code: 'XJ-R',
      local_key: 'DR-CSP-2',
      local_code: 'DR-CSP-2',
      local_name: '颈椎正侧位',
      catalog_id: 'xinjiang',
      item_codes: ['XJHRYX-DR0208'],
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  describe('POST /recognition/reminders', () => {
    let answer: Answer;
    beforeAll(async () => {
      answer = await remind({ patient: { nationalId: NATIONAL_ID }, orderedItemCodes: ['XJHRYX-DR0208', 'XJHRYX-MR0508'] });
    });

    it('finds the recognizable and discretionary priors at other hospitals by national ID, most recent first', () => {
      expect(answer.items.map((i) => [i.orderedItemCode, i.nameZh])).toEqual([
        ['XJHRYX-DR0208', '颈椎正侧位DR'],
        ['XJHRYX-MR0508', '右膝MRI平扫'],
      ]);
      // Not S3 (expired), S9 (another patient) nor S0 (another item); the left knee never answers a right-knee order.
      expect(priorUids(answer)).toEqual([S.S5, S.S2, S.S1]);
      expect(answer.items[1].priors).toEqual([]);

      const [s5, s2, s1] = answer.items[0].priors;
      expect(s1).toMatchObject({
        outcome: 'recognizable',
        crossRegion: false,
        matchedItem: { catalogId: 'xinjiang', code: 'XJHRYX-DR0208', nameZh: '颈椎正侧位DR' },
        institution: { code: 'XJ-A', name: '新疆甲医院' },
        studyDate: isoDay(5),
        accessionNumber: 'A123',
        modalities: ['DX'],
        quality: { result: 'pass' },
        hasReport: true,
        links: {
          study: `${gw.dicomweb}/studies/${S.S1}?reminder=${answer.reminderId}`,
          metadata: `${gw.dicomweb}/studies/${S.S1}/metadata?reminder=${answer.reminderId}`,
          viewer: `https://viewer.example/viewer?StudyInstanceUIDs=${S.S1}`,
        },
      });
      expect(s1.reasons.find((r) => r.code === 'scope')?.rule).toBe('XJ-SCOPE-CROSS-TIER-UP');
      // 30 days in Shanghai: valid through the end of (exam day + 30).
      expect(s1.validUntil).toBe(new Date(`${isoDay(5 - 30)}T23:59:59.999+08:00`).toISOString());
      expect(s2).toMatchObject({ outcome: 'discretionary', institution: { code: 'XJ-B' }, quality: { result: 'warn' }, hasReport: true });
      expect(s2.reasons.map((r) => r.code)).toEqual(expect.arrayContaining(['quality_warn', 'scope']));
      expect(s5).toMatchObject({
        outcome: 'recognizable',
        crossRegion: true,
        matchedItem: { catalogId: 'zhejiang-2021', code: 'BR00ZZZ8B-00' },
        institution: { code: 'ZJ-Z', name: '浙江丙医院' },
      });
      expect(s5.reasons.map((r) => r.code)).toContain('cross_region_match');
    });

    it('records the reminder (patient as a keyed hash only), its priors and a reminder_shown event in one go', async () => {
      const db = gw.core.db;
      const row = await db('reminder').where({ id: answer.reminderId }).first();
      expect(row).toMatchObject({
        receiving_institution_code: 'XJ-R',
        patient_key_kind: 'national_id',
        patient_key_hash: hashNationalId(keys, NATIONAL_ID),
        ordered_item_codes: ['XJHRYX-DR0208', 'XJHRYX-MR0508'],
        ordering_doctor: '李医生',
      });
      const priors = await db('reminder_prior').where({ reminder_id: answer.reminderId }).orderBy('study_instance_uid');
      expect(priors.map((p) => [p.study_instance_uid, p.outcome, p.matched_item_code, p.cross_region]).sort()).toEqual(
        [
          [S.S1, 'recognizable', 'XJHRYX-DR0208', false],
          [S.S2, 'discretionary', 'XJHRYX-DR0208', false],
          [S.S5, 'recognizable', 'BR00ZZZ8B-00', true],
        ].sort(),
      );
      const [shown] = await events({ reminder_id: answer.reminderId, type: 'reminder_shown' });
      expect(shown).toMatchObject({ institution_code: 'XJ-R', region: 'XJ' });
      expect(shown.data.priors).toEqual([
        { orderedItemCode: 'XJHRYX-DR0208', studyInstanceUid: S.S5, outcome: 'recognizable' },
        { orderedItemCode: 'XJHRYX-DR0208', studyInstanceUid: S.S2, outcome: 'discretionary' },
        { orderedItemCode: 'XJHRYX-DR0208', studyInstanceUid: S.S1, outcome: 'recognizable' },
      ]);
      for (const table of ['reminder', 'reminder_prior', 'recognition_event']) {
        const { rows } = await db.raw(`SELECT count(*)::int AS n FROM ?? t WHERE t::text ILIKE ?`, [table, `%${NATIONAL_ID}%`]);
        expect({ table, n: rows[0].n }).toEqual({ table, n: 0 });
      }
    });

    it('finds the same priors by the local ID + issuer of a patient who shares the national ID', async () => {
      const a = await remind({ patient: { patientId: 'R-1', issuerOfPatientId: 'HOSP_R' }, orderedItemCodes: ['XJHRYX-DR0208'] });
      expect(priorUids(a)).toEqual([S.S5, S.S2, S.S1]);
      const row = await gw.core.db('reminder').where({ id: a.reminderId }).first();
      expect(row).toMatchObject({ patient_key_kind: 'local_id', patient_key_hash: hashNationalId(keys, 'HOSP_R|R-1') });
      // A patient without a national ID: only their own studies.
      const alone = await remind({ patient: { patientId: 'A-9', issuerOfPatientId: 'HOSP_A' }, orderedItemCodes: ['XJHRYX-DR0208'] });
      expect(priorUids(alone)).toEqual([S.S9]);
      // Unknown patients have no priors; the reminder is still recorded.
      const unknown = await remind({ patient: { patientId: 'NOBODY', issuerOfPatientId: 'HOSP_R' }, orderedItemCodes: ['XJHRYX-DR0208'] });
      expect(unknown.items[0].priors).toEqual([]);
      expect(await events({ reminder_id: unknown.reminderId, type: 'reminder_shown' })).toHaveLength(1);
    });

    it('maps the hospital’s local order code through its local procedure mapping', async () => {
      const a = await remind({ patient: { nationalId: NATIONAL_ID }, localOrderCode: ' ＤＲ-CSP-2 ' });
      expect(a.items.map((i) => i.orderedItemCode)).toEqual(['XJHRYX-DR0208']);
      expect(priorUids(a)).toEqual([S.S5, S.S2, S.S1]);
      expect(await gw.core.db('reminder').where({ id: a.reminderId }).first('local_order_code')).toEqual({ local_order_code: 'DR-CSP-2' });
    });

    it('refuses an item outside the receiving region’s catalog, an unmapped local code and a bad body (400), an unknown institution (404)', async () => {
      const foreign = await json<Problem>(
        await post('/reminders', {
          receivingInstitution: 'XJ-R',
          orderingDoctor: 'x',
          patient: { nationalId: NATIONAL_ID },
          orderedItemCodes: ['BR00ZZZ8B-00'],
        }),
        400,
      );
      expect(foreign.code).toBe('item_not_in_catalog');
      expect(foreign.message).toMatch(/BR00ZZZ8B-00.*新疆.*xinjiang.* \/ BR00ZZZ8B-00 is not an item of the Xinjiang catalog \(xinjiang\)/);

      const unmapped = await json<Problem>(
        await post('/reminders', { receivingInstitution: 'XJ-R', orderingDoctor: 'x', patient: { nationalId: NATIONAL_ID }, localOrderCode: 'NOPE-1' }),
        400,
      );
      expect(unmapped).toMatchObject({ code: 'local_order_code_unmapped', message: expect.stringMatching(/NOPE-1.*未对照.* \/ The local order code NOPE-1/) });

      const both = await json<Problem>(
        await post('/reminders', {
          receivingInstitution: 'XJ-R',
          orderingDoctor: 'x',
          patient: { nationalId: NATIONAL_ID },
          orderedItemCodes: ['XJHRYX-DR0208'],
          localOrderCode: 'DR-CSP-2',
        }),
        400,
      );
      expect(both.code).toBe('invalid_body');
      const noDoctor = await json<Problem>(
        await post('/reminders', { receivingInstitution: 'XJ-R', patient: { nationalId: NATIONAL_ID }, orderedItemCodes: ['XJHRYX-DR0208'] }),
        400,
      );
      expect(noDoctor).toMatchObject({ code: 'invalid_body', message: expect.stringContaining('orderingDoctor') });
      const noPatient = await json<Problem>(
        await post('/reminders', { receivingInstitution: 'XJ-R', orderingDoctor: 'x', patient: { patientId: 'R-1' }, orderedItemCodes: ['XJHRYX-DR0208'] }),
        400,
      );
      expect(noPatient.code).toBe('invalid_body');
      const twoPatients = await json<Problem>(
        await post('/reminders', {
          receivingInstitution: 'XJ-R',
          orderingDoctor: 'x',
          patient: { nationalId: NATIONAL_ID, patientId: 'R-1' },
          orderedItemCodes: ['XJHRYX-DR0208'],
        }),
        400,
      );
      expect(twoPatients).toMatchObject({ code: 'invalid_body', message: expect.stringContaining('patient: 须给出 nationalId') });
      const badId = await json<Problem>(
        await post('/reminders', {
          receivingInstitution: 'XJ-R',
          orderingDoctor: 'x',
          patient: { nationalId: '1101051949' },
          orderedItemCodes: ['XJHRYX-DR0208'],
        }),
        400,
      );
      expect(badId.code).toBe('national_id_invalid');
      expect(JSON.stringify(badId)).not.toContain('1101051949');
      const notJson = await gw.fetch(`${gw.baseUrl}/recognition/reminders`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{' });
      expect((await json<Problem>(notJson, 400)).code).toBe('invalid_json');

      const unknown = await json<Problem>(
        await post('/reminders', {
          receivingInstitution: 'NO-SUCH',
          orderingDoctor: 'x',
          patient: { nationalId: NATIONAL_ID },
          orderedItemCodes: ['XJHRYX-DR0208'],
        }),
        404,
      );
      expect(unknown.code).toBe('institution_not_found');
    });

    it('answers 503 when the patient-identity keys are not configured', async () => {
      await expect(
        createReminder(
          { db: gw.core.db, keys: null },
          {
            receivingInstitution: 'XJ-R',
            patient: { nationalId: NATIONAL_ID },
            orderedItemCodes: ['XJHRYX-DR0208'],
            orderingDoctor: 'x',
            dicomwebBase: 'http://h/dicomweb',
          },
        ),
      ).rejects.toMatchObject({ status: 503, code: 'patient_identity_not_configured' });
    });
  });

  describe('调阅 (viewed)', () => {
    let reminder: Answer;
    beforeAll(async () => {
      reminder = await byNationalId('XJ-R', ['XJHRYX-DR0208', 'XJHRYX-MR0508']);
    });

    it('is recorded when the HIS or viewer reports it; 404 for an unknown reminder, 400 for a study it did not show', async () => {
      const recorded = await json<{ type: string; reminderId: string }>(await post(`/reminders/${reminder.reminderId}/views`, { studyInstanceUid: S.S1 }), 201);
      expect(recorded).toMatchObject({ type: 'viewed', reminderId: reminder.reminderId });
      expect(await events({ reminder_id: reminder.reminderId, type: 'viewed', study_instance_uid: S.S1 })).toEqual([
        expect.objectContaining({ institution_code: 'XJ-R', region: 'XJ', data: { via: 'api' } }),
      ]);
      expect((await json<Problem>(await post(`/reminders/${randomUUID()}/views`, { studyInstanceUid: S.S1 }), 404)).code).toBe('reminder_not_found');
      expect((await json<Problem>(await post('/reminders/not-a-uuid/views', { studyInstanceUid: S.S1 }), 404)).code).toBe('reminder_not_found');
      expect((await json<Problem>(await post(`/reminders/${reminder.reminderId}/views`, { studyInstanceUid: S.S4 }), 400)).code).toBe('not_a_reminded_prior');
      expect((await json<Problem>(await post(`/reminders/${reminder.reminderId}/views`, { studyInstanceUid: 'x' }), 400)).code).toBe('invalid_body');
    });

    it('is recorded once from WADO-RS requests carrying the reminder (query or header), never for a study it did not show', async () => {
      const prior = reminder.items[0].priors.find((p) => p.studyInstanceUid === S.S2)!;
      for (let i = 0; i < 3; i++) expect((await gw.fetch(prior.links.metadata)).status).toBe(200);
      const viaHeader = await gw.fetch(`${gw.dicomweb}/studies/${S.S5}/metadata`, { headers: { 'X-Huren-Reminder': reminder.reminderId } });
      expect(viaHeader.status).toBe(200);
      const notShown = await gw.fetch(`${gw.dicomweb}/studies/${S.S4}/metadata?reminder=${reminder.reminderId}`);
      expect(notShown.status).toBe(200);
      const unknownReminder = await gw.fetch(`${gw.dicomweb}/studies/${S.S2}/metadata?reminder=${randomUUID()}`);
      expect(unknownReminder.status).toBe(200);

      const viewed = async () =>
        (await events({ reminder_id: reminder.reminderId, type: 'viewed' })).filter((e) => e.data.via === 'wado').map((e) => e.study_instance_uid);
      const deadline = Date.now() + 5000;
      while ((await viewed()).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 200));
      expect((await viewed()).sort()).toEqual([S.S2, S.S5].sort());
    });
  });

  describe('decisions, re-examinations, dismissals, audits', () => {
    let reminder: Answer;
    beforeAll(async () => {
      reminder = await byNationalId('XJ-R', ['XJHRYX-DR0208', 'XJHRYX-MR0508']);
    });
    const decide = (body: Record<string, unknown>) =>
      post('/decisions', { reminderId: reminder.reminderId, orderedItemCode: 'XJHRYX-DR0208', doctor: '王医生', ...body });

    it('records an acceptance with what the medical record needs, as a line to paste', async () => {
      const res = await json<{ decisionId: number; record: Record<string, unknown> }>(await decide({ studyInstanceUid: S.S1, decision: 'accepted' }), 201);
      expect(res.record).toMatchObject({
        institutionName: '新疆甲医院',
        institutionCode: 'XJ-A',
        examDate: isoDay(5),
        accessionNumber: 'A123',
        studyInstanceUid: S.S1,
        itemCode: 'XJHRYX-DR0208',
        itemName: '颈椎正侧位DR',
        decision: 'accepted',
        reason: null,
        doctor: '王医生',
        text: `互认：采用外院检查 — 机构：新疆甲医院；检查日期：${isoDay(5)}；检查号/档案号：A123；项目：颈椎正侧位DR（XJHRYX-DR0208）`,
      });
      const row = await gw.core.db('recognition_decision').where({ id: res.decisionId }).first();
      expect(row).toMatchObject({ reminder_id: reminder.reminderId, decision: 'accepted', doctor: '王医生', record: res.record });
      const [event] = await events({ reminder_id: reminder.reminderId, type: 'decided' });
      expect(event).toMatchObject({ institution_code: 'XJ-R', region: 'XJ', ordered_item_code: 'XJHRYX-DR0208', study_instance_uid: S.S1 });
      expect(event.data).toMatchObject({ decision: 'accepted', decisionId: res.decisionId });
    });

    it('marks a cross-region prior’s own item in the record', async () => {
      const res = await json<{ record: { text: string } }>(await decide({ studyInstanceUid: S.S5, decision: 'accepted' }), 201);
      expect(res.record.text).toBe(
        `互认：采用外院检查 — 机构：浙江丙医院；检查日期：${isoDay(2)}；检查号/档案号：Z5；项目：颈椎正侧位DR（XJHRYX-DR0208）；外院目录项目：颈椎正侧位（BR00ZZZ8B-00）`,
      );
    });

    it('refuses a rejection without a reason from the region’s list (400, listing the valid codes), records one with it', async () => {
      const missing = await json<Problem>(await decide({ studyInstanceUid: S.S2, decision: 'rejected', reasonText: '想复查' }), 400);
      expect(missing.code).toBe('reason_required');
      expect(missing.message).toMatch(/不予互认.*XJ-NR-01.*XJ-NR-09 \/ A rejection needs a reasonCode/);
      expect(missing.details?.validReasons?.map((r) => r.code)).toHaveLength(9);
      const unknown = await json<Problem>(await decide({ studyInstanceUid: S.S2, decision: 'rejected', reasonCode: 'ZJ-NR-01' }), 400);
      expect(unknown).toMatchObject({
        code: 'reason_unknown',
        message: expect.stringMatching(/ZJ-NR-01.*XJ-NR-01.* \/ Reason code ZJ-NR-01 is not in the Xinjiang list/),
      });

      const res = await json<{ record: Record<string, unknown> }>(
        await decide({ studyInstanceUid: S.S2, decision: 'rejected', reasonCode: 'XJ-NR-03', reasonText: '复查见新发病灶' }),
        201,
      );
      expect(res.record).toMatchObject({
        decision: 'rejected',
        accessionNumber: 'B77',
        reason: { code: 'XJ-NR-03', zh: '影像检查结果与病情明显不符的', text: '复查见新发病灶' },
        text: `不予互认：未采用外院检查 — 机构：新疆乙医院；检查日期：${isoDay(3)}；检查号/档案号：B77；项目：颈椎正侧位DR（XJHRYX-DR0208）；理由：XJ-NR-03 影像检查结果与病情明显不符的（复查见新发病灶）`,
      });
      const decided = await events({ reminder_id: reminder.reminderId, type: 'decided', study_instance_uid: S.S2 });
      expect(decided.map((e) => [e.data.decision, e.data.reasonCode])).toEqual([['rejected', 'XJ-NR-03']]);
    });

    it('applies the receiving region’s rules: 川渝 recognises its own region only, and lists no reasons, so a rejection states its reason as text', async () => {
      const cy = await byNationalId('CY-R', ['CY2025-019']);
      // The 新疆 and 浙江 priors are the same exam by the crosswalk, but 川渝's scope is its own region.
      expect(priorUids(cy)).toEqual([S.S6]);
      expect(cy.items[0].priors[0]).toMatchObject({ outcome: 'recognizable', crossRegion: false, institution: { code: 'CY-A' } });
      const cyDecide = (body: Record<string, unknown>) =>
        post('/decisions', {
          reminderId: cy.reminderId,
          orderedItemCode: 'CY2025-019',
          studyInstanceUid: S.S6,
          decision: 'rejected',
          doctor: '刘医生',
          ...body,
        });
      expect((await json<Problem>(await cyDecide({}), 400)).code).toBe('reason_required');
      expect((await json<Problem>(await cyDecide({ reasonCode: 'XJ-NR-01', reasonText: '病情变化' }), 400)).code).toBe('reason_unknown');
      const res = await json<{ record: { reason: unknown; text: string } }>(await cyDecide({ reasonText: '病情变化，需复查' }), 201);
      expect(res.record.reason).toEqual({ code: null, zh: null, en: null, text: '病情变化，需复查' });
      expect(res.record.text).toMatch(/^不予互认：.*机构：川渝甲医院；.*项目：.*（CY2025-019）；理由：病情变化，需复查$/);
    });

    it('refuses a decision on a study the reminder did not show for that item (400) or on an unknown reminder (404)', async () => {
      expect((await json<Problem>(await decide({ studyInstanceUid: S.S4, orderedItemCode: 'XJHRYX-MR0508', decision: 'accepted' }), 400)).code).toBe(
        'not_a_reminded_prior',
      );
      expect((await json<Problem>(await decide({ studyInstanceUid: S.S1, orderedItemCode: 'XJHRYX-MR0508', decision: 'accepted' }), 400)).code).toBe(
        'not_a_reminded_prior',
      );
      expect((await json<Problem>(await decide({ studyInstanceUid: S.S1, decision: 'accepted', reasonCode: 'XJ-NR-01' }), 400)).code).toBe(
        'reason_not_applicable',
      );
      expect((await json<Problem>(await decide({ studyInstanceUid: S.S1, decision: 'maybe' }), 400)).code).toBe('invalid_body');
      expect((await json<Problem>(await decide({ reminderId: randomUUID(), studyInstanceUid: S.S1, decision: 'accepted' }), 404)).code).toBe(
        'reminder_not_found',
      );
    });

    it('records re-examinations (a reason, when given, from the list), dismissals and audits', async () => {
      const reexam = (body: Record<string, unknown>) =>
        post('/reexaminations', { reminderId: reminder.reminderId, orderedItemCode: 'XJHRYX-DR0208', doctor: '王医生', ...body });
      await json(await reexam({}), 201);
      await json(await reexam({ reasonCode: 'XJ-NR-05' }), 201);
      expect((await json<Problem>(await reexam({ reasonCode: 'BOGUS' }), 400)).code).toBe('reason_unknown');
      expect((await json<Problem>(await reexam({ orderedItemCode: 'XJHRYX-DR0101' }), 400)).code).toBe('item_not_ordered');
      const reexams = await events({ reminder_id: reminder.reminderId, type: 'reexam_ordered' });
      expect(reexams.map((e) => [e.ordered_item_code, e.data.reasonCode ?? null, e.institution_code])).toEqual([
        ['XJHRYX-DR0208', null, 'XJ-R'],
        ['XJHRYX-DR0208', 'XJ-NR-05', 'XJ-R'],
      ]);

      await json(await post(`/reminders/${reminder.reminderId}/dismissal`, { doctor: '王医生' }), 201);
      expect((await json<Problem>(await post(`/reminders/${randomUUID()}/dismissal`, {}), 404)).code).toBe('reminder_not_found');
      expect(await events({ reminder_id: reminder.reminderId, type: 'reminder_dismissed' })).toHaveLength(1);

      const audit = await json<{ type: string }>(await post('/audits', { institution: 'XJ-A', studyInstanceUid: S.S1, agrees: true, auditor: '质控科' }), 201);
      expect(audit.type).toBe('audit_result');
      expect(await events({ type: 'audit_result', study_instance_uid: S.S1 })).toEqual([
        expect.objectContaining({ institution_code: 'XJ-A', region: 'XJ', reminder_id: null, data: { agrees: true, auditor: '质控科' } }),
      ]);
      expect((await json<Problem>(await post('/audits', { institution: 'NOPE', studyInstanceUid: S.S1, agrees: true, auditor: 'x' }), 404)).code).toBe(
        'institution_not_found',
      );
      expect((await json<Problem>(await post('/audits', { institution: 'XJ-A', studyInstanceUid: randomUid(), agrees: true, auditor: 'x' }), 404)).code).toBe(
        'study_not_found',
      );
      expect((await json<Problem>(await post('/audits', { institution: 'XJ-A', studyInstanceUid: S.S1, agrees: 'yes', auditor: 'x' }), 400)).code).toBe(
        'invalid_body',
      );
    });
  });

  describe('GET /recognition/indicators and /recognition/events', () => {
    const OLD1 = randomUUID();
    const OLD2 = randomUUID();
    const get = (path: string, headers: Record<string, string> = {}) => gw.fetch(`${gw.baseUrl}/recognition${path}`, { headers });
    const indicators = async (query: string) => json<IndicatorAnswer>(await get(`/indicators?${query}`), 200);
    const rates = (a: IndicatorAnswer) =>
      Object.fromEntries(Object.entries(a.indicators).map(([k, r]) => [k, `${r.numerator}/${r.denominator}`])) as Record<
        keyof IndicatorAnswer['indicators'],
        string
      >;
    const today = { from: isoDay(1), to: isoDay(-1) };
    // As sent, BOM included (Response.text() would drop it).
    const bytes = async (res: Response) => Buffer.from(await res.arrayBuffer()).toString('utf8');

    beforeAll(async () => {
      // Today, through the API, at XJ-IND (hand-computed):
      //   R1 [DR0208] 3 priors — viewed; S1 accepted.
      //   R2 [DR0208] 3 priors — dismissed; re-examined without a reason (不遵从).
      //   R3 [DR0208] 3 priors — viewed; S2 rejected XJ-NR-03; re-examined with XJ-NR-03.
      //   R4 [MR0508] no priors — dismissed (counts nowhere).
      //   Audits by XJ-IND: S1 agrees, S5 does not.
      // → 提醒调阅率 2/3, 互认率 1/3, 互认不遵从率 1/3, 诊断符合率 1/2.
      const [r1, r2, r3, r4] = await Promise.all([
        byNationalId('XJ-IND', ['XJHRYX-DR0208']),
        byNationalId('XJ-IND', ['XJHRYX-DR0208']),
        byNationalId('XJ-IND', ['XJHRYX-DR0208']),
        byNationalId('XJ-IND', ['XJHRYX-MR0508']),
      ]);
      expect([r1, r2, r3].map((r) => r.items[0].priors.length)).toEqual([3, 3, 3]);
      expect(r4.items[0].priors).toHaveLength(0);
      const ok = async (res: Promise<Response>) => json(await res, 201);
      const item = { orderedItemCode: 'XJHRYX-DR0208', doctor: '赵医生' };
      await ok(post(`/reminders/${r1.reminderId}/views`, { studyInstanceUid: S.S1 }));
      await ok(post('/decisions', { reminderId: r1.reminderId, studyInstanceUid: S.S1, decision: 'accepted', ...item }));
      await ok(post(`/reminders/${r2.reminderId}/dismissal`, {}));
      await ok(post('/reexaminations', { reminderId: r2.reminderId, ...item }));
      await ok(post(`/reminders/${r3.reminderId}/views`, { studyInstanceUid: S.S2 }));
      await ok(post('/decisions', { reminderId: r3.reminderId, studyInstanceUid: S.S2, decision: 'rejected', reasonCode: 'XJ-NR-03', ...item }));
      await ok(post('/reexaminations', { reminderId: r3.reminderId, reasonCode: 'XJ-NR-03', ...item }));
      await ok(post(`/reminders/${r4.reminderId}/dismissal`, {}));
      await ok(post('/audits', { institution: 'XJ-IND', studyInstanceUid: S.S1, agrees: true, auditor: '质控科' }));
      await ok(post('/audits', { institution: 'XJ-IND', studyInstanceUid: S.S5, agrees: false, auditor: '质控科' }));

      // Earlier raw events, written directly (hand-computed per window, Asia/Shanghai days):
      //   OLD1 shown 2026-01-31 23:30 +08 — viewed 02-01, accepted 02-02: its story belongs to January.
      //   OLD2 shown 2026-02-01 07:30 +08 (still 01-31 in UTC) — re-examined without a reason: February.
      //   Audits 2026-01-15 (agrees) and 2026-02-15 (does not); a reminder of XJ-R in January (filtered out).
      const prior = (id: string) => ({ priors: [{ orderedItemCode: 'XJHRYX-DR0208', studyInstanceUid: `2.25.${id.length}`, outcome: 'recognizable' }] });
      const ev = (type: string, at: string, over: Record<string, unknown> = {}) => ({
        type,
        institution_code: 'XJ-IND',
        region: 'XJ',
        occurred_at: at,
        data: '{}',
        ...over,
      });
      await gw.core.db('recognition_event').insert([
        ev('reminder_shown', '2026-01-31T23:30:00+08:00', { reminder_id: OLD1, data: JSON.stringify(prior(OLD1)) }),
        ev('viewed', '2026-02-01T00:10:00+08:00', { reminder_id: OLD1, study_instance_uid: '2.25.36' }),
        ev('decided', '2026-02-02T09:00:00+08:00', {
          reminder_id: OLD1,
          ordered_item_code: 'XJHRYX-DR0208',
          study_instance_uid: '2.25.36',
          data: JSON.stringify({ decision: 'accepted' }),
        }),
        ev('reminder_shown', '2026-02-01T07:30:00+08:00', { reminder_id: OLD2, data: JSON.stringify(prior(OLD2)) }),
        ev('reexam_ordered', '2026-02-01T08:00:00+08:00', { reminder_id: OLD2, ordered_item_code: 'XJHRYX-DR0208' }),
        ev('audit_result', '2026-01-15T10:00:00+08:00', { study_instance_uid: '2.25.1', data: JSON.stringify({ agrees: true }) }),
        ev('audit_result', '2026-02-15T10:00:00+08:00', { study_instance_uid: '2.25.2', data: JSON.stringify({ agrees: false }) }),
        ev('reminder_shown', '2026-01-20T10:00:00+08:00', { institution_code: 'XJ-R', reminder_id: randomUUID(), data: JSON.stringify(prior('x')) }),
      ]);
    });

    it('computes the indicators of today’s scenario as hand-computed', async () => {
      const a = await indicators(`institution=XJ-IND&from=${today.from}&to=${today.to}`);
      expect(a.filters).toEqual({ institution: 'XJ-IND', region: null, from: today.from, to: today.to });
      expect(a.indicators).toEqual({
        reminderViewRate: { numerator: 2, denominator: 3, rate: 2 / 3 },
        recognitionRate: { numerator: 1, denominator: 3, rate: 1 / 3 },
        nonComplianceRate: { numerator: 1, denominator: 3, rate: 1 / 3 },
        diagnosticAgreementRate: { numerator: 1, denominator: 2, rate: 0.5 },
      });
      expect(a.definitions).toBe('docs/indicators.md');
    });

    it('keeps a reminder’s later events with the window it was shown in, by Asia/Shanghai days', async () => {
      expect(rates(await indicators('institution=XJ-IND&from=2026-01-01&to=2026-01-31'))).toEqual({
        reminderViewRate: '1/1',
        recognitionRate: '1/1',
        nonComplianceRate: '0/1',
        diagnosticAgreementRate: '1/1',
      });
      expect(rates(await indicators('institution=XJ-IND&from=2026-02-01&to=2026-02-28'))).toEqual({
        reminderViewRate: '0/1',
        recognitionRate: '0/1',
        nonComplianceRate: '1/1',
        diagnosticAgreementRate: '0/1',
      });
      // No window: everything of the institution.
      expect(rates(await indicators('institution=XJ-IND'))).toEqual({
        reminderViewRate: '3/5',
        recognitionRate: '2/5',
        nonComplianceRate: '2/5',
        diagnosticAgreementRate: '2/4',
      });
      const none = await indicators('region=ZJ');
      expect(none.indicators.reminderViewRate).toEqual({ numerator: 0, denominator: 0, rate: null });
    });

    it('exports the indicators as CSV (format=csv or Accept: text/csv)', async () => {
      const res = await get(`/indicators?institution=XJ-IND&from=${today.from}&to=${today.to}&format=csv`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
      expect(await bytes(res)).toBe(
        '\uFEFF指标,indicator,numerator,denominator,rate\r\n' +
          '提醒调阅率,reminder view rate,2,3,0.6667\r\n' +
          '互认率,recognition rate,1,3,0.3333\r\n' +
          '互认不遵从率,non-compliance rate,1,3,0.3333\r\n' +
          '诊断符合率,diagnostic agreement rate,1,2,0.5000\r\n',
      );
      const byAccept = await (await get('/indicators?region=ZJ', { Accept: 'text/csv' })).text();
      expect(byAccept.split('\r\n')[1]).toBe('提醒调阅率,reminder view rate,0,0,');
    });

    it('exports the raw events of the selection (JSON and CSV), without patient data', async () => {
      const jan = await json<{ events: Array<{ type: string; reminderId: string | null; occurredAt: string }> }>(
        await get('/events?institution=XJ-IND&from=2026-01-01&to=2026-01-31'),
        200,
      );
      expect(jan.events.map((e) => [e.type, e.reminderId])).toEqual([
        ['audit_result', null],
        ['reminder_shown', OLD1],
        ['viewed', OLD1],
        ['decided', OLD1],
      ]);
      expect(jan.events[1].occurredAt).toBe('2026-01-31T15:30:00.000Z');

      const all = await bytes(await get('/events?institution=XJ-IND&format=csv'));
      const lines = all.split('\r\n').filter(Boolean);
      expect(lines[0]).toBe('\uFEFFid,occurred_at,type,institution_code,region,reminder_id,ordered_item_code,study_instance_uid,data');
      expect(lines.length).toBeGreaterThan(20);
      for (const secret of [NATIONAL_ID, 'A-1', 'HOSP_A', 'TEST^PATIENT']) expect(all).not.toContain(secret);
    });

    it('refuses bad filters (400) and an unknown institution (404)', async () => {
      expect((await json<Problem>(await get('/indicators?from=2026-02-01&to=2026-01-01'), 400)).code).toBe('invalid_query');
      expect((await json<Problem>(await get('/indicators?region=XX'), 400)).code).toBe('invalid_query');
      expect((await json<Problem>(await get('/indicators?from=yesterday'), 400)).code).toBe('invalid_query');
      expect((await json<Problem>(await get('/events?format=xml'), 400)).code).toBe('invalid_query');
      expect((await json<Problem>(await get('/indicators?institution=NOPE'), 404)).code).toBe('institution_not_found');
      expect((await json<Problem>(await get('/events?institution=NOPE'), 404)).code).toBe('institution_not_found');
    });
  });
});
