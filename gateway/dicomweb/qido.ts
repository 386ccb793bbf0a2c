import { Router, type Request, type RequestHandler } from 'express';
import { HurenError } from '../../core/errors';
import type { GatewayDeps } from '../deps';
import { acceptsDicomJson } from './accept';
import { buildQidoSql, parseQidoQuery, qidoLimits, qidoResponse, type QidoLevel, type QidoQuery, type QidoRow } from './qido-query';
import { dicomwebBase } from './urls';
import { accessDepsOf, checkNamedReminder, resolveQidoAccess, takeAccessParams } from '../security/access';
import { auditContext, requirePrincipal } from '../security/principal';
import {
  candidateCodes,
  recognitionAttributes,
  recognitionOf,
  takeRecognitionParams,
  whereMappedTo,
  type RecognitionQuery,
  type StudyRecognition,
} from './qido-recognition';

/**
 * QIDO-RS Search Transaction (PS3.18 §10.6), answered as application/dicom+json.
 *
 * - No match: 200 with `[]` (PS3.18 allows 200 with an empty array or 204; OHIF and
 *   dicomweb-client expect a JSON array, and a 204 body-less answer breaks their parsing).
 * - limit defaults to HUREN_QIDO_DEFAULT_LIMIT; a larger limit than HUREN_QIDO_MAX_LIMIT is
 *   lowered to it. When more results remain after the page, the response carries
 *   `Warning: 299 {service}: "There are additional results that can be requested"` (§8.3.4.4).
 * - Matching rules and fuzzymatching: see qido-query.ts.
 */
const MORE_RESULTS = 'There are additional results that can be requested';

function search(deps: GatewayDeps, level: QidoLevel): RequestHandler {
  const limits = qidoLimits(deps.config);
  const access = accessDepsOf(deps);
  return async (req, res) => {
    const query = req.query as Record<string, unknown>;
    // The `accept` query parameter (PS3.18 §8.3.3.1) overrides the Accept header.
    const accept = typeof query.accept === 'string' ? query.accept : req.get('accept');
    if (!acceptsDicomJson(accept)) {
      throw new HurenError(406, 'not_acceptable', `QIDO-RS answers only application/dicom+json, not ${accept}`);
    }
    const principal = requirePrincipal(req);
    const { nationalId, reminder, rest: withoutAccess } = takeAccessParams(query, req);
    const { recognition, rest } = level === 'study' ? takeRecognitionParams(withoutAccess) : { recognition: null, rest: withoutAccess };
    const q = parseQidoQuery(level, rest, limits, scopeOf(req));
    // Who may see what (docs/security.md): a condition on the study, in the same SQL.
    await checkNamedReminder(access, principal, reminder);
    q.access = await resolveQidoAccess(access, principal, nationalId);
    const audit = auditContext(req);
    audit.details.level = level;
    if (q.access.nationalIdHash) Object.assign(audit, { patientHash: q.access.nationalIdHash, details: { ...audit.details, byNationalId: true } });
    const base = dicomwebBase(deps.config, req);
    const { page, more, recognized } = level === 'study' ? await searchStudies(deps, q, recognition) : await searchOther(deps, q);
    audit.details.results = page.length;
    if (q.scope.studyInstanceUid) audit.study = q.scope.studyInstanceUid;
    else if (page.length === 1) audit.study = page[0].study_instance_uid;
    const warnings = more ? [...q.warnings, MORE_RESULTS] : q.warnings;
    if (warnings.length > 0)
      res.setHeader(
        'Warning',
        warnings.map((w) => `299 ${base}: "${w}"`),
      );
    const results = qidoResponse(page, q, base);
    if (recognized) {
      results.forEach((result, i) => {
        const uid = page[i].study_instance_uid;
        Object.assign(
          result,
          recognitionAttributes(
            recognized.get(uid) ?? { items: [], quality: null },
            `${base.replace(/\/dicomweb$/, '')}/recognition/studies/${uid}/classification`,
          ),
        );
      });
    }
    res.status(200).type('application/dicom+json').send(JSON.stringify(results));
  };
}

interface SearchPage {
  page: QidoRow[];
  more: boolean;
  recognized?: Map<string, StudyRecognition>;
}

async function searchOther(deps: GatewayDeps, q: QidoQuery): Promise<SearchPage> {
  const rows = (await buildQidoSql(deps.db, q)) as QidoRow[];
  return { page: rows.slice(0, q.limit), more: rows.length > q.limit };
}

/** Days before the day of use that no catalog window reaches (the longest is 1 month). */
const WINDOW_BOUND_DAYS = 62;

/**
 * Studies, with their recognition attributes. Validity and eligibility are decided per study in
 * code (core/recognition), so such queries first narrow by item and a date bound in SQL, then
 * filter and page the (small) candidate set.
 */
async function searchStudies(deps: GatewayDeps, q: QidoQuery, r: RecognitionQuery | null): Promise<SearchPage> {
  if (!r || (!r.validAt && !r.recognizableFor)) {
    const sql = buildQidoSql(deps.db, q);
    if (r) whereMappedTo(sql, deps.db, candidateCodes(r));
    const rows = (await sql) as QidoRow[];
    const page = rows.slice(0, q.limit);
    return {
      page,
      more: rows.length > q.limit,
      recognized: await recognitionOf(
        deps.db,
        page.map((p) => p.study_instance_uid),
        r,
      ),
    };
  }
  const at = r.validAt ?? new Date();
  const sql = buildQidoSql(deps.db, { ...q, limit: MAX_CANDIDATES, offset: 0 });
  whereMappedTo(sql, deps.db, candidateCodes(r));
  sql.whereBetween('study.study_date', [new Date(at.getTime() - WINDOW_BOUND_DAYS * 86_400_000).toISOString().slice(0, 10), at.toISOString().slice(0, 10)]);
  const rows = (await sql) as QidoRow[];
  const recognized = await recognitionOf(
    deps.db,
    rows.map((row) => row.study_instance_uid),
    r,
  );
  const kept = rows.filter((row) => recognized.has(row.study_instance_uid));
  return { page: kept.slice(q.offset, q.offset + q.limit), more: kept.length > q.offset + q.limit, recognized };
}

/** A bound on one recognition query's candidates (one item, about two months): far above real volumes. */
const MAX_CANDIDATES = 20_000;

function scopeOf(req: Request) {
  const { study, series } = req.params as Record<string, string | undefined>;
  return { studyInstanceUid: study, seriesInstanceUid: series };
}

/** SearchForStudies: GET /studies */
export const searchForStudies = (deps: GatewayDeps): RequestHandler => search(deps, 'study');
/** SearchForSeries: GET /series, /studies/{study}/series */
export const searchForSeries = (deps: GatewayDeps): RequestHandler => search(deps, 'series');
/** SearchForInstances: GET /instances, /studies/{study}/instances, /studies/{study}/series/{series}/instances */
export const searchForInstances = (deps: GatewayDeps): RequestHandler => search(deps, 'instance');

/** The six QIDO-RS resources, relative to the DICOMweb root (the app mounts this at /dicomweb). */
export function qidoRoutes(deps: GatewayDeps): Router {
  const router = Router();
  const studies = searchForStudies(deps);
  const series = searchForSeries(deps);
  const instances = searchForInstances(deps);
  router.get('/studies', studies);
  router.get('/series', series);
  router.get('/instances', instances);
  router.get('/studies/:study/series', series);
  router.get('/studies/:study/instances', instances);
  router.get('/studies/:study/series/:series/instances', instances);
  return router;
}
