/**
 * The audit trail for admins (docs/security.md):
 *
 *   GET /admin/audit?from=&to=&action=&institution=&actor=&outcome=&study=&after=&limit=
 *       → {records: […], next: <seq> | null}            (JSON, pages of `limit`, default 100, max 1000)
 *   GET /admin/audit?…&format=jsonl                      → every matching record, one JSON object per line
 *   GET /admin/audit/verify                               → the hash-chain check (as `npm run audit:verify`)
 *
 * `action` matches a whole action or a family (`dicomweb` → dicomweb.stow, dicomweb.query, …).
 * from/to: ISO dates or date-times (to is exclusive).
 */
import { Router } from 'express';
import { z } from 'zod';
import { auditJson, queryAudit, verifyAuditChain, type AuditFilter } from '../../core/security/audit';
import { InstitutionCode } from '../../core/recognition/institution-schema';
import type { GatewayDeps } from '../deps';
import { parseInput } from '../http/request-body';

const instant = z.union([z.iso.datetime({ offset: true }), z.iso.date()]).transform((v) => new Date(v.length === 10 ? `${v}T00:00:00+08:00` : v));
const Query = z.strictObject({
  from: instant.optional(),
  to: instant.optional(),
  action: z
    .string()
    .regex(/^[a-z_]+(\.[a-z_]+)*$/)
    .optional(),
  institution: InstitutionCode.optional(),
  actor: z.string().min(1).max(300).optional(),
  outcome: z.enum(['success', 'denied', 'failure', 'error']).optional(),
  study: z
    .string()
    .regex(/^[0-9.]{1,64}$/)
    .optional(),
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
  format: z.enum(['json', 'jsonl']).optional(),
});

export function auditRouter(deps: GatewayDeps): Router {
  const r = Router();

  r.get('/audit', async (req, res) => {
    const q = parseInput(Query, req.query, 'query');
    const filter: AuditFilter = {
      from: q.from,
      to: q.to,
      action: q.action,
      institution: q.institution,
      actor: q.actor,
      outcome: q.outcome,
      study: q.study,
      afterSeq: q.after,
    };
    if (q.format === 'jsonl') {
      res.status(200).attachment('audit.jsonl').type('application/x-ndjson; charset=utf-8');
      // Paged by seq, written as read: any size without holding it in memory.
      for (let after = q.after ?? 0; ;) {
        const page = await queryAudit(deps.db, { ...filter, afterSeq: after, limit: 1000 });
        if (page.length === 0) break;
        const chunk = page.map((rec) => `${JSON.stringify(auditJson(rec))}\n`).join('');
        if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
        after = page[page.length - 1].seq;
        if (page.length < 1000) break;
      }
      res.end();
      return;
    }
    const limit = q.limit ?? 100;
    const rows = await queryAudit(deps.db, { ...filter, limit: limit + 1 });
    const page = rows.slice(0, limit);
    res.json({ records: page.map(auditJson), next: rows.length > limit ? page[page.length - 1].seq : null });
  });

  r.get('/audit/verify', async (_req, res) => {
    res.json(await verifyAuditChain(deps.db));
  });

  return r;
}
