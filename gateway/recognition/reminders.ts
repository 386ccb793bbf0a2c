/**
 * The HIS-facing recognition API (logic in core/recognition/reminders.ts):
 *
 *   POST /recognition/reminders                    {receivingInstitution, patient, orderedItemCodes | localOrderCode, orderingDoctor}
 *        → 201 {reminderId, items: [{orderedItemCode, nameZh, nameEn, priors: […]}]}
 *   POST /recognition/reminders/{id}/views         {studyInstanceUid}            → 201 (调阅)
 *   POST /recognition/reminders/{id}/dismissal     {doctor?}                     → 201
 *   POST /recognition/decisions                    {reminderId, studyInstanceUid, orderedItemCode, decision, reasonCode?, reasonText?, doctor}
 *        → 201 {decisionId, record}
 *   POST /recognition/reexaminations               {reminderId, orderedItemCode, reasonCode?, doctor} → 201
 *   POST /recognition/audits                       {institution, studyInstanceUid, agrees, auditor, note?} → 201
 *   GET  /recognition/indicators?institution=&region=&from=&to=[&format=csv]
 *   GET  /recognition/events?institution=&region=&from=&to=[&format=csv|json]
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { isUid } from '../../core/dicom/uid';
import { InstitutionCode, Region } from '../../core/recognition/institution-schema';
import { patientIdKeys, type PatientIdKeys } from '../../core/recognition/patient-keys';
import {
  createReminder,
  eventsCsv,
  indicatorReport,
  indicatorsCsv,
  recordAudit,
  recordDecision,
  recordDismissal,
  recordReexamination,
  recordView,
  selectEvents,
  type EventFilter,
  type RecognitionDeps,
} from '../../core/recognition/reminders';
import { unknownInstitution } from '../../core/recognition/institutions';
import { jsonBody, parseInput } from '../http/request-body';
import type { GatewayDeps } from '../deps';
import { dicomwebBase } from '../dicomweb/urls';

const text = (max: number) => z.string().trim().min(1).max(max);
const Uid = z.string().trim().refine(isUid, { message: 'StudyInstanceUID 无效 / not a valid UID' });
const ItemCode = text(64);
const ReminderId = z.uuid({ error: '须为提醒返回的 reminderId（UUID）/ must be the reminderId (a UUID) a reminder returned' });

const PatientBody = z
  .strictObject({
    nationalId: z.string().min(1).max(64).optional(),
    patientId: text(64).optional(),
    // As stored at index time: trimmed, '' when the sender sends none.
    issuerOfPatientId: z.string().trim().max(64).optional(),
  })
  .refine(
    (p) =>
      p.nationalId !== undefined
        ? p.patientId === undefined && p.issuerOfPatientId === undefined
        : p.patientId !== undefined && p.issuerOfPatientId !== undefined,
    {
      message: '须给出 nationalId（居民身份证号），或 patientId 加 issuerOfPatientId，二者取一 / give either nationalId, or patientId with issuerOfPatientId',
    },
  );

const ReminderBody = z
  .strictObject({
    receivingInstitution: InstitutionCode,
    patient: PatientBody,
    orderedItemCodes: z.array(ItemCode).min(1).max(20).optional(),
    localOrderCode: text(128).optional(),
    orderingDoctor: text(100),
  })
  .refine((b) => (b.orderedItemCodes === undefined) !== (b.localOrderCode === undefined), {
    message: '须给出 orderedItemCodes（互认目录项目代码）或 localOrderCode（本院项目代码），二者取一 / give either orderedItemCodes or localOrderCode',
    path: ['orderedItemCodes'],
  });

const ViewBody = z.strictObject({ studyInstanceUid: Uid });
const DismissalBody = z.strictObject({ doctor: text(100).optional() });

const DecisionBody = z.strictObject({
  reminderId: ReminderId,
  studyInstanceUid: Uid,
  orderedItemCode: ItemCode,
  decision: z.enum(['accepted', 'rejected']),
  reasonCode: text(64).optional(),
  reasonText: text(2000).optional(),
  doctor: text(100),
});

const ReexamBody = z.strictObject({ reminderId: ReminderId, orderedItemCode: ItemCode, reasonCode: text(64).optional(), doctor: text(100) });

const AuditBody = z.strictObject({
  institution: InstitutionCode,
  studyInstanceUid: Uid,
  agrees: z.boolean(),
  auditor: text(100),
  note: text(2000).optional(),
});

const FilterQuery = z
  .strictObject({
    institution: InstitutionCode.optional(),
    region: Region.optional(),
    from: z.iso.date().optional(),
    to: z.iso.date().optional(),
    format: z.enum(['json', 'csv']).optional(),
  })
  .refine((q) => !q.from || !q.to || q.from <= q.to, { message: '起始日期不能晚于截止日期 / from must not be after to', path: ['from'] });

/** format=csv, else an Accept header that prefers text/csv over JSON. */
const wantsCsv = (req: Request, format: string | undefined) =>
  format === 'csv' || (format === undefined && req.accepts(['application/json', 'text/csv']) === 'text/csv');

export function remindersRouter(deps: GatewayDeps): Router {
  // Resolved at the first request: dev keys may live in a file (patient-keys.ts).
  let keys: PatientIdKeys | null | undefined;
  const recognition = (): RecognitionDeps => {
    if (keys === undefined) keys = patientIdKeys(deps.config);
    return { db: deps.db, keys, viewerUrl: deps.config.HUREN_VIEWER_URL };
  };
  const r = Router();

  r.post('/reminders', jsonBody(), async (req, res) => {
    const body = parseInput(ReminderBody, req.body, 'body');
    const { nationalId, patientId, issuerOfPatientId } = body.patient;
    const answer = await createReminder(recognition(), {
      receivingInstitution: body.receivingInstitution,
      patient: nationalId !== undefined ? { nationalId } : { patientId: patientId!, issuerOfPatientId: issuerOfPatientId! },
      orderedItemCodes: body.orderedItemCodes,
      localOrderCode: body.localOrderCode,
      orderingDoctor: body.orderingDoctor,
      dicomwebBase: dicomwebBase(deps.config, req),
    });
    res.status(201).json(answer);
  });

  r.post('/reminders/:id/views', jsonBody(), async (req, res) => {
    const body = parseInput(ViewBody, req.body, 'body');
    res.status(201).json({ ...(await recordView(recognition(), String(req.params.id), body.studyInstanceUid)), studyInstanceUid: body.studyInstanceUid });
  });

  r.post('/reminders/:id/dismissal', jsonBody(), async (req, res) => {
    const body = parseInput(DismissalBody, req.body, 'body');
    res.status(201).json(await recordDismissal(recognition(), String(req.params.id), body.doctor));
  });

  r.post('/decisions', jsonBody(), async (req, res) => {
    const body = parseInput(DecisionBody, req.body, 'body');
    res.status(201).json(await recordDecision(recognition(), body));
  });

  r.post('/reexaminations', jsonBody(), async (req, res) => {
    const body = parseInput(ReexamBody, req.body, 'body');
    res.status(201).json(await recordReexamination(recognition(), body));
  });

  r.post('/audits', jsonBody(), async (req, res) => {
    const body = parseInput(AuditBody, req.body, 'body');
    res.status(201).json(await recordAudit(recognition(), body));
  });

  r.get('/indicators', async (req, res) => {
    const { format, ...filter } = parseInput(FilterQuery, req.query, 'query');
    const report = await indicatorReport(deps.db, filter);
    if (wantsCsv(req, format)) {
      res.type('text/csv; charset=utf-8').attachment('indicators.csv').send(indicatorsCsv(report.indicators));
      return;
    }
    res.json(report);
  });

  r.get('/events', async (req, res) => {
    const { format, ...filter } = parseInput(FilterQuery, req.query, 'query');
    await requireInstitution(deps, filter);
    const events = await selectEvents(deps.db, filter);
    if (wantsCsv(req, format)) {
      res.type('text/csv; charset=utf-8').attachment('recognition-events.csv').send(eventsCsv(events));
      return;
    }
    res.json({ filters: { institution: filter.institution ?? null, region: filter.region ?? null, from: filter.from ?? null, to: filter.to ?? null }, events });
  });

  return r;
}

async function requireInstitution(deps: GatewayDeps, filter: EventFilter): Promise<void> {
  if (!filter.institution) return;
  const found = await deps.db('institution').where({ code: filter.institution }).first('code');
  if (!found) throw unknownInstitution(filter.institution);
}
