/**
 * The security settings (docs/security.md), spread into the one configuration schema
 * (core/config.ts). Secrets (HUREN_ADMIN_TOKEN) come only from the environment.
 */
import { z } from 'zod';

const count = z.coerce.number().int().min(0);
const positive = z.coerce.number().int().positive();

/** Comma-separated list → trimmed, non-empty entries. */
const list = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );

export const securitySettings = {
  /**
   * Ensures a platform admin credential whose secret is this value (idempotent; a changed
   * value revokes the previous bootstrap credential). At least 32 characters.
   */
  HUREN_ADMIN_TOKEN: z.preprocess(
    (v) => (typeof v === 'string' && v.trim() === '' ? undefined : v),
    z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9._~+/=-]{32,256}$/, {
        error: 'must be 32–256 characters of A-Z a-z 0-9 . _ ~ + / = -, e.g. `openssl rand -hex 32` / 须为 32–256 位随机字符',
      })
      .optional(),
  ),
  /** OAuth2/OIDC issuer whose JWT bearer tokens are accepted (exact `iss`). */
  HUREN_OIDC_ISSUER: z.url().optional(),
  /** Required `aud` of accepted JWTs. */
  HUREN_OIDC_AUDIENCE: z.string().min(1).optional(),
  /** JWKS URL; default: `jwks_uri` from the issuer's /.well-known/openid-configuration. */
  HUREN_OIDC_JWKS_URL: z.url().optional(),
  /** Claim(s) holding role names, dotted paths, first present wins. */
  HUREN_OIDC_ROLES_CLAIM: list.default(['roles', 'realm_access.roles']),
  /** Claim holding the institution code; absent = a platform principal. */
  HUREN_OIDC_INSTITUTION_CLAIM: z.string().min(1).default('huren_institution'),
  /** Accepted JWS algorithms. */
  HUREN_OIDC_ALGORITHMS: list.default(['RS256', 'PS256', 'ES256', 'EdDSA']),
  /** Requests per minute per credential (Redis-shared across gateways); 0 = no limit. */
  HUREN_RATE_LIMIT_PER_MINUTE: count.default(6000),
  /** Failed attempts with one API key before it is locked. */
  HUREN_AUTH_MAX_FAILURES: positive.default(10),
  /** Failed authentications from one client address before the address is locked. */
  HUREN_AUTH_MAX_FAILURES_PER_ADDRESS: positive.default(50),
  /** Failure counting window and lockout duration. */
  HUREN_AUTH_LOCKOUT_SECONDS: positive.default(900),
  /** Largest request header block (Node answers 431 above it). */
  HUREN_MAX_HEADER_BYTES: z.coerce
    .number()
    .int()
    .min(4096)
    .max(1024 * 1024)
    .default(16 * 1024),
  /**
   * A connection on which nothing arrives or leaves for this long is closed, a request body
   * half-sent included (a client gone silent, slowloris). Counted per socket read or write, so
   * a multi-GB STOW on a slow link is never cut while it moves.
   */
  HUREN_SOCKET_IDLE_SECONDS: positive.default(120),
  /** Browser origins allowed by CORS (e.g. an OHIF viewer), comma-separated; empty = none. */
  HUREN_CORS_ORIGINS: list,
  /** Which proxies' X-Forwarded-For is trusted for the client address (Express `trust proxy`). */
  HUREN_TRUST_PROXY: z.string().min(1).default('loopback'),
  /** How long a reminder or a national-ID query lets an institution reach another's studies. */
  HUREN_ACCESS_CONTEXT_HOURS: positive.default(72),
  /** Audit records older than this are removed (a checkpoint keeps the chain verifiable); 0 = keep all. */
  HUREN_AUDIT_RETENTION_DAYS: count
    .refine((d) => d === 0 || d >= 180, {
      error: 'must be 0 (keep all) or at least 180: 网络安全法 requires network logs to be kept at least six months',
    })
    .default(0),
};
