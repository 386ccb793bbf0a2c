/**
 * Who is asking (set once by the authentication middleware) and what the audit record of the
 * request should say beyond the defaults. Kept beside the request (a WeakMap), not on it, so
 * nothing a client sends can pose as either.
 */
import type { Request } from 'express';
import { HurenError } from '../../core/errors';
import type { Role } from '../../core/security/roles';
import type { PolicyMatch } from './policy';

export interface Principal {
  kind: 'api_key' | 'jwt';
  /** Credential id (API key) or `iss#sub` (JWT). */
  id: string;
  /** Credential name, or the JWT's preferred_username / sub. */
  name: string;
  /** The institution the credential acts for; null = a platform credential. */
  institution: string | null;
  roles: ReadonlySet<Role>;
}

/** Extra facts for the request's audit record (handlers and access checks add them). */
export interface AuditContext {
  action?: string;
  study?: string | null;
  studies?: string[];
  patientHash?: string | null;
  reminderId?: string | null;
  /** Set when access was refused although the answer is 404 (existence not revealed). */
  denied?: string;
  details: Record<string, unknown>;
  /** The route's policy entry (set by the authentication middleware). */
  match?: PolicyMatch;
  /** A failed login, audited when it happened. */
  loginFailure?: boolean;
  /** Not audited one by one (refused while locked, rate-limited). */
  skipAudit?: boolean;
}

const principals = new WeakMap<Request, Principal>();
const audits = new WeakMap<Request, AuditContext>();
const studyChecks = new WeakMap<Request, string>();

export function setPrincipal(req: Request, p: Principal): void {
  principals.set(req, p);
}

export const principalOf = (req: Request): Principal | undefined => principals.get(req);

/** The principal, or 401: handlers behind the security middleware fail closed without one. */
export function requirePrincipal(req: Request): Principal {
  const p = principals.get(req);
  if (!p) throw new HurenError(401, 'unauthenticated', '需要身份认证 / Authentication required');
  return p;
}

export function auditContext(req: Request): AuditContext {
  let ctx = audits.get(req);
  if (!ctx) {
    ctx = { details: {} };
    audits.set(req, ctx);
  }
  return ctx;
}

export const peekAuditContext = (req: Request): AuditContext | undefined => audits.get(req);

/** The access check of a study-scoped route passed for this study (gateway/security/access.ts). */
export function markStudyChecked(req: Request, study: string): void {
  studyChecks.set(req, study);
}

/**
 * For WADO handlers: the request's study passed the access check. Fails closed (404, as a
 * refused study answers) when the check did not run for exactly this study.
 */
export function assertStudyChecked(req: Request, study: string): void {
  if (studyChecks.get(req) !== study) throw new HurenError(404, 'not_found', `No study ${study.slice(0, 80)} here`);
}
