/**
 * Admin API of an institution's local procedure mappings (docs/classifier.md, "Local mappings
 * and review"): list, upsert, delete, CSV import/export, and the procedures still unmapped.
 * Thin: validation here, logic in core/recognition/mappings.ts. Every change re-classifies the
 * institution's studies in a reclassify job (bull-board shows its progress). Authentication is
 * added in front of /admin separately.
 */
import { Router } from 'express';
import { z } from 'zod';
import { badRequest } from '../../core/errors';
import { CatalogId, InstitutionCode } from '../../core/recognition/institution-schema';
import {
  deleteMapping,
  importMappingsCsv,
  listMappings,
  MappingBody,
  requireInstitution,
  serializeMappingsCsv,
  unmappedProcedures,
  upsertMapping,
  type MappingDeps,
} from '../../core/recognition/mappings';
import type { GatewayDeps } from '../deps';
import { csvBody, jsonBody, parseInput } from '../http/request-body';

const CodeParam = z.object({ code: InstitutionCode });
const IdParam = z.object({
  code: InstitutionCode,
  id: z
    .string()
    .regex(/^[1-9]\d{0,15}$/, { error: '映射编号须为正整数 / a mapping id is a positive integer' })
    .transform(Number),
});
const ListQuery = z.strictObject({ catalog: CatalogId.optional() });
const ImportQuery = z.strictObject({ dryRun: z.enum(['true', 'false']).optional() });
const UnmappedQuery = z.strictObject({
  catalog: CatalogId.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

export function mappingsRouter(deps: GatewayDeps): Router {
  const { db } = deps;
  const mappingDeps: MappingDeps = { db, reclassifyQueue: deps.queues.reclassify };
  const r = Router();
  const base = '/institutions/:code/mappings';

  r.get(base, async (req, res) => {
    const { code } = parseInput(CodeParam, req.params, 'path');
    const { catalog } = parseInput(ListQuery, req.query, 'query');
    await requireInstitution(db, code);
    res.json({ institutionCode: code, mappings: await listMappings(db, code, { catalogId: catalog }) });
  });

  r.put(base, jsonBody(), async (req, res) => {
    const { code } = parseInput(CodeParam, req.params, 'path');
    const { createdBy, ...mapping } = parseInput(MappingBody, req.body, 'body');
    const outcome = await upsertMapping(mappingDeps, code, mapping, createdBy);
    res.status(outcome.created ? 201 : 200).json(outcome);
  });

  r.get(`${base}/export`, async (req, res) => {
    const { code } = parseInput(CodeParam, req.params, 'path');
    await requireInstitution(db, code);
    const csv = serializeMappingsCsv(await listMappings(db, code));
    res.type('text/csv; charset=utf-8').attachment(`mappings-${code}.csv`).send(csv);
  });

  r.post(`${base}/import`, csvBody(), async (req, res) => {
    const { code } = parseInput(CodeParam, req.params, 'path');
    const { dryRun } = parseInput(ImportQuery, req.query, 'query');
    const text = req.body as string;
    // body-parser decodes as UTF-8 unless told otherwise; what it could not decode became U+FFFD.
    if (text.includes('\uFFFD')) {
      throw badRequest(
        'csv_not_utf8',
        'CSV 不是 UTF-8 编码：请另存为“CSV UTF-8”，或发送 Content-Type: text/csv; charset=gb18030 / ' +
          'The CSV is not UTF-8: save it as "CSV UTF-8", or send Content-Type: text/csv; charset=gb18030',
      );
    }
    res.json(await importMappingsCsv(mappingDeps, code, text, { dryRun: dryRun === 'true' }));
  });

  r.delete(`${base}/:id`, async (req, res) => {
    const { code, id } = parseInput(IdParam, req.params, 'path');
    const { mapping, reclassifyQueued } = await deleteMapping(mappingDeps, code, id);
    res.json({ id, deleted: true, mapping, reclassifyQueued });
  });

  r.get('/institutions/:code/unmapped-procedures', async (req, res) => {
    const { code } = parseInput(CodeParam, req.params, 'path');
    const { catalog, limit, offset } = parseInput(UnmappedQuery, req.query, 'query');
    res.json(await unmappedProcedures(db, code, { catalogId: catalog, limit, offset }));
  });

  return r;
}
