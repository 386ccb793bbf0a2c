import path from 'node:path';
import { z } from 'zod';
import { securitySettings } from './security/settings';

/**
 * Every setting huren reads, validated once at start. The README's "Settings" table
 * documents each variable with its default; keep the two in step.
 */
const bool = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const bytes = z.coerce.number().int().positive();

/** A 256-bit key as base64 (`openssl rand -base64 32`). */
const key256 = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9+/]{43}=$/, {
    error: 'must be 32 random bytes in base64, e.g. from `openssl rand -base64 32` / 须为 32 字节随机数的 base64 编码',
  });

export const configSchema = z.object({
  HUREN_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  HUREN_HOST: z.string().default('0.0.0.0'),
  /** Public base URL used in RetrieveURL attributes; derived from the request when unset. */
  HUREN_PUBLIC_URL: z.url().optional(),
  DATABASE_URL: z.string().optional(),
  /** PostgreSQL schema holding huren's tables (tests use one schema per run). */
  HUREN_DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/)
    .default('public'),
  HUREN_DB_POOL_MAX: z.coerce.number().int().positive().default(20),
  REDIS_URL: z.string().default('redis://127.0.0.1:6379'),
  /** BullMQ key prefix: lets several deployments (or test runs) share one Redis. */
  HUREN_QUEUE_PREFIX: z.string().min(1).default('huren'),
  HUREN_STORAGE: z.enum(['fs', 's3']).default('fs'),
  HUREN_DATA_DIR: z.string().default('./data'),
  S3_ENDPOINT: z.string().optional(),
  S3_PORT: z.coerce.number().int().positive().optional(),
  S3_USE_SSL: bool.default(false),
  S3_ACCESS_KEY: z.string().optional(),
  S3_SECRET_KEY: z.string().optional(),
  S3_BUCKET: z.string().default('huren'),
  S3_REGION: z.string().default('us-east-1'),
  /** Largest accepted STOW request body; larger requests get 413. */
  HUREN_STOW_MAX_REQUEST_BYTES: bytes.default(4 * 1024 ** 3),
  /** Largest accepted single instance (multipart part). */
  HUREN_STOW_MAX_PART_BYTES: bytes.default(2 * 1024 ** 3),
  /** What to do with a different object arriving under an existing SOPInstanceUID. */
  HUREN_STOW_CONFLICT_POLICY: z.enum(['replace', 'reject']).default('replace'),
  /**
   * Seconds the oldest waiting index job may have waited before new STOW requests wait for the
   * workers to catch up, bounding the time from acknowledgement to queryable
   * (gateway/dicomweb/stow-admission.ts). 0 turns admission control off.
   */
  HUREN_STOW_MAX_INDEX_LAG_SECONDS: z.coerce.number().min(0).default(0.5),
  /** Longest a STOW request waits for admission before it is answered 503 with Retry-After. */
  HUREN_STOW_ADMISSION_WAIT_SECONDS: z.coerce.number().positive().default(15),
  /**
   * After a STOW found object storage full (503 storage_full), how long new STOW requests are
   * refused before their body is read; then one request at a time probes
   * (gateway/dicomweb/storage-full-hold.ts). 0 turns the hold off.
   */
  HUREN_STOW_STORAGE_FULL_HOLD_SECONDS: z.coerce.number().min(0).default(30),
  /** Retry-After (whole seconds) of a 503 storage_full; other 503s say 5 s. */
  HUREN_STOW_STORAGE_FULL_RETRY_AFTER_SECONDS: z.coerce.number().int().positive().default(60),
  HUREN_QIDO_DEFAULT_LIMIT: z.coerce.number().int().positive().default(100),
  HUREN_QIDO_MAX_LIMIT: z.coerce.number().int().positive().default(1000),
  /** A study is "stable" once no instance has arrived for this long. */
  HUREN_STUDY_STABLE_SECONDS: z.coerce.number().int().positive().default(60),
  /** Catalogs every study is mapped to (comma-separated ids). */
  HUREN_ENABLED_CATALOGS: z
    .string()
    .default('chuanyu-2025,xinjiang,zhejiang-2021')
    .transform((v) =>
      v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    )
    .pipe(z.array(z.enum(['chuanyu-2025', 'xinjiang', 'zhejiang-2021'])).min(1)),
  /** Index jobs in progress per worker process: they mostly wait for storage and PostgreSQL, and their writes are committed in groups. */
  HUREN_WORKER_CONCURRENCY: z.coerce.number().int().positive().default(32),
  /** Most instances one index transaction writes (core/index-store/index-writer.ts). */
  HUREN_INDEX_GROUP_MAX: z.coerce.number().int().positive().default(200),
  /** Port of the worker's own /metrics endpoint (0 = a free port). */
  HUREN_WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).default(9465),
  HUREN_JOB_ATTEMPTS: z.coerce.number().int().positive().default(8),
  /** How often a worker runs the reconciliation sweep (core/jobs/reconcile.ts). */
  HUREN_RECONCILE_INTERVAL_SECONDS: z.coerce.number().int().positive().default(60),
  /** How long an instance may stay received-but-unindexed, or an upload unfinished, before the sweep acts. */
  HUREN_RECONCILE_GRACE_SECONDS: z.coerce.number().int().positive().default(300),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** HMAC-SHA256 key of the national-ID lookup hash (docs/patient-identity.md). */
  HUREN_PATIENT_ID_HASH_KEY: key256.optional(),
  /** AES-256-GCM key encrypting national IDs at rest. */
  HUREN_PATIENT_ID_ENCRYPTION_KEY: key256.optional(),
  /** Lets a compiled build run without the two keys above, on dev keys under HUREN_DATA_DIR/secrets. */
  HUREN_DEV_KEYS: bool.default(false),
  /** IssuerOfPatientID value(s), comma-separated, marking a 居民身份证号 in OtherPatientIDsSequence. */
  HUREN_NATIONAL_ID_ISSUER: z.string().min(1).default('RESIDENT_ID'),
  /** Viewer link per prior in a reminder: `{study}`/`{reminder}` replaced, else the StudyInstanceUID appended (OHIF `…/viewer?StudyInstanceUIDs=`). */
  HUREN_VIEWER_URL: z.url().optional(),
  /** Authentication, access, audit and hardening (core/security/settings.ts, docs/security.md). */
  ...securitySettings,
});

export type Config = z.infer<typeof configSchema>;

/** Compiled builds (dist/…/*.js) are what production runs; tsx and ts-jest run the .ts sources. */
const COMPILED_BUILD = path.extname(__filename) === '.js';

/**
 * `production` (default: running a compiled build) makes the patient-identity keys required:
 * a deployment that forgot them must not start and silently skip national IDs, nor invent
 * keys that its other processes do not share. HUREN_DEV_KEYS=true opts out explicitly.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, opts: { production?: boolean } = {}): Config {
  const parsed = configSchema.safeParse(env);
  const lines = parsed.success ? [] : parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  if (parsed.success) {
    const c = parsed.data;
    const keys = [c.HUREN_PATIENT_ID_HASH_KEY, c.HUREN_PATIENT_ID_ENCRYPTION_KEY].filter(Boolean).length;
    if (keys === 1) lines.push('  HUREN_PATIENT_ID_HASH_KEY, HUREN_PATIENT_ID_ENCRYPTION_KEY: set both or neither / 须同时设置或都不设置');
    if (keys === 0 && (opts.production ?? COMPILED_BUILD) && !c.HUREN_DEV_KEYS) {
      lines.push(
        '  HUREN_PATIENT_ID_HASH_KEY, HUREN_PATIENT_ID_ENCRYPTION_KEY: required in production (or HUREN_DEV_KEYS=true outside production) / 生产环境必须设置',
      );
    }
  }
  if (!parsed.success || lines.length) throw new Error(`Invalid configuration / 配置无效:\n${lines.join('\n')}`);
  return parsed.data;
}
