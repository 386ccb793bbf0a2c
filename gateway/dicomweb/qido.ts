import { Router, type Request, type RequestHandler } from 'express';
import { HurenError } from '../../core/errors';
import type { GatewayDeps } from '../deps';
import { acceptsDicomJson } from './accept';
import { buildQidoSql, parseQidoQuery, qidoLimits, qidoResponse, type QidoLevel, type QidoRow } from './qido-query';
import { dicomwebBase } from './urls';

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
  return async (req, res) => {
    const query = req.query as Record<string, unknown>;
    // The `accept` query parameter (PS3.18 §8.3.3.1) overrides the Accept header.
    const accept = typeof query.accept === 'string' ? query.accept : req.get('accept');
    if (!acceptsDicomJson(accept)) {
      throw new HurenError(406, 'not_acceptable', `QIDO-RS answers only application/dicom+json, not ${accept}`);
    }
    const q = parseQidoQuery(level, query, limits, scopeOf(req));
    const rows = (await buildQidoSql(deps.db, q)) as QidoRow[];
    const base = dicomwebBase(deps.config, req);
    const warnings = rows.length > q.limit ? [...q.warnings, MORE_RESULTS] : q.warnings;
    if (warnings.length > 0)
      res.setHeader(
        'Warning',
        warnings.map((w) => `299 ${base}: "${w}"`),
      );
    res
      .status(200)
      .type('application/dicom+json')
      .send(JSON.stringify(qidoResponse(rows.slice(0, q.limit), q, base)));
  };
}

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
