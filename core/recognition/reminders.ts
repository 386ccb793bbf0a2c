/**
 * The HIS-facing recognition service (docs/indicators.md, README Endpoints):
 *
 * - reminders: the receiving hospital orders an exam; huren answers with the patient's recent
 *   prior studies that the receiving region's rules make recognizable or discretionary;
 * - 调阅: a prior retrieved (or reported viewed) in a reminder's context;
 * - decisions: accepted (互认) or rejected with a listed reason, as a line for the medical record;
 * - dismissals, re-examinations and quality audits;
 * - the raw events all of these append to recognition_event, selected by institution, region
 *   and time window for the indicators (indicators.ts) and for export.
 *
 * Patients are identified by a keyed hash only (patient-identity.ts); events carry no patient data.
 */
import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { stringify } from 'csv-stringify/sync';
import { findItem, getCatalog } from '../../catalogs';
import type { Catalog } from '../../catalogs/schema';
import { badRequest, HurenError, notFound } from '../errors';
import { normalizeCode } from './alias-normalize';
import { CATALOG_OF_REGION, evaluateEligibility, type Outcome, type Reason, type Region } from './eligibility';
import { loadInstitutionFacts, loadRecentStudyFacts, loadStudyFacts, type InstitutionFactsWithName, type LoadedStudy } from './facts';
import { computeIndicators, type EventType, type Indicators, type RecognitionEvent } from './indicators';
import { unknownInstitution } from './institutions';
import { parseNationalId } from './national-id';
import { findPatientsByNationalId, hashNationalId } from './patient-identity';
import type { PatientIdKeys } from './patient-keys';

export interface RecognitionDeps {
  db: Knex;
  /** null when the patient-identity keys are not configured (reminders then answer 503). */
  keys: PatientIdKeys | null;
  /** HUREN_VIEWER_URL: a viewer link per prior when set. */
  viewerUrl?: string;
  /** The clock (tests). */
  now?: () => Date;
}

const SHANGHAI_OFFSET_MS = 8 * 3600_000;
const DAY_MS = 86_400_000;
/** How far back priors are loaded: wider than every region's window (≤ 1 month); eligibility decides. */
export const PRIOR_LOOKBACK_DAYS = 62;

const clock = (deps: RecognitionDeps) => (deps.now ? deps.now() : new Date());
/** The Shanghai calendar date of an instant, YYYY-MM-DD. */
export const shanghaiDate = (at: Date): string => new Date(at.getTime() + SHANGHAI_OFFSET_MS).toISOString().slice(0, 10);

// ───────────────────────────── reminders ─────────────────────────────

export type PatientRef = { nationalId: string } | { patientId: string; issuerOfPatientId: string };

export interface ReminderInput {
  receivingInstitution: string;
  patient: PatientRef;
  /** Items of the receiving region's catalog; or … */
  orderedItemCodes?: string[];
  /** … the hospital's own order code, mapped through local_procedure_mapping. */
  localOrderCode?: string;
  orderingDoctor: string;
  /** The DICOMweb root as the HIS reaches it (links). */
  dicomwebBase: string;
}

export interface ReminderPrior {
  studyInstanceUid: string;
  outcome: Exclude<Outcome, 'not_recognizable'>;
  crossRegion: boolean;
  matchedItem: { catalogId: string; code: string; nameZh: string } | null;
  reasons: Reason[];
  institution: { code: string; name: string } | null;
  studyDate: string | null;
  accessionNumber: string | null;
  modalities: string[];
  validUntil: string | null;
  quality: { result: LoadedStudy['quality'] };
  hasReport: boolean;
  links: { study: string; metadata: string; viewer?: string };
}

export interface ReminderAnswer {
  reminderId: string;
  receivingInstitution: { code: string; name: string; region: Region; catalogId: string };
  createdAt: string;
  items: Array<{ orderedItemCode: string; nameZh: string; nameEn: string; priors: ReminderPrior[] }>;
}

export async function createReminder(deps: RecognitionDeps, input: ReminderInput): Promise<ReminderAnswer> {
  const { db } = deps;
  const at = clock(deps);
  const receiver = (await loadInstitutionFacts(db, [input.receivingInstitution])).get(input.receivingInstitution);
  if (!receiver) throw unknownInstitution(input.receivingInstitution);
  const catalog = regionCatalog(receiver.region);
  const keys = requireKeys(deps);

  const [ordered, patient] = await Promise.all([orderedItems(db, receiver, catalog, input), candidatePatients(db, keys, input.patient)]);
  const since = shanghaiDate(new Date(at.getTime() - PRIOR_LOOKBACK_DAYS * DAY_MS));
  const studies = await loadRecentStudyFacts(db, patient.pks, since);

  const reminderId = randomUUID();
  const items = ordered.map((code) => {
    const item = catalog.items.find((i) => i.code === code)!;
    const priors: ReminderPrior[] = [];
    for (const study of studies) {
      const e = evaluateEligibility({ study, receiver, orderedItemCode: code, at });
      if (e.outcome === 'not_recognizable') continue;
      priors.push({
        studyInstanceUid: study.studyInstanceUid,
        outcome: e.outcome,
        crossRegion: e.crossRegion,
        matchedItem: e.matchedItem && { ...e.matchedItem, nameZh: findItem(e.matchedItem.code)?.item.nameZh ?? e.matchedItem.code },
        reasons: e.reasons,
        institution: study.sender && { code: study.sender.code, name: study.sender.name },
        studyDate: study.studyDateIso,
        accessionNumber: study.accessionNumber,
        modalities: study.modalities,
        validUntil: e.validUntil?.toISOString() ?? null,
        quality: { result: study.quality },
        hasReport: study.hasReport,
        links: priorLinks(input.dicomwebBase, deps.viewerUrl, study.studyInstanceUid, reminderId),
      });
    }
    return { orderedItemCode: code, nameZh: item.nameZh, nameEn: item.nameEn, priors };
  });

  const shown = items.flatMap((i) => i.priors.map((p) => ({ orderedItemCode: i.orderedItemCode, studyInstanceUid: p.studyInstanceUid, outcome: p.outcome })));
  await db.transaction(async (trx) => {
    await trx('reminder').insert({
      id: reminderId,
      receiving_institution_code: receiver.code,
      patient_key_kind: patient.keyKind,
      patient_key_hash: patient.keyHash,
      ordered_item_codes: ordered,
      local_order_code: input.localOrderCode === undefined ? null : normalizeCode(input.localOrderCode),
      ordering_doctor: input.orderingDoctor,
      created_at: at,
    });
    const priorRows = items.flatMap((i) =>
      i.priors.map((p) => ({
        reminder_id: reminderId,
        ordered_item_code: i.orderedItemCode,
        study_instance_uid: p.studyInstanceUid,
        outcome: p.outcome,
        matched_item_code: p.matchedItem!.code,
        cross_region: p.crossRegion,
        valid_until: p.validUntil,
      })),
    );
    if (priorRows.length) await trx('reminder_prior').insert(priorRows);
    await trx('recognition_event').insert(
      eventRow({
        type: 'reminder_shown',
        institution: receiver,
        reminderId,
        data: { orderedItemCodes: ordered, priors: shown },
        occurredAt: at,
      }),
    );
  });

  return {
    reminderId,
    receivingInstitution: { code: receiver.code, name: receiver.name, region: receiver.region, catalogId: catalog.id },
    createdAt: at.toISOString(),
    items,
  };
}

function regionCatalog(region: Region): Catalog {
  const catalog = getCatalog(CATALOG_OF_REGION[region]);
  if (!catalog) throw new Error(`No catalog for region ${region}`);
  return catalog;
}

function requireKeys(deps: RecognitionDeps): PatientIdKeys {
  if (deps.keys) return deps.keys;
  throw new HurenError(
    503,
    'patient_identity_not_configured',
    '未配置患者身份密钥，无法按患者查找既往检查 / Patient-identity keys are not configured; prior studies cannot be looked up by patient',
  );
}

/** The ordered items, each an item of the receiving region's catalog (400 otherwise). */
async function orderedItems(db: Knex, receiver: InstitutionFactsWithName, catalog: Catalog, input: ReminderInput): Promise<string[]> {
  if (input.orderedItemCodes) {
    const codes = [...new Set(input.orderedItemCodes.map((c) => c.trim()))];
    for (const code of codes) {
      if (!catalog.items.some((i) => i.code === code)) throw itemNotInCatalog(code, catalog, receiver);
    }
    return codes;
  }
  const localKey = normalizeCode(input.localOrderCode ?? '');
  const mapping = await db('local_procedure_mapping')
    .where({ institution_code: receiver.code, catalog_id: catalog.id, local_key: localKey })
    .first('item_codes');
  if (!mapping || mapping.item_codes.length === 0) {
    throw badRequest(
      'local_order_code_unmapped',
      `本院项目代码 ${localKey} 未对照到${catalog.region.zh}互认目录（${catalog.id}）的项目，请先维护本地项目对照 / ` +
        `The local order code ${localKey} of ${receiver.code} is not mapped to an item of the ${catalog.region.en} catalog (${catalog.id}); add a local procedure mapping`,
      { localOrderCode: localKey, catalogId: catalog.id },
    );
  }
  const codes = [...new Set<string>(mapping.item_codes)];
  for (const code of codes) {
    if (!catalog.items.some((i) => i.code === code)) throw itemNotInCatalog(code, catalog, receiver, localKey);
  }
  return codes;
}

function itemNotInCatalog(code: string, catalog: Catalog, receiver: InstitutionFactsWithName, viaLocalCode?: string): HurenError {
  const elsewhere = findItem(code)?.catalog;
  const via = viaLocalCode ? { zh: `（本院项目代码 ${viaLocalCode} 的对照）`, en: ` (mapped from the local order code ${viaLocalCode})` } : { zh: '', en: '' };
  const hint = elsewhere
    ? { zh: `；它属于${elsewhere.region.zh}目录（${elsewhere.id}）`, en: `; it belongs to the ${elsewhere.region.en} catalog (${elsewhere.id})` }
    : { zh: '', en: '' };
  return badRequest(
    'item_not_in_catalog',
    `项目 ${code}${via.zh}不是${catalog.region.zh}互认目录（${catalog.id}，${receiver.code} 所在地区）的项目${hint.zh} / ` +
      `${code}${via.en} is not an item of the ${catalog.region.en} catalog (${catalog.id}), the catalog of ${receiver.code}'s region${hint.en}`,
    { itemCode: code, catalogId: catalog.id },
  );
}

interface CandidatePatients {
  pks: number[];
  keyKind: 'national_id' | 'local_id';
  keyHash: string;
}

/**
 * The patient rows whose studies are priors: by national ID every patient linked to it; by
 * local ID + issuer that patient and every patient sharing its national ID. Unknown patients
 * have no priors (not an error: the HIS asks before every order).
 */
async function candidatePatients(db: Knex, keys: PatientIdKeys, patient: PatientRef): Promise<CandidatePatients> {
  if ('nationalId' in patient) {
    const pks = await findPatientsByNationalId(db, patient.nationalId, keys);
    const parsed = parseNationalId(patient.nationalId);
    if (!parsed.valid) throw new Error('unreachable: findPatientsByNationalId validated the number');
    return { pks, keyKind: 'national_id', keyHash: hashNationalId(keys, parsed.normalized) };
  }
  const issuer = patient.issuerOfPatientId.trim();
  const id = patient.patientId.trim();
  const rows: Array<{ id: string | number }> = (
    await db.raw(
      `SELECT p.id FROM patient p WHERE p.issuer_of_patient_id = ? AND p.patient_id = ?
       UNION
       SELECT other.patient_pk FROM patient p
         JOIN patient_national_id own ON own.patient_pk = p.id
         JOIN patient_national_id other ON other.id_hash = own.id_hash
       WHERE p.issuer_of_patient_id = ? AND p.patient_id = ?`,
      [issuer, id, issuer, id],
    )
  ).rows;
  // `issuer|patientId` under the same keyed hash as national IDs (which never contain '|').
  return { pks: rows.map((r) => Number(r.id)), keyKind: 'local_id', keyHash: hashNationalId(keys, `${issuer}|${id}`) };
}

/**
 * WADO-RS links carry the reminder (`?reminder=`), so retrieving a prior through them is
 * recorded as 调阅. HUREN_VIEWER_URL: `{study}` / `{reminder}` are replaced; without `{study}`
 * the StudyInstanceUID is appended (an OHIF `…/viewer?StudyInstanceUIDs=`).
 */
export function priorLinks(dicomwebBase: string, viewerUrl: string | undefined, study: string, reminderId: string): ReminderPrior['links'] {
  const studyUrl = `${dicomwebBase}/studies/${study}`;
  const links: ReminderPrior['links'] = { study: `${studyUrl}?reminder=${reminderId}`, metadata: `${studyUrl}/metadata?reminder=${reminderId}` };
  if (viewerUrl) {
    const withReminder = viewerUrl.replaceAll('{reminder}', encodeURIComponent(reminderId));
    links.viewer = withReminder.includes('{study}')
      ? withReminder.replaceAll('{study}', encodeURIComponent(study))
      : `${withReminder}${encodeURIComponent(study)}`;
  }
  return links;
}

// ───────────────────────────── reminder context ─────────────────────────────

interface ReminderContext {
  id: string;
  receiver: InstitutionFactsWithName;
  orderedItemCodes: string[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isReminderId = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);

const reminderNotFound = (id: string) => notFound('reminder_not_found', `未找到提醒 ${id.slice(0, 64)} / No reminder with id ${id.slice(0, 64)}`);

async function loadReminder(db: Knex, id: string): Promise<ReminderContext> {
  if (!isReminderId(id)) throw reminderNotFound(id);
  const row = await db('reminder').where({ id }).first('id', 'receiving_institution_code', 'ordered_item_codes');
  if (!row) throw reminderNotFound(id);
  const receiver = (await loadInstitutionFacts(db, [row.receiving_institution_code])).get(row.receiving_institution_code);
  if (!receiver) throw unknownInstitution(row.receiving_institution_code);
  return { id: row.id, receiver, orderedItemCodes: row.ordered_item_codes };
}

function notAReminderPrior(reminderId: string, study: string, item?: string): HurenError {
  const forItem = item ? { zh: `（项目 ${item}）`, en: ` for item ${item}` } : { zh: '', en: '' };
  return badRequest(
    'not_a_reminded_prior',
    `检查 ${study} 不是提醒 ${reminderId}${forItem.zh} 中提示的既往检查 / Study ${study} is not a prior shown by reminder ${reminderId}${forItem.en}`,
  );
}

// ───────────────────────────── events ─────────────────────────────

interface EventInput {
  type: EventType;
  institution: Pick<InstitutionFactsWithName, 'code' | 'region'>;
  reminderId?: string | null;
  orderedItemCode?: string | null;
  studyInstanceUid?: string | null;
  data?: Record<string, unknown>;
  occurredAt: Date;
}

const eventRow = (e: EventInput) => ({
  type: e.type,
  institution_code: e.institution.code,
  region: e.institution.region,
  reminder_id: e.reminderId ?? null,
  ordered_item_code: e.orderedItemCode ?? null,
  study_instance_uid: e.studyInstanceUid ?? null,
  data: JSON.stringify(e.data ?? {}),
  occurred_at: e.occurredAt,
});

export interface RecordedEvent {
  eventId: number;
  type: EventType;
  reminderId: string | null;
  occurredAt: string;
}

async function insertEvent(db: Knex | Knex.Transaction, e: EventInput): Promise<RecordedEvent> {
  const [row] = await db('recognition_event').insert(eventRow(e)).returning(['id', 'occurred_at']);
  return { eventId: Number(row.id), type: e.type, reminderId: e.reminderId ?? null, occurredAt: new Date(row.occurred_at).toISOString() };
}

/** 调阅 reported by the HIS or the viewer: one `viewed` event per report. */
export async function recordView(deps: RecognitionDeps, reminderId: string, studyInstanceUid: string): Promise<RecordedEvent> {
  const reminder = await loadReminder(deps.db, reminderId);
  const prior = await deps.db('reminder_prior').where({ reminder_id: reminder.id, study_instance_uid: studyInstanceUid }).first('study_instance_uid');
  if (!prior) throw notAReminderPrior(reminder.id, studyInstanceUid);
  return insertEvent(deps.db, {
    type: 'viewed',
    institution: reminder.receiver,
    reminderId: reminder.id,
    studyInstanceUid,
    data: { via: 'api' },
    occurredAt: clock(deps),
  });
}

/**
 * 调阅 through WADO-RS (a retrieve carrying the reminder): one `viewed` event per (reminder,
 * study), however many requests the retrieve takes; nothing when the study is not a prior of
 * the reminder. An advisory lock makes the check-then-insert atomic across gateways.
 * Resolves to true when an event was recorded.
 */
export async function recordRetrieveView(db: Knex, reminderId: string, studyInstanceUid: string): Promise<boolean> {
  if (!isReminderId(reminderId)) return false;
  return db.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', [`huren:viewed:${reminderId.toLowerCase()}:${studyInstanceUid}`]);
    const inserted = await trx.raw(
      `INSERT INTO recognition_event (type, institution_code, region, reminder_id, study_instance_uid, data)
       SELECT 'viewed', r.receiving_institution_code, i.region, r.id, ?, ?::jsonb
         FROM reminder r JOIN institution i ON i.code = r.receiving_institution_code
        WHERE r.id = ?
          AND EXISTS (SELECT 1 FROM reminder_prior p WHERE p.reminder_id = r.id AND p.study_instance_uid = ?)
          AND NOT EXISTS (SELECT 1 FROM recognition_event e WHERE e.reminder_id = r.id AND e.type = 'viewed' AND e.study_instance_uid = ?)
       RETURNING id`,
      [studyInstanceUid, JSON.stringify({ via: 'wado' }), reminderId, studyInstanceUid, studyInstanceUid],
    );
    return inserted.rows.length > 0;
  });
}

/** The doctor closed the reminder (without viewing, or after). */
export async function recordDismissal(deps: RecognitionDeps, reminderId: string, doctor?: string): Promise<RecordedEvent> {
  const reminder = await loadReminder(deps.db, reminderId);
  return insertEvent(deps.db, {
    type: 'reminder_dismissed',
    institution: reminder.receiver,
    reminderId: reminder.id,
    data: doctor ? { doctor } : {},
    occurredAt: clock(deps),
  });
}

export interface ReexaminationInput {
  reminderId: string;
  orderedItemCode: string;
  reasonCode?: string;
  doctor: string;
}

/** The HIS reports that the reminded exam was ordered again (with a listed reason, when the doctor gave one). */
export async function recordReexamination(deps: RecognitionDeps, input: ReexaminationInput): Promise<RecordedEvent> {
  const reminder = await loadReminder(deps.db, input.reminderId);
  if (!reminder.orderedItemCodes.includes(input.orderedItemCode)) {
    throw badRequest(
      'item_not_ordered',
      `项目 ${input.orderedItemCode} 不是提醒 ${reminder.id} 的所开项目（${reminder.orderedItemCodes.join('、')}）/ ` +
        `${input.orderedItemCode} is not an ordered item of reminder ${reminder.id} (${reminder.orderedItemCodes.join(', ')})`,
    );
  }
  const catalog = regionCatalog(reminder.receiver.region);
  const reason = input.reasonCode === undefined ? undefined : listedReason(catalog, input.reasonCode);
  return insertEvent(deps.db, {
    type: 'reexam_ordered',
    institution: reminder.receiver,
    reminderId: reminder.id,
    orderedItemCode: input.orderedItemCode,
    data: { ...(reason && { reasonCode: reason.code }), doctor: input.doctor },
    occurredAt: clock(deps),
  });
}

export interface AuditInput {
  /** The auditing institution. */
  institution: string;
  studyInstanceUid: string;
  agrees: boolean;
  auditor: string;
  note?: string;
}

/** A quality audit compared a recognised study with a re-read or the follow-up (诊断符合率). */
export async function recordAudit(deps: RecognitionDeps, input: AuditInput): Promise<RecordedEvent> {
  const [institutions, study] = await Promise.all([
    loadInstitutionFacts(deps.db, [input.institution]),
    deps.db('study').where({ study_instance_uid: input.studyInstanceUid }).first('study_instance_uid'),
  ]);
  const institution = institutions.get(input.institution);
  if (!institution) throw unknownInstitution(input.institution);
  if (!study) throw notFound('study_not_found', `未找到该检查 / No such study: ${input.studyInstanceUid}`);
  return insertEvent(deps.db, {
    type: 'audit_result',
    institution,
    studyInstanceUid: input.studyInstanceUid,
    data: { agrees: input.agrees, auditor: input.auditor, ...(input.note && { note: input.note }) },
    occurredAt: clock(deps),
  });
}

// ───────────────────────────── decisions ─────────────────────────────

export interface DecisionInput {
  reminderId: string;
  studyInstanceUid: string;
  orderedItemCode: string;
  decision: 'accepted' | 'rejected';
  reasonCode?: string;
  reasonText?: string;
  doctor: string;
}

export interface DecisionRecord {
  institutionName: string;
  institutionCode: string | null;
  /** YYYY-MM-DD */
  examDate: string | null;
  /** AccessionNumber, else the StudyID (检查号/档案号). */
  accessionNumber: string | null;
  studyInstanceUid: string;
  /** The ordered item (receiving region's catalog). */
  itemCode: string;
  itemName: string;
  /** Set when the prior matched through another region's item. */
  matchedItem?: { catalogId: string; code: string; name: string };
  decision: 'accepted' | 'rejected';
  reason: { code: string | null; zh: string | null; en: string | null; text: string | null } | null;
  doctor: string;
  decidedAt: string;
  /** The line to paste into the medical record. */
  text: string;
}

/**
 * The ready-to-paste line, e.g.
 *   互认：采用外院检查 — 机构：XX医院；检查日期：2026-11-10；检查号/档案号：A123；项目：颈椎正侧位DR（XJHRYX-DR0208）
 *   不予互认：未采用外院检查 — 机构：…；理由：XJ-NR-03 影像检查结果与病情明显不符（补充说明）
 */
export function decisionRecordText(r: Omit<DecisionRecord, 'text'>): string {
  const parts = [
    `机构：${r.institutionName}`,
    `检查日期：${r.examDate ?? '不详'}`,
    `检查号/档案号：${r.accessionNumber ?? '无'}`,
    `项目：${r.itemName}（${r.itemCode}）`,
  ];
  if (r.matchedItem) parts.push(`外院目录项目：${r.matchedItem.name}（${r.matchedItem.code}）`);
  if (r.decision === 'accepted') return `互认：采用外院检查 — ${parts.join('；')}`;
  const reason = r.reason;
  const listed = reason?.code ? `${reason.code} ${reason.zh ?? ''}`.trim() : '';
  const text = reason?.text ?? '';
  const why = listed ? `${listed}${text ? `（${text}）` : ''}` : text;
  return `不予互认：未采用外院检查 — ${parts.join('；')}；理由：${why}`;
}

/** The region's 不予互认 reasons, for a bilingual 400 that lists them. */
function reasonList(catalog: Catalog): { text: string; codes: Array<{ code: string; zh: string; en: string }> } {
  const codes = catalog.nonRecognitionReasons.map(({ code, zh, en }) => ({ code, zh: trimPunctuation(zh), en: trimPunctuation(en) }));
  return { codes, text: codes.map((r) => r.code).join(', ') };
}

const trimPunctuation = (s: string) => s.replace(/[；;。.，,\s]+$/u, '');

function listedReason(catalog: Catalog, code: string): { code: string; zh: string; en: string } {
  const list = reasonList(catalog);
  const found = list.codes.find((r) => r.code === code);
  if (found) return found;
  throw badRequest(
    'reason_unknown',
    list.codes.length
      ? `理由代码 ${code} 不在${catalog.region.zh}不予互认情形列表中，可用：${list.text} / ` +
          `Reason code ${code} is not in the ${catalog.region.en} list of non-recognition reasons; valid codes: ${list.text}`
      : `${catalog.region.zh}文件未列出不予互认情形，无理由代码可用，请以 reasonText 说明理由 / ` +
          `The ${catalog.region.en} document lists no non-recognition reasons, so no reason code applies; give the reason as reasonText`,
    { validReasons: list.codes },
  );
}

export async function recordDecision(deps: RecognitionDeps, input: DecisionInput): Promise<{ decisionId: number; record: DecisionRecord }> {
  const { db } = deps;
  const reminder = await loadReminder(db, input.reminderId);
  const prior = await db('reminder_prior')
    .where({ reminder_id: reminder.id, ordered_item_code: input.orderedItemCode, study_instance_uid: input.studyInstanceUid })
    .first('matched_item_code', 'cross_region');
  if (!prior) throw notAReminderPrior(reminder.id, input.studyInstanceUid, input.orderedItemCode);
  const catalog = regionCatalog(reminder.receiver.region);
  const reason = decisionReason(catalog, input);

  const [study] = await loadStudyFacts(db, [input.studyInstanceUid]);
  if (!study) throw notFound('study_not_found', `未找到该检查 / No such study: ${input.studyInstanceUid}`);
  const item = catalog.items.find((i) => i.code === input.orderedItemCode);
  const matched = prior.cross_region ? findItem(prior.matched_item_code) : undefined;
  const decidedAt = clock(deps);
  const fields: Omit<DecisionRecord, 'text'> = {
    institutionName: study.sender?.name ?? study.institutionNameAsSent ?? '未知机构',
    institutionCode: study.sender?.code ?? null,
    examDate: study.studyDateIso,
    accessionNumber: study.accessionNumber ?? study.studyId,
    studyInstanceUid: study.studyInstanceUid,
    itemCode: input.orderedItemCode,
    itemName: item?.nameZh ?? input.orderedItemCode,
    ...(matched && { matchedItem: { catalogId: matched.catalog.id, code: matched.item.code, name: matched.item.nameZh } }),
    decision: input.decision,
    reason,
    doctor: input.doctor,
    decidedAt: decidedAt.toISOString(),
  };
  const record: DecisionRecord = { ...fields, text: decisionRecordText(fields) };

  const decisionId = await db.transaction(async (trx) => {
    const [row] = await trx('recognition_decision')
      .insert({
        reminder_id: reminder.id,
        ordered_item_code: input.orderedItemCode,
        study_instance_uid: input.studyInstanceUid,
        decision: input.decision,
        reason_code: reason?.code ?? null,
        reason_text: reason?.text ?? null,
        doctor: input.doctor,
        record: JSON.stringify(record),
        decided_at: decidedAt,
      })
      .returning('id');
    const id = Number(row.id);
    await insertEvent(trx, {
      type: 'decided',
      institution: reminder.receiver,
      reminderId: reminder.id,
      orderedItemCode: input.orderedItemCode,
      studyInstanceUid: input.studyInstanceUid,
      data: { decision: input.decision, ...(reason?.code && { reasonCode: reason.code }), decisionId: id, doctor: input.doctor },
      occurredAt: decidedAt,
    });
    return id;
  });
  return { decisionId, record };
}

/**
 * A rejection needs a reason from the receiving region's list (reasonText adds to it). A region
 * whose document lists none (川渝) cannot be held to a list: there the reason is the free text.
 */
function decisionReason(catalog: Catalog, input: DecisionInput): DecisionRecord['reason'] {
  const text = input.reasonText?.trim() || null;
  if (input.decision === 'accepted') {
    if (input.reasonCode !== undefined) {
      throw badRequest('reason_not_applicable', '采用（互认）时不填不予互认理由 / A reason code applies to rejections only, not to an accepted prior');
    }
    return text ? { code: null, zh: null, en: null, text } : null;
  }
  const list = reasonList(catalog);
  if (input.reasonCode === undefined) {
    if (list.codes.length === 0 && text) return { code: null, zh: null, en: null, text };
    throw badRequest(
      'reason_required',
      list.codes.length
        ? `不予互认须选择${catalog.region.zh}文件所列情形之一（reasonCode），可用：${list.text} / ` +
            `A rejection needs a reasonCode from the ${catalog.region.en} list of non-recognition reasons: ${list.text}`
        : `不予互认须以 reasonText 说明理由（${catalog.region.zh}文件未列出不予互认情形）/ ` +
            `A rejection needs a reasonText (the ${catalog.region.en} document lists no non-recognition reasons)`,
      { validReasons: list.codes },
    );
  }
  const reason = listedReason(catalog, input.reasonCode);
  return { code: reason.code, zh: reason.zh, en: reason.en, text };
}

// ───────────────────────────── selection, indicators, export ─────────────────────────────

export interface EventFilter {
  institution?: string;
  region?: Region;
  /** YYYY-MM-DD, inclusive, Asia/Shanghai days. */
  from?: string;
  to?: string;
}

export interface StoredEvent extends RecognitionEvent {
  id: number;
  institutionCode: string;
  region: string;
  occurredAt: string;
}

/** 00:00 +08:00 of a Shanghai calendar date, plus `days`. */
const shanghaiMidnight = (date: string, days = 0): Date => {
  const [y, m, d] = date.split('-').map(Number);
  return new Date(Date.UTC(y, m - 1, d + days) - SHANGHAI_OFFSET_MS);
};

/**
 * The events of a window, so that a reminder's story stays whole: every reminder whose
 * `reminder_shown` falls in the window (and matches institution/region), with all of its
 * events whenever they happened (a decision the day after `to` still counts for it), plus the
 * `audit_result` events of the window. Events of reminders shown before `from` are left out.
 */
export async function selectEvents(db: Knex, filter: EventFilter): Promise<StoredEvent[]> {
  const scoped = (q: Knex.QueryBuilder) => {
    if (filter.institution) q.where('institution_code', filter.institution);
    if (filter.region) q.where('region', filter.region);
    if (filter.from) q.where('occurred_at', '>=', shanghaiMidnight(filter.from));
    if (filter.to) q.where('occurred_at', '<', shanghaiMidnight(filter.to, 1));
    return q;
  };
  const shown = scoped(db('recognition_event').where('type', 'reminder_shown').whereNotNull('reminder_id').select('reminder_id'));
  const rows = await db('recognition_event')
    .where((q) => {
      q.whereIn('reminder_id', shown).orWhere((audit) => scoped(audit.where('type', 'audit_result')));
    })
    .orderBy([
      { column: 'occurred_at', order: 'asc' },
      { column: 'id', order: 'asc' },
    ])
    .select('id', 'type', 'institution_code', 'region', 'reminder_id', 'ordered_item_code', 'study_instance_uid', 'data', 'occurred_at');
  return rows.map((r) => ({
    id: Number(r.id),
    type: r.type,
    institutionCode: r.institution_code,
    region: r.region,
    reminderId: r.reminder_id,
    orderedItemCode: r.ordered_item_code,
    studyInstanceUid: r.study_instance_uid,
    data: r.data,
    occurredAt: new Date(r.occurred_at).toISOString(),
  }));
}

export const INDICATOR_LABELS: Record<keyof Indicators, { zh: string; en: string }> = {
  reminderViewRate: { zh: '提醒调阅率', en: 'reminder view rate' },
  recognitionRate: { zh: '互认率', en: 'recognition rate' },
  nonComplianceRate: { zh: '互认不遵从率', en: 'non-compliance rate' },
  diagnosticAgreementRate: { zh: '诊断符合率', en: 'diagnostic agreement rate' },
};

export interface IndicatorReport {
  filters: { institution: string | null; region: Region | null; from: string | null; to: string | null };
  indicators: Indicators;
  events: number;
  definitions: string;
}

export const INDICATOR_DEFINITIONS = 'docs/indicators.md';

export async function indicatorReport(db: Knex, filter: EventFilter): Promise<IndicatorReport> {
  if (filter.institution && !(await db('institution').where({ code: filter.institution }).first('code'))) throw unknownInstitution(filter.institution);
  const events = await selectEvents(db, filter);
  return {
    filters: { institution: filter.institution ?? null, region: filter.region ?? null, from: filter.from ?? null, to: filter.to ?? null },
    indicators: computeIndicators(events),
    events: events.length,
    definitions: INDICATOR_DEFINITIONS,
  };
}

/** UTF-8 with BOM and CRLF, as Excel opens Chinese text correctly (like the institution export). */
const csv = (rows: unknown[][]) => `\uFEFF${stringify(rows, { record_delimiter: '\r\n' })}`;

export function indicatorsCsv(indicators: Indicators): string {
  const rows = (Object.keys(INDICATOR_LABELS) as Array<keyof Indicators>).map((key) => {
    const { numerator, denominator, rate } = indicators[key];
    return [INDICATOR_LABELS[key].zh, INDICATOR_LABELS[key].en, numerator, denominator, rate === null ? '' : rate.toFixed(4)];
  });
  return csv([['指标', 'indicator', 'numerator', 'denominator', 'rate'], ...rows]);
}

export const EVENT_CSV_COLUMNS = ['id', 'occurred_at', 'type', 'institution_code', 'region', 'reminder_id', 'ordered_item_code', 'study_instance_uid', 'data'];

export function eventsCsv(events: StoredEvent[]): string {
  return csv([
    EVENT_CSV_COLUMNS,
    ...events.map((e) => [
      e.id,
      e.occurredAt,
      e.type,
      e.institutionCode,
      e.region,
      e.reminderId ?? '',
      e.orderedItemCode ?? '',
      e.studyInstanceUid ?? '',
      JSON.stringify(e.data),
    ]),
  ]);
}
