import { Router } from 'express';
import { z } from 'zod';
import { getInstitution, unknownInstitution } from '../../core/recognition/institutions';
import { classifyDatasets, enabledCatalogs, naturalize } from '../../core/recognition/classify-study';
import type { GatewayDeps } from '../deps';
import { jsonBody, parseInput } from '../http/request-body';

/** A DICOM JSON data set (PS3.18 Annex F): 8-hex-digit tags to elements with a VR. */
const DicomJsonDataset = z.record(z.string().regex(/^[0-9A-Fa-f]{8}$/), z.looseObject({ vr: z.string().regex(/^[A-Z]{2}$/) }));

const ClassifyRequest = z.strictObject({
  /** One object per instance, or a single object with the study/series attributes (RIS text only works). */
  dataset: z.union([DicomJsonDataset, z.array(DicomJsonDataset).min(1).max(5000)]),
  /** Whose local mappings apply. */
  institution: z.string().min(1).max(64).optional(),
});

/**
 * POST /recognition/classify — dry run: exactly what the classify job would store for this
 * evidence, without storing anything. Hospitals test their mappings with it.
 */
export function classifyRouter(deps: GatewayDeps): Router {
  const catalogs = enabledCatalogs(deps.config.HUREN_ENABLED_CATALOGS);
  return Router().post('/classify', jsonBody('20mb'), async (req, res) => {
    const body = parseInput(ClassifyRequest, req.body, 'body');
    if (body.institution && !(await getInstitution(deps.db, body.institution))) throw unknownInstitution(body.institution);
    const datasets = (Array.isArray(body.dataset) ? body.dataset : [body.dataset]).map((ds) => naturalize(normalizeTags(ds)));
    const classifications = await classifyDatasets(deps.db, datasets, body.institution ?? null, catalogs);
    res.json({ institution: body.institution ?? null, classifications });
  });
}

/** dcmjs expects upper-case tags, as DICOM JSON writes them. */
function normalizeTags(ds: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(ds).map(([tag, el]) => [tag.toUpperCase(), el]));
}
