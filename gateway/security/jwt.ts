/**
 * OAuth2/OIDC bearer tokens (docs/security.md): a JWT signed by a key of the configured
 * issuer's JWKS (HUREN_OIDC_JWKS_URL, or `jwks_uri` of the issuer's discovery document),
 * with exactly that `iss`, the configured `aud`, valid `exp`/`nbf` (30 s of clock skew).
 * Roles come from the configured claim(s), the institution from its claim. jose caches the
 * key set and refetches it when a token names an unknown `kid` (key rotation at the IdP).
 */
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Config } from '../../core/config';
import { isRole, type Role } from '../../core/security/roles';
import type { Principal } from './principal';

export type JwtVerifier = (token: string) => Promise<Principal>;

export class JwtRejected extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** A claim by dotted path (`realm_access.roles`). */
function claim(payload: JWTPayload, path: string): unknown {
  let value: unknown = payload;
  for (const key of path.split('.')) {
    if (!value || typeof value !== 'object' || !Object.hasOwn(value, key)) return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** huren's roles among the token's (others are ignored); admin and ops only without an institution. */
export function principalFromClaims(
  payload: JWTPayload,
  config: Pick<Config, 'HUREN_OIDC_ROLES_CLAIM' | 'HUREN_OIDC_INSTITUTION_CLAIM' | 'HUREN_OIDC_ISSUER'>,
): Principal {
  let raw: unknown;
  for (const path of config.HUREN_OIDC_ROLES_CLAIM) {
    raw = claim(payload, path);
    if (raw !== undefined) break;
  }
  const names = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(/[\s,]+/) : [];
  const institutionClaim = claim(payload, config.HUREN_OIDC_INSTITUTION_CLAIM);
  const institution = typeof institutionClaim === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(institutionClaim) ? institutionClaim : null;
  const roles = new Set<Role>(names.filter(isRole).filter((r) => !institution || (r !== 'admin' && r !== 'ops')));
  const sub = typeof payload.sub === 'string' ? payload.sub : '';
  const username = claim(payload, 'preferred_username');
  return {
    kind: 'jwt',
    id: `${payload.iss ?? config.HUREN_OIDC_ISSUER}#${sub}`.slice(0, 300),
    name: (typeof username === 'string' ? username : sub).slice(0, 200),
    institution,
    roles,
  };
}

async function discoverJwksUrl(issuer: string): Promise<URL> {
  const url = `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`OIDC discovery ${url} answered ${res.status}`);
  const doc = (await res.json()) as { issuer?: string; jwks_uri?: string };
  if (!doc.jwks_uri) throw new Error(`OIDC discovery ${url} names no jwks_uri`);
  return new URL(doc.jwks_uri);
}

/** null when no issuer is configured (then only API keys are accepted). */
export function createJwtVerifier(config: Config): JwtVerifier | null {
  const issuer = config.HUREN_OIDC_ISSUER;
  if (!issuer) return null;
  if (!config.HUREN_OIDC_AUDIENCE)
    throw new Error('HUREN_OIDC_AUDIENCE is required with HUREN_OIDC_ISSUER / 设置 HUREN_OIDC_ISSUER 时须设置 HUREN_OIDC_AUDIENCE');
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  let discovering: Promise<ReturnType<typeof createRemoteJWKSet>> | undefined;
  const keySet = async () => {
    if (jwks) return jwks;
    discovering ??= (config.HUREN_OIDC_JWKS_URL ? Promise.resolve(new URL(config.HUREN_OIDC_JWKS_URL)) : discoverJwksUrl(issuer))
      .then((url) => (jwks = createRemoteJWKSet(url, { timeoutDuration: 5000, cooldownDuration: 5000, cacheMaxAge: 10 * 60_000 })))
      .finally(() => (discovering = undefined));
    return discovering;
  };

  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await keySet(), {
        issuer,
        audience: config.HUREN_OIDC_AUDIENCE,
        algorithms: config.HUREN_OIDC_ALGORITHMS,
        clockTolerance: 30,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) throw new JwtRejected(err.code);
      // The IdP is unreachable (discovery or key set): not the client's fault, but no access either.
      throw new JwtRejected('ERR_JWKS_UNAVAILABLE');
    }
    return principalFromClaims(payload, config);
  };
}
