/**
 * The access policy (docs/security.md, "Who sees which study"):
 *
 * - A platform credential (no institution) with `viewer` sees every study (operators).
 * - An institution credential sees the studies its institution sent (study.sending_institution_code).
 * - Another institution's study only for a patient the institution is treating, for
 *   HUREN_ACCESS_CONTEXT_HOURS: (a) the study is a prior listed by a reminder the institution
 *   created (reminder_prior; the reminder's own links, OHIF opened from them, or any request
 *   naming the reminder), or (b) the institution queried QIDO with that patient's 居民身份证号
 *   (`PatientNationalID`, exact 18 characters, never a wildcard), which records an access grant
 *   for each of the patient's studies.
 * - A refused study answers exactly as a missing one (404): whether it exists is not revealed.
 *
 * QIDO applies this as one parameterised SQL condition (qidoAccessCondition); WADO and the
 * study-scoped recognition routes check the one study (checkStudyAccess) before any handler.
 */
import type { Request } from 'express';
import type { Knex } from 'knex';
import { HurenError, notFound } from '../../core/errors';
import { isUid } from '../../core/dicom/uid';
import { parseNationalId } from '../../core/recognition/national-id';
import { hashNationalId } from '../../core/recognition/patient-identity';
import { patientIdKeys, type PatientIdKeys } from '../../core/recognition/patient-keys';
import type { Binding } from './policy';
import type { Principal } from './principal';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What a QIDO search may see, beyond its own filters. */
export interface QidoAccess {
  /** null: a platform credential, no scope. */
  institution: string | null;
  /** Reminders created (and grants valid) since this instant reach foreign studies. */
  since: Date;
  /** PatientNationalID given: only that patient's studies (keyed hash). */
  nationalIdHash?: string;
}

/**
 * The SQL condition (on the `study` table of a QIDO query) and its bindings. Every value is
 * a binding; the SQL text is constant.
 */
export function qidoAccessCondition(access: QidoAccess): Array<{ sql: string; bindings: Array<string | Date> }> {
  const conditions: Array<{ sql: string; bindings: Array<string | Date> }> = [];
  if (access.nationalIdHash) {
    conditions.push({ sql: 'study.patient_pk IN (SELECT n.patient_pk FROM patient_national_id n WHERE n.id_hash = ?)', bindings: [access.nationalIdHash] });
  }
  if (access.institution !== null) {
    conditions.push({
      sql: `(study.sending_institution_code = ?
        OR EXISTS (SELECT 1 FROM reminder_prior rp JOIN reminder r ON r.id = rp.reminder_id
                    WHERE rp.study_instance_uid = study.study_instance_uid AND r.receiving_institution_code = ? AND r.created_at >= ?)
        OR EXISTS (SELECT 1 FROM access_grant g
                    WHERE g.study_instance_uid = study.study_instance_uid AND g.institution_code = ? AND g.expires_at > now()))`,
      bindings: [access.institution, access.institution, access.since, access.institution],
    });
  }
  return conditions;
}

const windowStart = (hours: number) => new Date(Date.now() - hours * 3600_000);

/** The reminder a request names (`?reminder=` or `X-Huren-Reminder`), if any. */
export function requestReminder(req: Request): string | undefined {
  const q = req.query.reminder;
  const value = typeof q === 'string' ? q : req.get('x-huren-reminder');
  return value?.trim() || undefined;
}

export interface AccessDeps {
  db: Knex;
  contextHours: number;
  keys: () => PatientIdKeys | null;
}

const nationalIdNotConfigured = () =>
  new HurenError(
    503,
    'patient_identity_not_configured',
    '未配置患者身份密钥，无法按身份证号查询 / Patient-identity keys are not configured; national-ID queries are unavailable',
  );

/**
 * The access of a QIDO search: PatientNationalID (query parameter or `X-Huren-Patient-National-Id`
 * header) is validated (400 unless 18 well-formed characters: no wildcard reaches SQL) and, for
 * an institution, grants it that patient's studies for the context window.
 */
export async function resolveQidoAccess(deps: AccessDeps, principal: Principal, nationalId: string | undefined): Promise<QidoAccess> {
  const access: QidoAccess = { institution: principal.institution, since: windowStart(deps.contextHours) };
  if (nationalId === undefined) return access;
  const parsed = parseNationalId(nationalId);
  if (!parsed.valid) {
    throw new HurenError(
      400,
      'qido_invalid_parameter',
      `PatientNationalID: 须为 18 位居民身份证号（不支持通配符）/ must be an 18-character resident ID number (no wildcards): ${parsed.message.en}`,
      {
        parameter: 'PatientNationalID',
      },
    );
  }
  const keys = deps.keys();
  if (!keys) throw nationalIdNotConfigured();
  access.nationalIdHash = hashNationalId(keys, parsed.normalized);
  if (principal.institution) await grantPatientStudies(deps, principal.institution, access.nationalIdHash);
  return access;
}

/** Grants `institution` the other institutions' studies of the patient with this national-ID hash. */
export async function grantPatientStudies(deps: AccessDeps, institution: string, idHash: string): Promise<number> {
  const result = await deps.db.raw(
    `INSERT INTO access_grant (institution_code, study_instance_uid, reason, expires_at)
     SELECT ?, s.study_instance_uid, 'national_id', now() + make_interval(hours => ?)
       FROM study s
      WHERE s.patient_pk IN (SELECT n.patient_pk FROM patient_national_id n WHERE n.id_hash = ?)
        AND s.sending_institution_code IS DISTINCT FROM ?
     ON CONFLICT (institution_code, study_instance_uid)
     DO UPDATE SET expires_at = GREATEST(access_grant.expires_at, EXCLUDED.expires_at), granted_at = now()`,
    [institution, deps.contextHours, idHash, institution],
  );
  return result.rowCount ?? 0;
}

export interface StudyAccess {
  allowed: boolean;
  /** Why: own, reminder, grant, platform; or why not. */
  via: 'platform' | 'own' | 'reminder' | 'grant' | 'no_study' | 'foreign' | 'foreign_reminder';
}

/**
 * One study for one principal. A reminder the request names must be the institution's own
 * (else refused, so another hospital's reminder cannot be used, nor its 调阅 recorded).
 */
export async function checkStudyAccess(deps: AccessDeps, principal: Principal, study: string, reminderId?: string): Promise<StudyAccess> {
  if (principal.institution === null) return { allowed: true, via: 'platform' };
  const inst = principal.institution;
  if (reminderId !== undefined) {
    if (!UUID.test(reminderId)) return { allowed: false, via: 'foreign_reminder' };
    const reminder = await deps.db('reminder').where({ id: reminderId }).first('receiving_institution_code');
    if (!reminder || reminder.receiving_institution_code !== inst) return { allowed: false, via: 'foreign_reminder' };
  }
  const row = await deps.db
    .select(
      deps.db.raw('(s.sending_institution_code = ?) AS own', [inst]),
      deps.db.raw(
        `EXISTS (SELECT 1 FROM reminder_prior rp JOIN reminder r ON r.id = rp.reminder_id
                  WHERE rp.study_instance_uid = s.study_instance_uid AND r.receiving_institution_code = ? AND r.created_at >= ?) AS via_reminder`,
        [inst, windowStart(deps.contextHours)],
      ),
      deps.db.raw(
        `EXISTS (SELECT 1 FROM access_grant g WHERE g.study_instance_uid = s.study_instance_uid AND g.institution_code = ? AND g.expires_at > now()) AS via_grant`,
        [inst],
      ),
    )
    .from('study as s')
    .where('s.study_instance_uid', study)
    .first();
  if (!row) return { allowed: false, via: 'no_study' };
  if (row.own) return { allowed: true, via: 'own' };
  if (row.via_reminder) return { allowed: true, via: 'reminder' };
  if (row.via_grant) return { allowed: true, via: 'grant' };
  return { allowed: false, via: 'foreign' };
}

/**
 * STOW by an institution credential: an instance may join only a study of its own institution
 * (or a new one). A study another institution sent — or an instance UID another sender
 * already stored — is refused, so nobody can add to, or replace instances in, another
 * hospital's study.
 */
export async function admitStow(db: Knex, institution: string, id: { studyInstanceUid: string; sopInstanceUid: string }): Promise<boolean> {
  const { rows } = await db.raw(
    `SELECT
       EXISTS (SELECT 1 FROM study s WHERE s.study_instance_uid = ? AND s.sending_institution_code IS DISTINCT FROM ?) AS foreign_study,
       EXISTS (SELECT 1 FROM instance i WHERE (i.study_instance_uid = ? OR i.sop_instance_uid = ?) AND i.received_from_institution IS DISTINCT FROM ?) AS foreign_instance`,
    [id.studyInstanceUid, institution, id.studyInstanceUid, id.sopInstanceUid, institution],
  );
  return !rows[0].foreign_study && !rows[0].foreign_instance;
}

const forbidden = (code: string, zh: string, en: string) => new HurenError(403, code, `${zh} / ${en}`);
const studyNotFound = (uid: string) => notFound('not_found', `No study ${uid.slice(0, 80)} here`);
const reminderNotFound = (id: string) => notFound('reminder_not_found', `未找到提醒 ${id.slice(0, 64)} / No reminder with id ${id.slice(0, 64)}`);

export interface BindingInput {
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  reminder?: string;
}

/**
 * A route's binding for an institution credential (policy.ts). Throws 403 where the request
 * names another institution outright, 404 where it names a reminder, study or patient the
 * institution may not reach (as if it did not exist). Returns what the audit record should
 * know (the study, and for studies how access was granted).
 */
export async function enforceBinding(
  deps: AccessDeps,
  principal: Principal,
  binding: Binding,
  input: BindingInput,
): Promise<{ study?: string; via?: StudyAccess['via'] }> {
  if (binding.kind === 'accessibleStudy' || binding.kind === 'ownStudy') {
    const study = input.params[binding.param];
    // Malformed UIDs are the handlers' to refuse (400), with nothing looked up.
    if (!study || !isUid(study)) return {};
    if (binding.kind === 'ownStudy') {
      if (principal.institution === null) return { study, via: 'platform' };
      const row = await deps.db('study').where({ study_instance_uid: study }).first('sending_institution_code');
      if (!row || row.sending_institution_code !== principal.institution) {
        throw notFound('study_not_found', `未找到该检查 / No such study: ${study}`);
      }
      return { study, via: 'own' };
    }
    const access = await checkStudyAccess(deps, principal, study, input.reminder);
    if (!access.allowed) throw Object.assign(studyNotFound(study), { accessDenied: access.via });
    return { study, via: access.via };
  }
  if (principal.institution === null) return {};
  const inst = principal.institution;
  const body = (input.body ?? {}) as Record<string, unknown>;
  switch (binding.kind) {
    case 'body': {
      const value = body[binding.field];
      if (typeof value !== 'string' || value.trim() !== inst) {
        throw forbidden('institution_mismatch', `${binding.field} 须为本机构代码 ${inst}`, `${binding.field} must be your own institution, ${inst}`);
      }
      return {};
    }
    case 'query': {
      const value = input.query[binding.field];
      if (typeof value !== 'string' || value.trim() !== inst) {
        throw forbidden(
          'institution_required',
          `机构凭据须以 ${binding.field}=${inst} 查询本机构`,
          `an institution credential must ask with ${binding.field}=${inst}`,
        );
      }
      return {};
    }
    case 'reminder': {
      const raw = binding.param ? input.params[binding.param] : body[binding.bodyField ?? 'reminderId'];
      const id = typeof raw === 'string' ? raw.trim() : '';
      if (!UUID.test(id)) throw reminderNotFound(id);
      const row = await deps.db('reminder').where({ id }).first('receiving_institution_code');
      if (!row || row.receiving_institution_code !== inst) throw reminderNotFound(id);
      return {};
    }
    case 'ownPatient': {
      const issuer = body.issuerOfPatientId;
      const patientId = body.patientId;
      if (typeof issuer !== 'string' || typeof patientId !== 'string') return {}; // the handler answers 400
      const row = await deps
        .db('patient as p')
        .join('study as s', 's.patient_pk', 'p.id')
        .where({ 'p.issuer_of_patient_id': issuer.trim(), 'p.patient_id': patientId.trim(), 's.sending_institution_code': inst })
        .first('p.id');
      if (!row) {
        throw notFound(
          'patient_not_found',
          '未收到过该患者（按 IssuerOfPatientID + PatientID）的检查 / No study of a patient with this IssuerOfPatientID and PatientID has been received',
        );
      }
      return {};
    }
  }
}

/** Access deps from the gateway's (patient keys resolved at first use). */
export function accessDepsOf(deps: { db: Knex; config: { HUREN_ACCESS_CONTEXT_HOURS: number } & Parameters<typeof patientIdKeys>[0] }): AccessDeps {
  let keys: PatientIdKeys | null | undefined;
  return { db: deps.db, contextHours: deps.config.HUREN_ACCESS_CONTEXT_HOURS, keys: () => (keys === undefined ? (keys = patientIdKeys(deps.config)) : keys) };
}

/**
 * huren's QIDO extension parameters, taken out of the query before PS3.18 parsing:
 * `PatientNationalID` (or the header X-Huren-Patient-National-Id, which stays out of URLs and
 * proxy logs) and `reminder` (or X-Huren-Reminder). Parameter names are case-insensitive.
 */
export function takeAccessParams(query: Record<string, unknown>, req: Request): { nationalId?: string; reminder?: string; rest: Record<string, unknown> } {
  const rest: Record<string, unknown> = {};
  let nationalId: unknown = req.get('x-huren-patient-national-id');
  let reminder: unknown = req.get('x-huren-reminder');
  for (const [name, value] of Object.entries(query)) {
    const lower = name.toLowerCase();
    if (lower === 'patientnationalid') nationalId = value;
    else if (lower === 'reminder') reminder = value;
    else rest[name] = value;
  }
  const one = (name: string, v: unknown): string | undefined => {
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new HurenError(400, 'qido_invalid_parameter', `${name}: given more than once, or not plain text`, { parameter: name });
    return v.trim();
  };
  return { nationalId: one('PatientNationalID', nationalId), reminder: one('reminder', reminder), rest };
}

/** A reminder a QIDO request names must be the institution's own (404 otherwise, as if unknown). */
export async function checkNamedReminder(deps: AccessDeps, principal: Principal, reminderId: string | undefined): Promise<void> {
  if (reminderId === undefined || principal.institution === null) return;
  const row = UUID.test(reminderId) ? await deps.db('reminder').where({ id: reminderId }).first('receiving_institution_code') : undefined;
  if (!row || row.receiving_institution_code !== principal.institution) throw reminderNotFound(reminderId);
}
