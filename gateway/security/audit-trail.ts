/**
 * One audit record per audited request, written when the response is finished (or the
 * connection closed): the route's action (policy.ts), the principal, the outcome from the
 * status, the study and patient (keyed hash) where there is one, the client address.
 * Denials are always recorded (also on routes not otherwise audited); failed logins are
 * recorded by the authentication middleware as they happen. Query strings and bodies are
 * never recorded (they may carry names and ID numbers): only parameter names.
 */
import type { Request, RequestHandler, Response } from 'express';
import type { Knex } from 'knex';
import { isUid } from '../../core/dicom/uid';
import type { ApiKeyRow } from '../../core/security/api-keys';
import type { AuditOutcome, AuditRecord, AuditWriter } from '../../core/security/audit';
import { hashNationalId } from '../../core/recognition/patient-identity';
import type { PatientIdKeys } from '../../core/recognition/patient-keys';
import { audited } from './policy';
import { auditContext, peekAuditContext, principalOf } from './principal';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const pathOf = (req: Request) => req.originalUrl.split('?')[0].slice(0, 1024);

export function outcomeOf(status: number, deniedAs404: boolean): AuditOutcome {
  if (status >= 500) return 'error';
  if (status === 401 || status === 403 || status === 429 || deniedAs404) return 'denied';
  if (status >= 400) return 'failure';
  return 'success';
}

/** A failed authentication (wrong, unknown, revoked, expired or locked credential; none at all). */
export function loginFailureRecord(req: Request, status: number, reason: string, who: { key?: ApiKeyRow; prefix?: string; scheme?: string }): AuditRecord {
  return {
    at: new Date(),
    actor: who.key?.id ?? null,
    actorKind: who.key ? 'api_key' : 'anonymous',
    actorName: who.key?.name ?? (who.prefix ? `prefix:${who.prefix}` : null),
    institution: who.key?.institution_code ?? null,
    roles: who.key?.roles ?? [],
    action: 'auth.login',
    outcome: 'denied',
    status,
    patientHash: null,
    study: null,
    clientAddress: req.ip ?? null,
    method: req.method,
    path: pathOf(req),
    details: { reason, ...(who.scheme && { scheme: who.scheme }), ...(who.prefix && { keyPrefix: who.prefix }) },
  };
}

export interface AuditTrailDeps {
  db: Knex;
  audit: AuditWriter;
  keys: () => PatientIdKeys | null;
}

/** Patient hashes of studies: the national-ID hash when linked, else the sender's Issuer|PatientID under the same key. */
export async function studyPatientHash(db: Knex, keys: PatientIdKeys | null, study: string): Promise<string | null> {
  const row = await db('study as s')
    .leftJoin('patient_national_id as n', 'n.patient_pk', 's.patient_pk')
    .where('s.study_instance_uid', study)
    .first('s.issuer_of_patient_id', 's.patient_id', 'n.id_hash');
  if (!row) return null;
  if (row.id_hash) return row.id_hash;
  return keys && row.patient_id ? hashNationalId(keys, `${row.issuer_of_patient_id ?? ''}|${row.patient_id}`) : null;
}

export function auditTrail(deps: AuditTrailDeps): RequestHandler {
  return (req, res, next) => {
    const started = new Date();
    captureJson(res, req);
    res.once('close', () => {
      try {
        record(deps, req, res, started);
      } catch (err) {
        req.log?.error({ err }, 'audit record not built');
      }
    });
    next();
  };
}

/** Keeps the JSON a handler answered with, to read ids (reminderId, decisionId) from it. */
const answers = new WeakMap<Request, unknown>();
function captureJson(res: Response, req: Request): void {
  const json = res.json.bind(res);
  res.json = (body: unknown) => {
    answers.set(req, body);
    return json(body);
  };
}

function record(deps: AuditTrailDeps, req: Request, res: Response, started: Date): void {
  const ctx = peekAuditContext(req) ?? auditContext(req);
  if (ctx.loginFailure || ctx.skipAudit) return;
  const principal = principalOf(req);
  const policy = ctx.match?.policy;
  if (policy?.roles === 'public') return;
  const status = res.writableFinished ? res.statusCode : 499;
  const outcome = outcomeOf(status, Boolean(ctx.denied));
  if (!principal) return; // never authenticated: recorded as a failed login, or refused while locked
  if (policy && !audited(policy, req.method) && outcome !== 'denied') return;

  const body = (req.body && typeof req.body === 'object' ? req.body : {}) as Record<string, unknown>;
  const answer = (answers.get(req) ?? {}) as Record<string, unknown>;
  const params = ctx.match?.params ?? {};
  const pick = (...values: unknown[]) => values.find((v): v is string => typeof v === 'string' && v.length > 0);
  const study = ctx.study ?? pick(params.study, body.studyInstanceUid, answer.studyInstanceUid) ?? (ctx.studies?.length ? ctx.studies[0] : undefined);
  const reminderCandidate = pick(
    ctx.reminderId,
    policy?.action.startsWith('recognition.') ? params.id : undefined,
    body.reminderId,
    answer.reminderId,
    req.query.reminder,
    req.get('x-huren-reminder'),
  );
  const reminderId = reminderCandidate && UUID.test(reminderCandidate) ? reminderCandidate.toLowerCase() : undefined;
  const details: Record<string, unknown> = { ...ctx.details };
  if (ctx.denied) details.denied = ctx.denied;
  if (reminderId) details.reminderId = reminderId;
  for (const k of ['decisionId', 'eventId'] as const) if (answer[k] !== undefined) details[k] = answer[k];
  if (ctx.studies && ctx.studies.length > 1) details.studies = ctx.studies.slice(0, 100);
  const queryNames = Object.keys(req.query as object);
  if (queryNames.length) details.parameters = queryNames.slice(0, 50);
  if (status === 499) details.aborted = true;
  details.ms = Date.now() - started.getTime();

  const studyUid = study && isUid(study) ? study : null;
  const rec: AuditRecord = {
    at: new Date(),
    actor: principal.id,
    actorKind: principal.kind,
    actorName: principal.name,
    institution: principal.institution,
    roles: [...principal.roles].sort(),
    action: ctx.action ?? policy?.action ?? 'http.unmapped',
    outcome,
    status,
    patientHash: ctx.patientHash ?? null,
    study: studyUid,
    clientAddress: req.ip ?? null,
    method: req.method,
    path: pathOf(req),
    details,
  };
  // Patient hashes are looked up when the batch is written, off the request path.
  const enrich =
    rec.patientHash === null && (reminderId || studyUid)
      ? async (): Promise<Partial<AuditRecord>> => {
          if (reminderId) {
            const r = await deps.db('reminder').where({ id: reminderId }).first('patient_key_hash');
            if (r?.patient_key_hash) return { patientHash: r.patient_key_hash };
          }
          return studyUid ? { patientHash: await studyPatientHash(deps.db, deps.keys(), studyUid) } : {};
        }
      : undefined;
  deps.audit.add(rec, enrich);
}
