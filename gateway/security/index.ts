/**
 * Security in front of every route (docs/security.md): headers and CORS, the audit trail,
 * then authentication and authorisation. createApp mounts `middleware` before any router and
 * the credential and audit admin routers under /admin.
 */
import type { Express, RequestHandler } from 'express';
import { AuditWriter } from '../../core/security/audit';
import { patientIdKeys, type PatientIdKeys } from '../../core/recognition/patient-keys';
import type { GatewayDeps } from '../deps';
import type { AccessDeps } from './access';
import { auditTrail } from './audit-trail';
import { authenticate } from './authenticate';
import { corsFor, securityHeaders } from './hardening';
import { createJwtVerifier } from './jwt';
import { createAddressLockout, createRateLimiter } from './limits';

export interface Security {
  /** In order: headers, CORS, audit trail, authentication/authorisation. */
  middleware: RequestHandler[];
  audit: AuditWriter;
  access: AccessDeps;
  /** Writes the audit records still buffered (shutdown). */
  close(): Promise<void>;
}

type SecurityDeps = Pick<GatewayDeps, 'config' | 'db' | 'redis' | 'logger'>;

export function createSecurity(deps: SecurityDeps): Security {
  const { config, db, redis, logger } = deps;
  // Resolved at first use: dev keys may live in a file (patient-keys.ts).
  let keys: PatientIdKeys | null | undefined;
  const getKeys = () => (keys === undefined ? (keys = patientIdKeys(config)) : keys);
  const audit = new AuditWriter(db, logger);
  const access: AccessDeps = { db, contextHours: config.HUREN_ACCESS_CONTEXT_HOURS, keys: getKeys };
  const middleware: RequestHandler[] = [
    securityHeaders,
    corsFor(config.HUREN_CORS_ORIGINS),
    auditTrail({ db, audit, keys: getKeys }),
    authenticate({
      config,
      db,
      logger,
      audit,
      jwt: createJwtVerifier(config),
      lockout: createAddressLockout(redis, config, logger),
      rateLimiter: createRateLimiter(redis, config, logger),
      access,
    }),
  ];
  return { middleware, audit, access, close: () => audit.close() };
}

const SECURITY = 'huren.security';

/** The app's security (tests flush its audit writer; main.ts closes it on shutdown). */
export function securityOf(app: Express): Security {
  const s = app.locals[SECURITY] as Security | undefined;
  if (!s) throw new Error('this app has no security middleware');
  return s;
}

export function attachSecurity(app: Express, security: Security): void {
  app.locals[SECURITY] = security;
}

/** HUREN_TRUST_PROXY as Express's `trust proxy` value: true/false, a hop count, or addresses/names. */
export function trustProxySetting(value: string): boolean | number | string {
  if (value === 'true' || value === 'false') return value === 'true';
  return /^\d+$/.test(value) ? Number(value) : value;
}
