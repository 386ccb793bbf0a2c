/**
 * Response headers and CORS (docs/security.md):
 * - helmet, set for an API: `Content-Security-Policy: default-src 'none'` (JSON and DICOM are
 *   never rendered as pages), no framing, no sniffing, no referrer; resources may be read
 *   cross-origin (CORP cross-origin: a viewer on another origin fetches them with CORS and
 *   credentials). The queue UI (/admin/queues) is a page and gets a CSP for its own scripts.
 * - CORS for the origins in HUREN_CORS_ORIGINS only (an OHIF deployment): the request headers
 *   OHIF's DICOMweb client sends and the response headers it reads. No cookies are used, so
 *   credentials mode is off; the Authorization header is allowed.
 */
import cors from 'cors';
import type { RequestHandler } from 'express';
import helmet from 'helmet';

const common = {
  crossOriginResourcePolicy: { policy: 'cross-origin' as const },
  crossOriginEmbedderPolicy: false,
  referrerPolicy: { policy: 'no-referrer' as const },
  strictTransportSecurity: { maxAge: 31_536_000, includeSubDomains: true },
};

const apiHeaders = helmet({
  ...common,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
  },
});

const pageHeaders = helmet({
  ...common,
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      frameAncestors: ["'none'"],
      baseUri: ["'self'"],
      formAction: ["'self'"],
    },
  },
});

export const securityHeaders: RequestHandler = (req, res, next) =>
  (req.path.toLowerCase().startsWith('/admin/queues') ? pageHeaders : apiHeaders)(req, res, next);

export const CORS_ALLOWED_HEADERS = [
  'Authorization',
  'Accept',
  'Content-Type',
  'If-None-Match',
  'X-Requested-With',
  'X-Huren-Reminder',
  'X-Huren-Patient-National-Id',
];
export const CORS_EXPOSED_HEADERS = ['ETag', 'Warning', 'Content-Type', 'Content-Length', 'Content-Location', 'Location', 'Retry-After', 'WWW-Authenticate'];

export function corsFor(origins: string[]): RequestHandler {
  const allowed = new Set(origins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
  return cors({
    origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(origin.toLowerCase())),
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: CORS_EXPOSED_HEADERS,
    credentials: false,
    maxAge: 600,
    optionsSuccessStatus: 204,
  });
}
