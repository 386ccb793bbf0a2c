/**
 * Admin API of the credentials (docs/security.md):
 *
 *   GET    /admin/credentials[?institution=&includeRevoked=true]   → {credentials: […]}
 *   POST   /admin/credentials        {name, roles, institution?, expiresAt?} → 201 {token, credential}
 *   GET    /admin/credentials/{id}                                  → credential
 *   DELETE /admin/credentials/{id}                                  → revoked credential
 *   POST   /admin/credentials/{id}/rotate  {graceSeconds?}          → 201 {token, credential, previous}
 *   POST   /admin/credentials/{id}/unlock                           → credential
 *
 * The token is in the creating answer only; huren keeps its hash. `admin` and `ops` are
 * platform roles: an institution credential cannot hold them.
 */
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import { badRequest, notFound } from '../../core/errors';
import { createApiKey, getApiKey, listApiKeys, revokeApiKey, rotateApiKey, unlockApiKey, viewApiKey } from '../../core/security/api-keys';
import { ROLES } from '../../core/security/roles';
import { InstitutionCode } from '../../core/recognition/institution-schema';
import type { GatewayDeps } from '../deps';
import { auditContext, requirePrincipal } from '../security/principal';
import { jsonBody, parseInput } from '../http/request-body';

const Id = z.object({ id: z.uuid({ error: '须为凭据 id（UUID）/ must be a credential id (UUID)' }) });
const ListQuery = z.strictObject({ institution: InstitutionCode.optional(), includeRevoked: z.enum(['true', 'false']).optional() });
const CreateBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    roles: z.array(z.enum(ROLES)).min(1).max(ROLES.length),
    institution: InstitutionCode.nullish(),
    expiresAt: z.iso.datetime({ offset: true }).optional(),
  })
  .refine((b) => !b.institution || !b.roles.some((r) => r === 'admin' || r === 'ops'), {
    message: 'admin 与 ops 为平台角色，机构凭据不能持有 / admin and ops are platform roles: an institution credential cannot hold them',
    path: ['roles'],
  });
const RotateBody = z.strictObject({
  graceSeconds: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600)
    .optional(),
});

export function credentialsRouter(deps: GatewayDeps): Router {
  const { db } = deps;
  const r = Router();
  const by = (req: Parameters<typeof requirePrincipal>[0]) => {
    const p = requirePrincipal(req);
    return `${p.kind}:${p.name}`.slice(0, 200);
  };

  r.get('/credentials', async (req, res) => {
    const q = parseInput(ListQuery, req.query, 'query');
    res.json({ credentials: await listApiKeys(db, { institution: q.institution, includeRevoked: q.includeRevoked === 'true' }) });
  });

  r.post('/credentials', jsonBody(), async (req, res) => {
    const body = parseInput(CreateBody, req.body, 'body');
    if (body.expiresAt && Date.parse(body.expiresAt) <= Date.now()) throw badRequest('expires_in_past', '过期时间须在将来 / expiresAt must be in the future');
    const { token, key } = await createApiKey(db, {
      name: body.name,
      roles: body.roles,
      institution: body.institution ?? null,
      expiresAt: body.expiresAt ? new Date(body.expiresAt) : null,
      createdBy: by(req),
    });
    Object.assign(auditContext(req).details, { credentialId: key.id, credentialRoles: key.roles, credentialInstitution: key.institution, change: 'created' });
    res.status(201).json({ token, credential: key });
  });

  r.get('/credentials/:id', async (req, res) => {
    const { id } = parseInput(Id, req.params, 'path');
    const row = await getApiKey(db, id);
    if (!row) throw notFound('credential_not_found', `未找到凭据 ${id} / No credential with id ${id}`);
    res.json(viewApiKey(row));
  });

  r.delete('/credentials/:id', async (req, res) => {
    const { id } = parseInput(Id, req.params, 'path');
    const key = await revokeApiKey(db, id, by(req));
    Object.assign(auditContext(req).details, { credentialId: id, change: 'revoked' });
    res.json(key);
  });

  // The body is optional: a bare POST rotates with no grace period.
  const optionalJson: RequestHandler = (req, res, next) => (req.get('content-type') ? jsonBody()(req, res, next) : next());
  r.post('/credentials/:id/rotate', optionalJson, async (req, res) => {
    const { id } = parseInput(Id, req.params, 'path');
    const body = parseInput(RotateBody, req.body, 'body');
    const rotated = await rotateApiKey(db, id, { graceSeconds: body.graceSeconds ?? 0, by: by(req) });
    Object.assign(auditContext(req).details, { credentialId: rotated.key.id, rotatedFrom: id, graceSeconds: body.graceSeconds ?? 0, change: 'rotated' });
    res.status(201).json({ token: rotated.token, credential: rotated.key, previous: rotated.previous });
  });

  r.post('/credentials/:id/unlock', async (req, res) => {
    const { id } = parseInput(Id, req.params, 'path');
    Object.assign(auditContext(req).details, { credentialId: id, change: 'unlocked' });
    res.json(await unlockApiKey(db, id));
  });

  return r;
}
