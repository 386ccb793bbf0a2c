/**
 * The one authentication and authorisation middleware, in front of every route (docs/security.md):
 *
 * 1. the route's policy (policy.ts); `public` routes (only /healthz) pass untouched;
 * 2. a locked client address is refused (429) before anything else;
 * 3. credentials: `Authorization: Bearer <API key | JWT>` or `Basic` with the API key as the
 *    password (for PACS and browsers that only speak Basic); failures answer 401 (a locked
 *    key 429), count against the key and the client address, and are audited;
 * 4. no policy for the route → 404 (default deny: unknown paths and unlisted routes alike);
 * 5. the principal must hold one of the route's roles (403);
 * 6. requests per credential per minute (429 + Retry-After);
 * 7. the route's institution binding for institution credentials (403/404, access.ts).
 */
import type { Request, RequestHandler, Response } from 'express';
import { HurenError } from '../../core/errors';
import { looksLikeApiKey, tokenPrefix, verifyApiKey, type ApiKeyRow } from '../../core/security/api-keys';
import type { AuditWriter } from '../../core/security/audit';
import { isRole, type Role } from '../../core/security/roles';
import type { Config } from '../../core/config';
import type { Knex } from 'knex';
import type { Logger } from '../../core/logger';
import { jsonBody } from '../http/request-body';
import { enforceBinding, requestReminder, type AccessDeps } from './access';
import { loginFailureRecord } from './audit-trail';
import { JwtRejected, type JwtVerifier } from './jwt';
import type { AddressLockout, RateLimiter } from './limits';
import { findPolicy, type Binding } from './policy';
import { auditContext, markStudyChecked, setPrincipal, type Principal } from './principal';

export interface AuthDeps {
  config: Config;
  db: Knex;
  logger: Logger;
  audit: AuditWriter;
  jwt: JwtVerifier | null;
  lockout: AddressLockout;
  rateLimiter: RateLimiter | null;
  access: AccessDeps;
}

type Presented = { scheme: 'bearer' | 'basic'; token: string };

const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*$/;
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** The credential a request presents, undefined when none, null when malformed. */
export function presentedCredential(req: Request): Presented | undefined | null {
  const header = req.get('authorization');
  if (header === undefined || header.trim() === '') return undefined;
  const m = /^(Bearer|Basic)\s+(\S+)\s*$/i.exec(header);
  if (!m || m[2].length > 8192) return null;
  if (m[1].toLowerCase() === 'bearer') return TOKEN68.test(m[2]) ? { scheme: 'bearer', token: m[2] } : null;
  const decoded = Buffer.from(m[2], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  // The API key is the password; the user name is free (PACS make one up).
  const token = decoded.slice(colon + 1) || decoded.slice(0, colon);
  return token && TOKEN68.test(token) ? { scheme: 'basic', token } : null;
}

const isJwt = (token: string) => JWT_SHAPE.test(token) && !looksLikeApiKey(token);

export function principalOfKey(row: ApiKeyRow): Principal {
  const institution = row.institution_code;
  return {
    kind: 'api_key',
    id: row.id,
    name: row.name,
    institution,
    roles: new Set<Role>(row.roles.filter(isRole).filter((r) => !institution || (r !== 'admin' && r !== 'ops'))),
  };
}

class AuthFailure extends HurenError {
  constructor(
    status: number,
    code: string,
    message: string,
    readonly reason: string,
    readonly extra: { key?: ApiKeyRow; retryAfter?: number; justLocked?: boolean } = {},
  ) {
    super(status, code, message);
  }
}

const INVALID = '身份认证失败 / Authentication failed';

export function authenticate(deps: AuthDeps): RequestHandler {
  const { config, db, audit, jwt, lockout, rateLimiter } = deps;
  const lockoutPolicy = { maxFailures: config.HUREN_AUTH_MAX_FAILURES, lockoutSeconds: config.HUREN_AUTH_LOCKOUT_SECONDS };

  async function verify(presented: Presented): Promise<Principal> {
    const { token } = presented;
    if (isJwt(token)) {
      if (!jwt) throw new AuthFailure(401, 'invalid_token', `${INVALID}: JWT bearer tokens are not configured (HUREN_OIDC_ISSUER)`, 'jwt_not_configured');
      try {
        return await jwt(token);
      } catch (err) {
        const reason = err instanceof JwtRejected ? err.reason : 'ERR_JWT_INVALID';
        throw new AuthFailure(401, 'invalid_token', `${INVALID}: the bearer token was not accepted (${reason})`, reason);
      }
    }
    const result = await verifyApiKey(db, token, lockoutPolicy);
    if (result.ok) return principalOfKey(result.key);
    switch (result.reason) {
      case 'locked': {
        const seconds = Math.max(1, Math.ceil((result.lockedUntil!.getTime() - Date.now()) / 1000));
        throw new AuthFailure(
          429,
          'credential_locked',
          `凭据因多次认证失败被暂时锁定 / The credential is locked after repeated failures; retry in ${seconds} s`,
          'locked',
          { key: result.key, retryAfter: seconds },
        );
      }
      case 'revoked':
        throw new AuthFailure(401, 'credential_revoked', '凭据已吊销 / The credential has been revoked', 'revoked', { key: result.key });
      case 'expired':
        throw new AuthFailure(401, 'credential_expired', '凭据已过期 / The credential has expired', 'expired', { key: result.key });
      default:
        throw new AuthFailure(401, 'invalid_credentials', INVALID, result.reason, { key: result.key, justLocked: result.justLocked });
    }
  }

  function challenge(req: Request, res: Response): void {
    // The queue UI is a browser page: Basic lets the browser ask for (and resend) the key.
    res.setHeader('WWW-Authenticate', req.path.toLowerCase().startsWith('/admin/queues') ? 'Basic realm="huren", charset="UTF-8"' : 'Bearer realm="huren"');
  }

  async function failed(req: Request, res: Response, failure: AuthFailure, presented?: Presented): Promise<HurenError> {
    const address = req.ip ?? 'unknown';
    const ctx = auditContext(req);
    ctx.loginFailure = true;
    audit.add(
      loginFailureRecord(req, failure.status, failure.reason, {
        key: failure.extra.key,
        prefix: presented && !isJwt(presented.token) ? tokenPrefix(presented.token) : undefined,
        scheme: presented?.scheme,
      }),
    );
    if (failure.extra.justLocked) audit.add({ ...loginFailureRecord(req, 429, 'credential_locked', { key: failure.extra.key }), action: 'auth.lockout' });
    if (await lockout.fail(address)) audit.add({ ...loginFailureRecord(req, 429, 'address_locked', {}), action: 'auth.lockout' });
    if (failure.status === 401) challenge(req, res);
    if (failure.extra.retryAfter) res.setHeader('Retry-After', String(failure.extra.retryAfter));
    return failure;
  }

  return async (req, res, next) => {
    try {
      const match = findPolicy(req.method, req.path);
      const ctx = auditContext(req);
      ctx.match = match;
      if (match?.policy.roles === 'public') return next();

      const address = req.ip ?? 'unknown';
      const lockedFor = await lockout.lockedFor(address);
      if (lockedFor > 0) {
        // Not audited one by one: the lockout itself was (bounded audit volume under attack).
        ctx.skipAudit = true;
        res.setHeader('Retry-After', String(lockedFor));
        throw new HurenError(
          429,
          'address_locked',
          `认证失败次数过多，请 ${lockedFor} 秒后再试 / Too many failed authentications from this address; retry in ${lockedFor} s`,
        );
      }

      const presented = presentedCredential(req);
      if (presented === undefined)
        throw await failed(req, res, new AuthFailure(401, 'unauthenticated', '需要身份认证 / Authentication required', 'missing_credentials'));
      if (presented === null)
        throw await failed(req, res, new AuthFailure(401, 'invalid_credentials', `${INVALID}: malformed Authorization header`, 'malformed'));
      let principal: Principal;
      try {
        principal = await verify(presented);
      } catch (err) {
        if (err instanceof AuthFailure) throw await failed(req, res, err, presented);
        throw err;
      }
      setPrincipal(req, principal);

      if (!match) throw new HurenError(404, 'not_found', `No such resource: ${req.method} ${req.path.slice(0, 200)}`);
      const { policy, params } = match;
      const roles = policy.roles as readonly Role[];
      if (!roles.some((r) => principal.roles.has(r))) {
        throw new HurenError(403, 'forbidden', `此操作需要角色 ${roles.join(' 或 ')} / This needs the role ${roles.join(' or ')}`, { roles: [...roles] });
      }

      if (rateLimiter) {
        const wait = await rateLimiter.consume(`${principal.kind}:${principal.id}`);
        if (wait > 0) {
          ctx.skipAudit = true;
          res.setHeader('Retry-After', String(wait));
          throw new HurenError(
            429,
            'rate_limited',
            `请求过于频繁（每分钟 ${rateLimiter.limit} 次）/ Too many requests (${rateLimiter.limit} per minute); retry in ${wait} s`,
          );
        }
      }

      if (policy.bind) {
        if (needsBody(policy.bind) && principal.institution !== null) await parseJson(req, res);
        const bound = await enforceBinding(deps.access, principal, policy.bind, {
          params,
          query: req.query as Record<string, unknown>,
          body: req.body,
          reminder: requestReminder(req),
        });
        if (bound.study) {
          ctx.study = bound.study;
          if (policy.bind.kind === 'accessibleStudy') markStudyChecked(req, bound.study);
        }
        if (bound.via) ctx.details.access = bound.via;
      }
      next();
    } catch (err) {
      const denied = (err as { accessDenied?: string }).accessDenied;
      if (denied) auditContext(req).denied = denied;
      next(err);
    }
  };
}

const needsBody = (b: Binding) => b.kind === 'body' || b.kind === 'ownPatient' || (b.kind === 'reminder' && !b.param);

/** JSON bodies as the routes parse them (the route's own parser then finds them read). */
function parseJson(req: Request, res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    jsonBody()(req, res, (err?: unknown) => (err ? reject(err) : resolve()));
  });
}
