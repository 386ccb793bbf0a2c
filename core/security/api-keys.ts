/**
 * API keys (docs/security.md): `hrn_<prefix>_<secret>`, 256 random bits of secret, shown once.
 * Stored as SHA-256 of the whole token: a slow password hash (scrypt, argon2) protects
 * low-entropy human passwords against offline guessing; against a 256-bit random secret,
 * guessing is hopeless with any hash, and a slow one would only cost CPU on every request.
 * The prefix (public, shown in lists and logs) finds the row; the hash is compared in
 * constant time. Keys are rotatable (a new key, the old one expiring after a grace period),
 * revocable, and locked after repeated wrong secrets.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import { HurenError } from '../errors';
import { isRole, type Role } from './roles';

export const TOKEN_PREFIX = 'hrn';
const TOKEN = /^hrn_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
/** The bootstrap token (HUREN_ADMIN_TOKEN) may have any shape; its prefix is derived from its hash. */
const BOOTSTRAP_PREFIX = 'boot';

export const hashToken = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export function generateToken(): { token: string; prefix: string } {
  const prefix = randomBytes(8).toString('hex').slice(0, 12);
  return { token: `${TOKEN_PREFIX}_${prefix}_${randomBytes(32).toString('base64url')}`, prefix };
}

/**
 * The lookup prefix of a presented token: its own for `hrn_…` tokens; for any other string
 * (the operator-chosen HUREN_ADMIN_TOKEN) one derived from its hash.
 */
export function tokenPrefix(token: string): string {
  const m = TOKEN.exec(token);
  return m ? m[1] : `${BOOTSTRAP_PREFIX}${hashToken(`prefix:${token}`).slice(0, 12)}`;
}

export const looksLikeApiKey = (token: string) => TOKEN.test(token);

export interface ApiKeyRow {
  id: string;
  institution_code: string | null;
  name: string;
  roles: string[];
  key_prefix: string;
  key_hash: string;
  bootstrap: boolean;
  created_by: string | null;
  created_at: Date;
  rotated_from: string | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  revoked_by: string | null;
  last_used_at: Date | null;
  failed_attempts: number;
  locked_until: Date | null;
}

export interface ApiKeyView {
  id: string;
  prefix: string;
  name: string;
  institution: string | null;
  roles: Role[];
  bootstrap: boolean;
  status: 'active' | 'revoked' | 'expired' | 'locked';
  createdAt: string;
  createdBy: string | null;
  rotatedFrom: string | null;
  expiresAt: string | null;
  revokedAt: string | null;
  revokedBy: string | null;
  lastUsedAt: string | null;
  failedAttempts: number;
  lockedUntil: string | null;
}

const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

function statusOf(row: ApiKeyRow, now = Date.now()): ApiKeyView['status'] {
  if (row.revoked_at) return 'revoked';
  if (row.expires_at && new Date(row.expires_at).getTime() <= now) return 'expired';
  if (row.locked_until && new Date(row.locked_until).getTime() > now) return 'locked';
  return 'active';
}

export function viewApiKey(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    prefix: row.key_prefix,
    name: row.name,
    institution: row.institution_code,
    roles: row.roles.filter(isRole),
    bootstrap: row.bootstrap,
    status: statusOf(row),
    createdAt: iso(row.created_at)!,
    createdBy: row.created_by,
    rotatedFrom: row.rotated_from,
    expiresAt: iso(row.expires_at),
    revokedAt: iso(row.revoked_at),
    revokedBy: row.revoked_by,
    lastUsedAt: iso(row.last_used_at),
    failedAttempts: row.failed_attempts,
    lockedUntil: iso(row.locked_until),
  };
}

export interface NewApiKey {
  name: string;
  roles: Role[];
  institution: string | null;
  expiresAt?: Date | null;
  createdBy?: string | null;
  rotatedFrom?: string | null;
}

/** Creates a key; the token is in the answer only (never stored, never shown again). */
export async function createApiKey(db: Knex | Knex.Transaction, input: NewApiKey): Promise<{ token: string; key: ApiKeyView }> {
  if (input.institution) {
    const found = await db('institution').where({ code: input.institution }).first('code');
    if (!found) throw new HurenError(404, 'institution_not_found', `未找到机构 ${input.institution} / No institution with code ${input.institution}`);
  }
  const { token, prefix } = generateToken();
  const [row] = await db('api_key')
    .insert({
      id: randomUUID(),
      institution_code: input.institution,
      name: input.name,
      roles: [...new Set(input.roles)],
      key_prefix: prefix,
      key_hash: hashToken(token),
      created_by: input.createdBy ?? null,
      rotated_from: input.rotatedFrom ?? null,
      expires_at: input.expiresAt ?? null,
    })
    .returning('*');
  return { token, key: viewApiKey(row) };
}

export interface ApiKeyFilter {
  institution?: string;
  includeRevoked?: boolean;
}

export async function listApiKeys(db: Knex, filter: ApiKeyFilter = {}): Promise<ApiKeyView[]> {
  const q = db('api_key')
    .select('*')
    .orderBy([{ column: 'institution_code', order: 'asc', nulls: 'first' }, { column: 'created_at' }, { column: 'id' }]);
  if (filter.institution) q.where({ institution_code: filter.institution });
  if (!filter.includeRevoked) q.whereNull('revoked_at');
  return ((await q) as ApiKeyRow[]).map(viewApiKey);
}

export async function getApiKey(db: Knex | Knex.Transaction, id: string): Promise<ApiKeyRow | undefined> {
  return db('api_key').where({ id }).first();
}

const keyNotFound = (id: string) => new HurenError(404, 'credential_not_found', `未找到凭据 ${id.slice(0, 64)} / No credential with id ${id.slice(0, 64)}`);

export async function revokeApiKey(db: Knex, id: string, by: string | null): Promise<ApiKeyView> {
  const [row] = await db('api_key').where({ id }).update({ revoked_at: db.fn.now(), revoked_by: by }).returning('*');
  if (!row) throw keyNotFound(id);
  return viewApiKey(row);
}

/**
 * A new key with the same name, roles and institution; the old one stays valid for
 * `graceSeconds` (0: revoked at once) so a PACS can be reconfigured without a gap.
 */
export async function rotateApiKey(
  db: Knex,
  id: string,
  opts: { graceSeconds: number; by: string | null },
): Promise<{ token: string; key: ApiKeyView; previous: ApiKeyView }> {
  return db.transaction(async (trx) => {
    const old = (await trx('api_key').where({ id }).forUpdate().first()) as ApiKeyRow | undefined;
    if (!old) throw keyNotFound(id);
    if (old.revoked_at) throw new HurenError(409, 'credential_revoked', `凭据已吊销，不能轮换 / Credential ${id} is revoked and cannot be rotated`);
    const created = await createApiKey(trx, {
      name: old.name,
      roles: old.roles.filter(isRole),
      institution: old.institution_code,
      createdBy: opts.by,
      rotatedFrom: old.id,
      expiresAt: old.expires_at,
    });
    const update =
      opts.graceSeconds === 0
        ? { revoked_at: trx.fn.now(), revoked_by: opts.by }
        : { expires_at: trx.raw(`LEAST(COALESCE(expires_at, 'infinity'), now() + make_interval(secs => ?))`, [opts.graceSeconds]) };
    const [previous] = await trx('api_key').where({ id }).update(update).returning('*');
    return { ...created, previous: viewApiKey(previous) };
  });
}

export async function unlockApiKey(db: Knex, id: string): Promise<ApiKeyView> {
  const [row] = await db('api_key').where({ id }).update({ failed_attempts: 0, locked_until: null }).returning('*');
  if (!row) throw keyNotFound(id);
  return viewApiKey(row);
}

export type VerifyResult =
  | { ok: true; key: ApiKeyRow }
  | { ok: false; reason: 'unknown_key' | 'wrong_secret' | 'revoked' | 'expired' | 'locked'; key?: ApiKeyRow; lockedUntil?: Date; justLocked?: boolean };

export interface LockoutPolicy {
  maxFailures: number;
  lockoutSeconds: number;
}

/**
 * Checks a presented token. A wrong secret for a known prefix counts against that key;
 * at `maxFailures` the key is locked for `lockoutSeconds` (even the right secret is refused
 * meanwhile). A success clears the count and notes the use (at most once a minute).
 */
export async function verifyApiKey(db: Knex, token: string, lockout: LockoutPolicy): Promise<VerifyResult> {
  const row = (await db('api_key')
    .where({ key_prefix: tokenPrefix(token) })
    .first()) as ApiKeyRow | undefined;
  if (!row) return { ok: false, reason: 'unknown_key' };
  const now = Date.now();
  if (row.locked_until && new Date(row.locked_until).getTime() > now) return { ok: false, reason: 'locked', key: row, lockedUntil: new Date(row.locked_until) };
  const presented = Buffer.from(hashToken(token), 'hex');
  const stored = Buffer.from(row.key_hash, 'hex');
  if (presented.length !== stored.length || !timingSafeEqual(presented, stored)) {
    const [updated] = await db('api_key')
      .where({ id: row.id })
      .update({
        failed_attempts: db.raw('failed_attempts + 1'),
        locked_until: db.raw(`CASE WHEN failed_attempts + 1 >= ? THEN now() + make_interval(secs => ?) ELSE locked_until END`, [
          lockout.maxFailures,
          lockout.lockoutSeconds,
        ]),
      })
      .returning(['failed_attempts', 'locked_until']);
    const justLocked = updated.failed_attempts === lockout.maxFailures;
    return { ok: false, reason: 'wrong_secret', key: row, justLocked, ...(updated.locked_until && { lockedUntil: new Date(updated.locked_until) }) };
  }
  if (row.revoked_at) return { ok: false, reason: 'revoked', key: row };
  if (row.expires_at && new Date(row.expires_at).getTime() <= now) return { ok: false, reason: 'expired', key: row };
  const stale = !row.last_used_at || now - new Date(row.last_used_at).getTime() > 60_000;
  if (stale || row.failed_attempts > 0) {
    await db('api_key').where({ id: row.id }).update({ last_used_at: db.fn.now(), failed_attempts: 0, locked_until: null });
  }
  return { ok: true, key: row };
}

/**
 * HUREN_ADMIN_TOKEN at start: a platform `admin` credential with that secret exists and is
 * active. Idempotent; when the value changed, the earlier bootstrap credential is revoked.
 * Gateways starting together serialise on an advisory lock.
 */
export async function ensureBootstrapAdmin(db: Knex, token: string | undefined): Promise<'created' | 'unchanged' | 'none'> {
  if (!token) return 'none';
  return db.transaction(async (trx) => {
    await trx.raw('SELECT pg_advisory_xact_lock(hashtextextended(?, 0))', ['huren:bootstrap-admin']);
    const hash = hashToken(token);
    const prefix = tokenPrefix(token);
    const active = (await trx('api_key').where({ bootstrap: true }).whereNull('revoked_at').select('*')) as ApiKeyRow[];
    const current = active.find((k) => k.key_hash === hash && k.key_prefix === prefix);
    for (const k of active) {
      if (k !== current) await trx('api_key').where({ id: k.id }).update({ revoked_at: trx.fn.now(), revoked_by: 'bootstrap: HUREN_ADMIN_TOKEN changed' });
    }
    if (current) {
      // The operator may have locked it out by mistake: a restart with the token unlocks it.
      if (current.failed_attempts > 0 || current.locked_until)
        await trx('api_key').where({ id: current.id }).update({ failed_attempts: 0, locked_until: null });
      return 'unchanged';
    }
    // A revoked row may still hold this token's prefix (the value was changed and changed back).
    await trx('api_key')
      .where({ key_prefix: prefix })
      .whereNotNull('revoked_at')
      .update({ key_prefix: trx.raw("key_prefix || '-revoked-' || id") });
    await trx('api_key').insert({
      id: randomUUID(),
      institution_code: null,
      name: 'bootstrap admin (HUREN_ADMIN_TOKEN)',
      roles: ['admin'],
      key_prefix: prefix,
      key_hash: hash,
      bootstrap: true,
      created_by: 'bootstrap',
    });
    return 'created';
  });
}
