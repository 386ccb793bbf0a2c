import { randomBytes, randomUUID } from 'node:crypto';
import { decodeKeys } from '../../../core/recognition/patient-keys';
import { hashNationalId } from '../../../core/recognition/patient-identity';
import type { Role } from '../../../core/security/roles';
import { makeInstance, randomUid } from '../../support/dicom-factory';
import { multipartBody, startTestGateway, type TestCredential, type TestGateway } from '../../support/gateway';

/**
 * Role × endpoint × institution: who may do what, allowed and denied, each case with the audit
 * record it leaves (docs/security.md). Two hospitals H-A and H-B, platform operators, a patient
 * of H-A with a 居民身份证号, another patient of H-A without one, a patient of H-B.
 */
describe('access matrix', () => {
  const NATIONAL_ID = '11010519491231002X';
  const keyEnv = { HUREN_PATIENT_ID_HASH_KEY: randomBytes(32).toString('base64'), HUREN_PATIENT_ID_ENCRYPTION_KEY: randomBytes(32).toString('base64') };
  const saved = { ...process.env };
  let gw: TestGateway;
  const c: Record<string, TestCredential> = {};
  const SA = randomUid(); // H-A, patient with national ID
  const SC = randomUid(); // H-A, other patient (reachable by H-B only through a reminder)
  const SB = randomUid(); // H-B
  const reminderOfB = randomUUID();
  const reminderOfA = randomUUID();
  const seriesA = randomUid();

  async function stow(cred: TestCredential, instance: Buffer): Promise<Response> {
    const { body, contentType } = multipartBody([instance]);
    return gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { ...cred.headers, 'Content-Type': contentType } });
  }

  beforeAll(async () => {
    Object.assign(process.env, keyEnv);
    gw = await startTestGateway({ env: keyEnv });
    const make = async (name: string, roles: Role[], institution: string | null) => (c[name] = await gw.credential({ roles, institution, name }));
    await make('A_pacs', ['pacs'], 'H-A');
    await make('A_viewer', ['viewer'], 'H-A');
    await make('A_his', ['his'], 'H-A');
    await make('A_quality', ['quality'], 'H-A');
    await make('B_pacs', ['pacs'], 'H-B');
    await make('B_viewer', ['viewer'], 'H-B');
    await make('B_his', ['his'], 'H-B');
    await make('P_admin', ['admin'], null);
    await make('P_viewer', ['viewer'], null);
    await make('P_ops', ['ops'], null);
    const withId = makeInstance({
      studyInstanceUid: SA,
      seriesInstanceUid: seriesA,
      patientId: 'A-1',
      extra: {
        IssuerOfPatientID: 'HOSP_A',
        PatientSex: 'F',
        PatientBirthDate: '19491231',
        OtherPatientIDsSequence: [{ PatientID: NATIONAL_ID, IssuerOfPatientID: 'RESIDENT_ID', TypeOfPatientID: 'TEXT' }],
      },
    });
    expect((await stow(c.A_pacs, withId)).status).toBe(200);
    // InstitutionName says H-B's name: the credential's institution wins.
    expect(
      (await stow(c.A_pacs, makeInstance({ studyInstanceUid: SC, patientId: 'A-2', extra: { IssuerOfPatientID: 'HOSP_A', InstitutionName: 'H-B' } }))).status,
    ).toBe(200);
    expect((await stow(c.B_pacs, makeInstance({ studyInstanceUid: SB, patientId: 'B-1', extra: { IssuerOfPatientID: 'HOSP_B' } }))).status).toBe(200);
    await Promise.all([SA, SC, SB].map((s) => gw.waitForIndexed(s, 1)));
    // Reminders as the HIS would have created them (their eligibility is tested elsewhere).
    for (const [id, inst, prior] of [
      [reminderOfB, 'H-B', SC],
      [reminderOfA, 'H-A', SB],
    ] as const) {
      await gw.core.db('reminder').insert({
        id,
        receiving_institution_code: inst,
        patient_key_kind: 'local_id',
        patient_key_hash: `h1:test:${inst}`,
        ordered_item_codes: ['X'],
        ordering_doctor: 'Dr',
      });
      await gw.core
        .db('reminder_prior')
        .insert({ reminder_id: id, ordered_item_code: 'X', study_instance_uid: prior, outcome: 'recognizable', matched_item_code: 'X', cross_region: false });
    }
  });
  afterAll(async () => {
    await gw.close();
    for (const k of Object.keys(keyEnv)) if (saved[k] === undefined) delete process.env[k];
  });

  const lastSeq = async () => Number((await gw.core.db('audit_event').max({ m: 'seq' }))[0].m ?? 0);

  interface Case {
    name: string;
    who: string | null;
    method?: string;
    path: string;
    body?: unknown;
    headers?: Record<string, string>;
    status: number;
    /** The audit record the request leaves; null = none (unaudited reads such as metrics scrapes). */
    audit: { action: string; outcome: string; study?: string; denied?: string; patient?: boolean } | null;
    check?: (res: Response, text: string) => void | Promise<void>;
  }

  const uids = (text: string) => (JSON.parse(text) as Array<Record<string, { Value: string[] }>>).map((r) => r['0020000D'].Value[0]).sort();
  const json = (body: unknown) => ({ body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });

  const cases: Case[] = [
    // STOW-RS: pacs only; an institution adds only to its own studies.
    { name: 'anonymous STOW', who: null, method: 'POST', path: '/dicomweb/studies', status: 401, audit: { action: 'auth.login', outcome: 'denied' } },
    {
      name: 'viewer cannot STOW',
      who: 'A_viewer',
      method: 'POST',
      path: '/dicomweb/studies',
      status: 403,
      audit: { action: 'dicomweb.stow', outcome: 'denied' },
    },
    // QIDO-RS: own studies; wildcards never reach another hospital's patients.
    {
      name: 'A sees its own studies and the prior its reminder listed',
      who: 'A_viewer',
      path: '/dicomweb/studies',
      status: 200,
      audit: { action: 'dicomweb.query', outcome: 'success' },
      check: (_r, t) => expect(uids(t)).toEqual([SA, SB, SC].sort()),
    },
    {
      name: 'B browsing with wildcards sees its own and its reminder’s prior, never A’s other patients',
      who: 'B_viewer',
      path: '/dicomweb/studies?PatientName=*&PatientID=*',
      status: 200,
      audit: { action: 'dicomweb.query', outcome: 'success' },
      check: (_r, t) => expect(uids(t)).toEqual([SB, SC].sort()),
    },
    {
      name: 'B asking for A’s study by UID finds nothing',
      who: 'B_viewer',
      path: `/dicomweb/studies?StudyInstanceUID=${SA}`,
      status: 200,
      audit: { action: 'dicomweb.query', outcome: 'success' },
      check: (_r, t) => expect(t).toBe('[]'),
    },
    {
      name: 'B’s study-level search in A’s study is empty',
      who: 'B_viewer',
      path: `/dicomweb/studies/${SA}/series`,
      status: 200,
      audit: { action: 'dicomweb.query', outcome: 'success', study: SA },
      check: (_r, t) => expect(t).toBe('[]'),
    },
    { name: 'his cannot query', who: 'A_his', path: '/dicomweb/studies', status: 403, audit: { action: 'dicomweb.query', outcome: 'denied' } },
    {
      name: 'a national-ID wildcard is refused',
      who: 'B_viewer',
      path: '/dicomweb/studies?PatientNationalID=1101*',
      status: 400,
      audit: { action: 'dicomweb.query', outcome: 'failure' },
    },
    // WADO-RS: own, platform; another's study answers 404 as if missing.
    {
      name: 'A retrieves its metadata',
      who: 'A_viewer',
      path: `/dicomweb/studies/${SA}/metadata`,
      status: 200,
      audit: { action: 'dicomweb.retrieve', outcome: 'success', study: SA, patient: true },
    },
    {
      name: 'B cannot retrieve A’s study',
      who: 'B_viewer',
      path: `/dicomweb/studies/${SA}/metadata`,
      status: 404,
      audit: { action: 'dicomweb.retrieve', outcome: 'denied', study: SA, denied: 'foreign' },
    },
    {
      name: 'B cannot retrieve A’s series',
      who: 'B_viewer',
      path: `/dicomweb/studies/${SA}/series/${seriesA}`,
      status: 404,
      audit: { action: 'dicomweb.retrieve', outcome: 'denied', denied: 'foreign' },
    },
    {
      name: 'a missing study is the same 404',
      who: 'B_viewer',
      path: `/dicomweb/studies/1.2.3.4.5/metadata`,
      status: 404,
      audit: { action: 'dicomweb.retrieve', outcome: 'denied', denied: 'no_study' },
    },
    {
      name: 'the platform viewer retrieves anything',
      who: 'P_viewer',
      path: `/dicomweb/studies/${SB}/metadata`,
      status: 200,
      audit: { action: 'dicomweb.retrieve', outcome: 'success', study: SB },
    },
    // Reminder context: B created a reminder listing A's study SC.
    {
      name: 'B retrieves a prior its reminder listed',
      who: 'B_viewer',
      path: `/dicomweb/studies/${SC}/metadata`,
      status: 200,
      audit: { action: 'dicomweb.retrieve', outcome: 'success', study: SC },
    },
    {
      name: 'B finds that prior by QIDO too',
      who: 'B_viewer',
      path: `/dicomweb/studies?StudyInstanceUID=${SC}&reminder=${reminderOfB}`,
      status: 200,
      audit: { action: 'dicomweb.query', outcome: 'success', study: SC },
      check: (_r, t) => expect(uids(t)).toEqual([SC]),
    },
    {
      name: 'naming another hospital’s reminder is refused',
      who: 'B_viewer',
      path: `/dicomweb/studies/${SB}/metadata?reminder=${reminderOfA}`,
      status: 404,
      audit: { action: 'dicomweb.retrieve', outcome: 'denied', denied: 'foreign_reminder' },
    },
    // National-ID query: B treats A's patient, finds and then retrieves the study.
    {
      name: 'B queries by the patient’s national ID',
      who: 'B_viewer',
      path: `/dicomweb/studies?PatientNationalID=${NATIONAL_ID}`,
      status: 200,
      audit: { action: 'dicomweb.query', outcome: 'success', study: SA, patient: true },
      check: (_r, t) => expect(uids(t)).toEqual([SA]),
    },
    {
      name: 'and then retrieves it (grant)',
      who: 'B_viewer',
      path: `/dicomweb/studies/${SA}/metadata`,
      status: 200,
      audit: { action: 'dicomweb.retrieve', outcome: 'success', study: SA, patient: true },
    },
    {
      name: 'B still cannot add to A’s study',
      who: 'B_pacs',
      method: 'POST',
      path: '/dicomweb/studies',
      status: 409,
      audit: { action: 'dicomweb.stow', outcome: 'failure' },
    },
    // The HIS: reminders for its own institution, actions on its own reminders only.
    {
      name: 'B cannot create a reminder as A',
      who: 'B_his',
      method: 'POST',
      path: '/recognition/reminders',
      ...json({ receivingInstitution: 'H-A', patient: { nationalId: NATIONAL_ID }, orderedItemCodes: ['X'], orderingDoctor: 'Dr' }),
      status: 403,
      audit: { action: 'recognition.reminder', outcome: 'denied' },
    },
    {
      name: 'B’s HIS creates its own reminder (an unknown item: refused by the service, still audited)',
      who: 'B_his',
      method: 'POST',
      path: '/recognition/reminders',
      ...json({ receivingInstitution: 'H-B', patient: { nationalId: NATIONAL_ID }, orderedItemCodes: ['NOT-AN-ITEM'], orderingDoctor: 'Dr' }),
      status: 400,
      audit: { action: 'recognition.reminder', outcome: 'failure' },
    },
    {
      name: 'B cannot record a view on A’s reminder',
      who: 'B_his',
      method: 'POST',
      path: `/recognition/reminders/${reminderOfA}/views`,
      ...json({ studyInstanceUid: SB }),
      status: 404,
      audit: { action: 'recognition.view', outcome: 'failure' },
    },
    {
      name: 'B records a view on its own reminder',
      who: 'B_his',
      method: 'POST',
      path: `/recognition/reminders/${reminderOfB}/views`,
      ...json({ studyInstanceUid: SC }),
      status: 201,
      audit: { action: 'recognition.view', outcome: 'success', study: SC },
    },
    {
      name: 'B cannot decide on A’s reminder',
      who: 'B_his',
      method: 'POST',
      path: '/recognition/decisions',
      ...json({ reminderId: reminderOfA, studyInstanceUid: SB, orderedItemCode: 'X', decision: 'accepted', doctor: 'Dr' }),
      status: 404,
      audit: { action: 'recognition.decision', outcome: 'failure' },
    },
    {
      name: 'viewer cannot create reminders',
      who: 'A_viewer',
      method: 'POST',
      path: '/recognition/reminders',
      ...json({}),
      status: 403,
      audit: { action: 'recognition.reminder', outcome: 'denied' },
    },
    // Senders' patient identity and reports: own patients and studies only.
    {
      name: 'B cannot link a national ID to A’s patient',
      who: 'B_pacs',
      method: 'PUT',
      path: '/recognition/patients/national-id',
      ...json({ issuerOfPatientId: 'HOSP_A', patientId: 'A-2', nationalId: NATIONAL_ID }),
      status: 404,
      audit: { action: 'recognition.national_id', outcome: 'failure' },
    },
    {
      name: 'B cannot attach a report to A’s study',
      who: 'B_pacs',
      method: 'POST',
      path: `/recognition/studies/${SA}/reports`,
      ...json({ author: 'x', signedAt: '2026-01-01T00:00:00+08:00', text: 'x' }),
      status: 404,
      audit: { action: 'recognition.report', outcome: 'failure', study: SA },
    },
    // Quality: an institution's own indicators.
    {
      name: 'quality reads its own indicators',
      who: 'A_quality',
      path: '/recognition/indicators?institution=H-A',
      status: 200,
      audit: { action: 'recognition.indicators', outcome: 'success' },
    },
    {
      name: 'quality cannot read another’s',
      who: 'A_quality',
      path: '/recognition/indicators?institution=H-B',
      status: 403,
      audit: { action: 'recognition.indicators', outcome: 'denied' },
    },
    {
      name: 'his cannot read indicators',
      who: 'A_his',
      path: '/recognition/indicators?institution=H-A',
      status: 403,
      audit: { action: 'recognition.indicators', outcome: 'denied' },
    },
    // Administration and operations: platform roles.
    { name: 'admin lists credentials', who: 'P_admin', path: '/admin/credentials', status: 200, audit: { action: 'admin.credentials', outcome: 'success' } },
    {
      name: 'a viewer cannot administer',
      who: 'A_viewer',
      path: '/admin/institutions',
      status: 403,
      audit: { action: 'admin.institutions', outcome: 'denied' },
    },
    {
      name: 'admin changes an institution',
      who: 'P_admin',
      method: 'PUT',
      path: '/admin/institutions/H-C',
      ...json({ name: '丙医院', region: 'CY', level: 'L2A' }),
      status: 201,
      audit: { action: 'admin.institutions', outcome: 'success' },
    },
    { name: 'admin cannot read metrics', who: 'P_admin', path: '/metrics', status: 403, audit: { action: 'ops.metrics', outcome: 'denied' } },
    { name: 'ops reads metrics (not audited)', who: 'P_ops', path: '/metrics', status: 200, audit: null },
    { name: 'ops reads readiness (not audited)', who: 'P_ops', path: '/readyz', status: 200, audit: null },
    { name: 'liveness is public', who: null, path: '/healthz', status: 200, audit: null },
  ];

  it.each(cases.map((k) => [k.name, k] as const))('%s', async (_name, k) => {
    const before = await lastSeq();
    const headers: Record<string, string> = { ...(k.headers ?? {}), Authorization: k.who ? c[k.who].headers.Authorization : '' };
    let body = k.body as RequestInit['body'];
    if (k.method === 'POST' && k.path === '/dicomweb/studies' && body === undefined) {
      // A STOW into A's study (SA) for the pacs cases; others never get that far.
      const mp = multipartBody([makeInstance({ studyInstanceUid: SA, patientId: 'B-X' })]);
      body = mp.body;
      headers['Content-Type'] = mp.contentType;
    }
    const res = await gw.fetch(`${gw.baseUrl}${k.path}`, { method: k.method ?? 'GET', headers, body });
    const text = await res.text();
    expect([k.name, res.status]).toEqual([k.name, k.status]);
    if (k.check) await k.check(res, text);
    await gw.flushAudit();
    const rows = await gw.core.db('audit_event').where('seq', '>', before).orderBy('seq');
    if (k.audit === null) {
      expect(rows).toEqual([]);
      return;
    }
    expect(rows).toHaveLength(1);
    const [row] = rows;
    expect(row).toMatchObject({ action: k.audit.action, outcome: k.audit.outcome, status: k.status, client_address: expect.stringMatching(/127\.0\.0\.1/) });
    if (k.who) expect(row.actor).toBe(c[k.who].id);
    if (k.audit.study) expect(row.study_instance_uid).toBe(k.audit.study);
    if (k.audit.denied) expect(row.details.denied).toBe(k.audit.denied);
    if (k.audit.patient) expect(row.patient_hash).toBe(hashNationalId(decodeKeys(keyEnv), NATIONAL_ID));
    // Query strings and bodies never reach the trail.
    expect(JSON.stringify(row)).not.toContain(NATIONAL_ID);
  });

  it('attributes a study to the STOWing credential’s institution, whatever InstitutionName says', async () => {
    expect(await gw.core.db('study').where({ study_instance_uid: SC }).first('sending_institution_code')).toEqual({ sending_institution_code: 'H-A' });
    const instance = await gw.core.db('instance').where({ study_instance_uid: SC }).first('received_from_institution');
    expect(instance.received_from_institution).toBe('H-A');
  });

  it('refuses another institution’s instances in a study with FailureReason 0x0124, storing nothing', async () => {
    const before = await gw.core.db('instance').where({ study_instance_uid: SA });
    const res = await stow(c.B_pacs, makeInstance({ studyInstanceUid: SA, patientId: 'EVIL' }));
    expect(res.status).toBe(409);
    const answer = (await res.json()) as Record<string, { Value: Array<Record<string, { Value: number[] }>> }>;
    expect(answer['00081198'].Value[0]['00081197'].Value).toEqual([0x0124]);
    expect(await gw.core.db('instance').where({ study_instance_uid: SA })).toHaveLength(before.length);
  });
});
