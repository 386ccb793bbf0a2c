import { generateToken, hashToken, looksLikeApiKey, tokenPrefix } from '../../../core/security/api-keys';
import { canonicalJson, chainHash, GENESIS_HASH, type AuditRecord } from '../../../core/security/audit';
import { principalFromClaims } from '../../../gateway/security/jwt';
import { presentedCredential } from '../../../gateway/security/authenticate';
import type { Request } from 'express';

describe('API key tokens', () => {
  it('are hrn_<12 hex>_<43 base64url> with the prefix recoverable and a SHA-256 hash', () => {
    const { token, prefix } = generateToken();
    expect(token).toMatch(/^hrn_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    expect(looksLikeApiKey(token)).toBe(true);
    expect(tokenPrefix(token)).toBe(prefix);
    expect(hashToken(token)).toMatch(/^[0-9a-f]{64}$/);
    expect(generateToken().token).not.toBe(token);
  });

  it('derive a stable prefix for operator-chosen bootstrap tokens', () => {
    const t = 'x'.repeat(40);
    expect(tokenPrefix(t)).toMatch(/^boot[0-9a-f]{12}$/);
    expect(tokenPrefix(t)).toBe(tokenPrefix(t));
    expect(tokenPrefix(`${t}y`)).not.toBe(tokenPrefix(t));
  });
});

describe('the Authorization header', () => {
  const req = (authorization?: string) =>
    ({ get: (name: string) => (name.toLowerCase() === 'authorization' ? authorization : undefined) }) as unknown as Request;
  it('accepts Bearer and Basic (the key as password), refuses malformed values', () => {
    expect(presentedCredential(req())).toBeUndefined();
    expect(presentedCredential(req('Bearer abc.def'))).toEqual({ scheme: 'bearer', token: 'abc.def' });
    expect(presentedCredential(req('bearer   tok=='))).toEqual({ scheme: 'bearer', token: 'tok==' });
    expect(presentedCredential(req(`Basic ${Buffer.from('pacs:hrn_key').toString('base64')}`))).toEqual({ scheme: 'basic', token: 'hrn_key' });
    expect(presentedCredential(req(`Basic ${Buffer.from('hrn_key:').toString('base64')}`))).toEqual({ scheme: 'basic', token: 'hrn_key' });
    for (const bad of ['Bearer', 'Token abc', 'Bearer a b', 'Bearer ä', `Basic ${Buffer.from('nocolon').toString('base64')}`, `Bearer ${'a'.repeat(9000)}`]) {
      expect(presentedCredential(req(bad))).toBeNull();
    }
  });
});

describe('JWT claims', () => {
  const config = {
    HUREN_OIDC_ROLES_CLAIM: ['roles', 'realm_access.roles'],
    HUREN_OIDC_INSTITUTION_CLAIM: 'huren_institution',
    HUREN_OIDC_ISSUER: 'https://idp',
  };
  it('map to huren roles and an institution; platform roles only without an institution', () => {
    const p = principalFromClaims(
      { iss: 'https://idp', sub: 'u1', realm_access: { roles: ['viewer', 'offline_access', 'admin'] }, huren_institution: 'H-1' },
      config,
    );
    expect(p).toMatchObject({ kind: 'jwt', id: 'https://idp#u1', institution: 'H-1' });
    expect([...p.roles]).toEqual(['viewer']);
    const platform = principalFromClaims({ iss: 'https://idp', sub: 'op', roles: 'admin ops', preferred_username: 'operator' }, config);
    expect(platform).toMatchObject({ institution: null, name: 'operator' });
    expect([...platform.roles].sort()).toEqual(['admin', 'ops']);
    expect(principalFromClaims({ sub: 'x', roles: ['viewer'], huren_institution: 'bad code!' }, config).institution).toBeNull();
  });
});

describe('audit hash chain', () => {
  const record: AuditRecord = {
    at: new Date('2026-11-25T08:00:00.123Z'),
    actor: 'k1',
    actorKind: 'api_key',
    actorName: 'pacs',
    institution: 'H-1',
    roles: ['pacs'],
    action: 'dicomweb.stow',
    outcome: 'success',
    status: 200,
    patientHash: null,
    study: '1.2.3',
    clientAddress: '127.0.0.1',
    method: 'POST',
    path: '/dicomweb/studies',
    details: { b: 1, a: { d: [1, 'x'], c: null } },
  };
  it('serialises canonically (sorted keys at every level) and chains hashes', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, 'x'], c: null } })).toBe('{"a":{"c":null,"d":[1,"x"]},"b":1}');
    const h1 = chainHash(GENESIS_HASH, 1, record);
    expect(h1).toMatch(/^[0-9a-f]{64}$/);
    expect(chainHash(GENESIS_HASH, 1, { ...record, details: { a: { c: null, d: [1, 'x'] }, b: 1 } })).toBe(h1);
    expect(chainHash(GENESIS_HASH, 1, { ...record, outcome: 'denied' })).not.toBe(h1);
    expect(chainHash(GENESIS_HASH, 2, record)).not.toBe(h1);
    expect(chainHash(h1, 2, record)).not.toBe(chainHash(GENESIS_HASH, 2, record));
  });
});
