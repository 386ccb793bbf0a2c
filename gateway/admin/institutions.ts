/**
 * Admin API of the institution registry (docs/institutions.md): CRUD, CSV import/export, and
 * the studies no institution could be attributed to. Thin: validation here, logic in
 * core/recognition. Authentication is added in front of /admin separately.
 */
import { Router } from 'express';
import { z } from 'zod';
import { badRequest } from '../../core/errors';
import { InstitutionBody, InstitutionCode, InstitutionLevel, Region } from '../../core/recognition/institution-schema';
import { serializeInstitutionsCsv } from '../../core/recognition/institutions-csv';
import { importInstitutionsCsv } from '../../core/recognition/institutions-import';
import {
  deleteInstitution,
  getInstitution,
  listInstitutions,
  listUnattributed,
  reattributeUnattributed,
  unknownInstitution,
  upsertInstitution,
} from '../../core/recognition/institutions';
import type { GatewayDeps } from '../deps';
import { csvBody, jsonBody, parseInput } from '../http/request-body';

const flag = z.enum(['true', 'false']).optional();
const ListQuery = z.strictObject({ region: Region.optional(), level: InstitutionLevel.optional(), group: InstitutionCode.optional() });
const ImportQuery = z.strictObject({ dryRun: flag });
const DeleteQuery = z.strictObject({ detachStudies: flag });
const CodeParam = z.object({ code: InstitutionCode });

export function institutionsRouter(deps: GatewayDeps): Router {
  const { db } = deps;
  const r = Router();

  r.get('/institutions', async (req, res) => {
    const filter = parseInput(ListQuery, req.query, 'query');
    res.json({ institutions: await listInstitutions(db, filter) });
  });

  r.get('/institutions/export', async (_req, res) => {
    const csv = serializeInstitutionsCsv(await listInstitutions(db));
    res.type('text/csv; charset=utf-8').attachment('institutions.csv').send(csv);
  });

  r.post('/institutions/import', csvBody(), async (req, res) => {
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
    res.json(await importInstitutionsCsv(db, text, { dryRun: dryRun === 'true' }));
  });

  r.get('/institutions/:code', async (req, res) => {
    const { code } = parseInput(CodeParam, req.params, 'path');
    const institution = await getInstitution(db, code);
    if (!institution) throw unknownInstitution(code);
    res.json(institution);
  });

  r.put('/institutions/:code', jsonBody(), async (req, res) => {
    const { code } = parseInput(CodeParam, req.params, 'path');
    const body = parseInput(InstitutionBody, req.body, 'body');
    if (body.code !== undefined && body.code !== code) {
      throw badRequest('code_mismatch', `请求体中的代码 ${body.code} 与 URL 中的 ${code} 不一致 / The body's code ${body.code} differs from the URL's ${code}`);
    }
    const { created, reattributedStudies } = await upsertInstitution(db, { ...body, code });
    res.status(created ? 201 : 200).json({ institution: await getInstitution(db, code), created, reattributedStudies });
  });

  r.delete('/institutions/:code', async (req, res) => {
    const { code } = parseInput(CodeParam, req.params, 'path');
    const { detachStudies } = parseInput(DeleteQuery, req.query, 'query');
    const { detachedStudies } = await deleteInstitution(db, code, { detachStudies: detachStudies === 'true' });
    res.json({ code, deleted: true, detachedStudies });
  });

  r.get('/studies/unattributed', async (_req, res) => {
    res.json(await listUnattributed(db));
  });

  // Alias changes re-attribute at once; this catches studies indexed while an alias was being added.
  r.post('/studies/unattributed/reattribute', async (_req, res) => {
    res.json({ reattributedStudies: await db.transaction((trx) => reattributeUnattributed(trx)) });
  });

  return r;
}
