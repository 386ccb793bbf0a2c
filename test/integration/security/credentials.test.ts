import { ensureBootstrapAdmin } from '../../../core/security/api-keys';
import { startTestIdp, type TestIdp } from '../../support/idp';
import { startTestGateway, type TestGateway } from '../../support/gateway';

/** API keys (create, use, rotate, revoke, lock out) and OIDC JWTs, over HTTP on the real gateway. */
describe('credentials', () => {
  let gw: TestGateway;
  let idp: TestIdp;
  const admin = () => ({ Authorization: `Bearer ${gw.adminToken}` });

  beforeAll(async () => {
    idp = await startTestIdp();
    gw = await startTestGateway({
      workers: false,
      env: {
        HUREN_AUTH_MAX_FAILURES: '3',
        HUREN_AUTH_MAX_FAILURES_PER_ADDRESS: '8',
        HUREN_AUTH_LOCKOUT_SECONDS: '60',
        HUREN_OIDC_ISSUER: idp.issuer,
        HUREN_OIDC_AUDIENCE: idp.audience,
      },
    });
    await gw.core.db('institution').insert({ code: 'H-K', name: '钥医院', region: 'CY', level: 'L3A' });
  });
  afterAll(async () => {
    await gw.close();
    await idp.close();
  });

  /** Each test its own client address (trusted X-Forwarded-For from loopback), so address lockouts stay apart. */
  let n = 0;
  const from = () => ({ 'X-Forwarded-For': `198.51.100.${++n}` });
  const call = async (method: string, path: string, headers: Record<string, string>, body?: unknown) => {
    const res = await gw.fetch(`${gw.baseUrl}${path}`, {
      method,
      headers: { ...headers, ...(body !== undefined && { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
  };
  const audits = async (action: string) => {
    await gw.flushAudit();
    return gw.core.db('audit_event').where({ action }).orderBy('seq');
  };

  it('bootstraps an admin from HUREN_ADMIN_TOKEN, idempotently, and revokes it when the value changes', async () => {
    expect((await call('GET', '/admin/credentials', { ...admin(), ...from() })).status).toBe(200);
    expect(await ensureBootstrapAdmin(gw.core.db, gw.adminToken)).toBe('unchanged');
    const next = `${gw.adminToken}-next`;
    expect(await ensureBootstrapAdmin(gw.core.db, next)).toBe('created');
    expect((await call('GET', '/admin/credentials', { ...admin(), ...from() })).json).toMatchObject({ code: 'credential_revoked' });
    expect((await call('GET', '/admin/credentials', { Authorization: `Bearer ${next}`, ...from() })).status).toBe(200);
    expect(await ensureBootstrapAdmin(gw.core.db, gw.adminToken)).toBe('created');
    expect((await call('GET', '/admin/credentials', { Authorization: `Bearer ${next}`, ...from() })).status).toBe(401);
    const bootstraps = await gw.core.db('api_key').where({ bootstrap: true }).whereNull('revoked_at');
    expect(bootstraps).toHaveLength(1);
  });

  it('creates a key shown once, stores only its hash, and refuses platform roles for institution keys', async () => {
    const created = await call('POST', '/admin/credentials', { ...admin(), ...from() }, { name: 'PACS 1', roles: ['pacs', 'viewer'], institution: 'H-K' });
    expect(created.status).toBe(201);
    expect(created.json.token).toMatch(/^hrn_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.json.credential).toMatchObject({
      name: 'PACS 1',
      roles: ['pacs', 'viewer'],
      institution: 'H-K',
      status: 'active',
      prefix: created.json.token.split('_')[1],
    });
    const row = await gw.core.db('api_key').where({ id: created.json.credential.id }).first();
    // The secret is base64url and may itself hold "_": everything after the prefix (a fragment of it could be in the row by chance).
    const secret = created.json.token.split('_').slice(2).join('_');
    expect(secret).toHaveLength(43);
    expect(JSON.stringify(row)).not.toContain(secret);
    const listed = await call('GET', '/admin/credentials?institution=H-K', { ...admin(), ...from() });
    expect(JSON.stringify(listed.json)).not.toContain(created.json.token);
    const bad = await call('POST', '/admin/credentials', { ...admin(), ...from() }, { name: 'x', roles: ['admin'], institution: 'H-K' });
    expect(bad.status).toBe(400);
    expect((await call('POST', '/admin/credentials', { ...admin(), ...from() }, { name: 'x', roles: ['pacs'], institution: 'NOPE' })).status).toBe(404);
    const [audit] = (await audits('admin.credentials')).filter((a) => a.details.change === 'created');
    expect(audit).toMatchObject({ outcome: 'success', details: { credentialId: created.json.credential.id, credentialInstitution: 'H-K' } });
  });

  it('revokes a key: refused at once (401) and audited', async () => {
    const { json } = await call('POST', '/admin/credentials', { ...admin(), ...from() }, { name: 'viewer', roles: ['viewer'] });
    const key = { Authorization: `Bearer ${json.token}` };
    expect((await call('GET', '/dicomweb/studies', { ...key, ...from() })).status).toBe(200);
    expect((await call('DELETE', `/admin/credentials/${json.credential.id}`, { ...admin(), ...from() })).json).toMatchObject({ status: 'revoked' });
    const refused = await call('GET', '/dicomweb/studies', { ...key, ...from() });
    expect(refused.status).toBe(401);
    expect(refused.json.code).toBe('credential_revoked');
    expect(refused.headers.get('www-authenticate')).toMatch(/Bearer/);
    const failures = await audits('auth.login');
    expect(failures[failures.length - 1]).toMatchObject({ actor: json.credential.id, outcome: 'denied', status: 401, details: { reason: 'revoked' } });
  });

  it('rotates a key: the new one works, the old one for the grace period only', async () => {
    const { json } = await call('POST', '/admin/credentials', { ...admin(), ...from() }, { name: 'rotating', roles: ['viewer'] });
    const rotated = await call('POST', `/admin/credentials/${json.credential.id}/rotate`, { ...admin(), ...from() }, { graceSeconds: 3600 });
    expect(rotated.status).toBe(201);
    expect(rotated.json.credential).toMatchObject({ rotatedFrom: json.credential.id, name: 'rotating' });
    expect((await call('GET', '/dicomweb/studies', { Authorization: `Bearer ${rotated.json.token}`, ...from() })).status).toBe(200);
    expect((await call('GET', '/dicomweb/studies', { Authorization: `Bearer ${json.token}`, ...from() })).status).toBe(200);
    const again = await call('POST', `/admin/credentials/${rotated.json.credential.id}/rotate`, { ...admin(), ...from() });
    expect(again.status).toBe(201);
    expect((await call('GET', '/dicomweb/studies', { Authorization: `Bearer ${rotated.json.token}`, ...from() })).json.code).toBe('credential_revoked');
  });

  it('locks a key after repeated wrong secrets (even the right one is refused), until an admin unlocks it', async () => {
    const { json } = await call('POST', '/admin/credentials', { ...admin(), ...from() }, { name: 'target', roles: ['viewer'] });
    const wrong = { Authorization: `Bearer ${json.token.slice(0, -4)}AAAA` };
    const right = { Authorization: `Bearer ${json.token}` };
    for (let i = 0; i < 3; i++) expect((await call('GET', '/dicomweb/studies', { ...wrong, ...from() })).status).toBe(401);
    const locked = await call('GET', '/dicomweb/studies', { ...right, ...from() });
    expect(locked.status).toBe(429);
    expect(locked.json.code).toBe('credential_locked');
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await audits('auth.lockout')).some((a) => a.actor === json.credential.id && a.details.reason === 'credential_locked')).toBe(true);
    expect((await call('POST', `/admin/credentials/${json.credential.id}/unlock`, { ...admin(), ...from() })).json.status).toBe('active');
    expect((await call('GET', '/dicomweb/studies', { ...right, ...from() })).status).toBe(200);
  });

  it('locks a client address after repeated failures of any kind; other addresses are unaffected', async () => {
    const address = { 'X-Forwarded-For': '203.0.113.7' };
    for (let i = 0; i < 8; i++) {
      const status = (await call('GET', '/dicomweb/studies', { Authorization: i % 2 ? 'Bearer nonsense' : '', ...address })).status;
      expect(status).toBe(401);
    }
    const locked = await call('GET', '/dicomweb/studies', { ...gw.auth, ...address });
    expect(locked.status).toBe(429);
    expect(locked.json.code).toBe('address_locked');
    expect((await call('GET', '/dicomweb/studies', { ...gw.auth, ...from() })).status).toBe(200);
    const lockouts = (await audits('auth.lockout')).filter((a) => a.client_address === '203.0.113.7');
    expect(lockouts).toHaveLength(1);
    // Refused while locked: not audited one by one.
    const before = (await audits('auth.login')).length;
    await call('GET', '/dicomweb/studies', { Authorization: 'Bearer nonsense', ...address });
    expect((await audits('auth.login')).length).toBe(before);
  });

  describe('OIDC JWT bearer tokens', () => {
    it('accept a token of the issuer: roles and institution from its claims', async () => {
      const token = await idp.token({ sub: 'dr-li', roles: ['viewer'], huren_institution: 'H-K' });
      expect((await call('GET', '/dicomweb/studies', { Authorization: `Bearer ${token}`, ...from() })).status).toBe(200);
      expect((await call('GET', '/admin/credentials', { Authorization: `Bearer ${token}`, ...from() })).status).toBe(403);
      const keycloak = await idp.token({ sub: 'op', realm_access: { roles: ['admin'] } });
      expect((await call('GET', '/admin/credentials', { Authorization: `Bearer ${keycloak}`, ...from() })).status).toBe(200);
      await gw.flushAudit();
      const row = await gw.core
        .db('audit_event')
        .where({ actor: `${idp.issuer}#op` })
        .first();
      expect(row).toMatchObject({ actor_kind: 'jwt', action: 'admin.credentials', roles: ['admin'] });
    });

    it.each([
      ['signed by another key', { roles: ['viewer'] }, { key: 'foreign' as const }],
      ['for another audience', { roles: ['viewer'], aud: 'someone-else' }, {}],
      ['of another issuer', { roles: ['viewer'], iss: 'https://evil.example' }, {}],
      ['expired', { roles: ['viewer'] }, { expiresIn: Math.floor(Date.now() / 1000) - 3600 }],
    ])('refuse a token %s (401, audited)', async (_name, claims, opts) => {
      const token = await idp.token(claims, opts);
      const res = await call('GET', '/dicomweb/studies', { Authorization: `Bearer ${token}`, ...from() });
      expect(res.status).toBe(401);
      expect(res.json.code).toBe('invalid_token');
      const [last] = (await audits('auth.login')).slice(-1);
      expect(last).toMatchObject({ outcome: 'denied', actor_kind: 'anonymous', details: { reason: expect.stringMatching(/^ERR_/) } });
    });

    it('picks up a rotated signing key from the JWKS (refetched at most every 5 s)', async () => {
      await idp.rotate();
      await new Promise((r) => setTimeout(r, 5100));
      const token = await idp.token({ roles: ['viewer'] });
      expect((await call('GET', '/dicomweb/studies', { Authorization: `Bearer ${token}`, ...from() })).status).toBe(200);
    });
  });
});
