/**
 * The audit trail (docs/security.md; IHE ATNA in spirit): who (credential, institution, roles)
 * did what (action, outcome, status) to which patient (keyed hash only) and study, from where,
 * when. Rows are append-only (a trigger refuses UPDATE/TRUNCATE, and DELETE outside retention)
 * and chained: hash = sha256(prev_hash || canonical record), seq gap-free. Appends take the
 * one-row chain head FOR UPDATE, so concurrent gateways never fork the chain; a writer batches
 * records (one transaction per batch) so the lock is not a per-request bottleneck.
 * Retention deletes a prefix of the chain and appends a checkpoint record naming the last
 * deleted seq and hash, so what remains still verifies from its first row.
 */
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import type { Logger } from '../logger';

export const GENESIS_HASH = '0'.repeat(64);

export type AuditOutcome = 'success' | 'denied' | 'failure' | 'error';

/** What a caller records (seq, hashes are assigned on append). */
export interface AuditRecord {
  at: Date;
  actor: string | null;
  actorKind: 'api_key' | 'jwt' | 'anonymous' | 'system';
  actorName: string | null;
  institution: string | null;
  roles: string[];
  action: string;
  outcome: AuditOutcome;
  status: number | null;
  patientHash: string | null;
  study: string | null;
  clientAddress: string | null;
  method: string | null;
  path: string | null;
  details: Record<string, unknown>;
}

export interface StoredAuditRecord extends AuditRecord {
  seq: number;
  prevHash: string;
  hash: string;
}

/** JSON with keys sorted at every level: the same record always serialises the same way. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The hashed content of a record: every column but the hashes themselves. */
export function canonicalRecord(seq: number, r: AuditRecord): string {
  return canonicalJson({
    seq,
    at: r.at.toISOString(),
    actor: r.actor,
    actorKind: r.actorKind,
    actorName: r.actorName,
    institution: r.institution,
    roles: r.roles,
    action: r.action,
    outcome: r.outcome,
    status: r.status,
    patientHash: r.patientHash,
    study: r.study,
    clientAddress: r.clientAddress,
    method: r.method,
    path: r.path,
    details: r.details,
  });
}

export const chainHash = (prevHash: string, seq: number, r: AuditRecord): string =>
  createHash('sha256').update(prevHash, 'utf8').update(canonicalRecord(seq, r), 'utf8').digest('hex');

/** Timestamps keep millisecond precision so a stored record hashes as it was appended. */
const toMs = (d: Date) => new Date(Math.floor(d.getTime()));

function toRow(seq: number, r: AuditRecord, prevHash: string, hash: string) {
  return {
    seq,
    at: r.at,
    actor: r.actor,
    actor_kind: r.actorKind,
    actor_name: r.actorName,
    institution_code: r.institution,
    roles: r.roles,
    action: r.action,
    outcome: r.outcome,
    status: r.status,
    patient_hash: r.patientHash,
    study_instance_uid: r.study,
    client_address: r.clientAddress,
    method: r.method,
    path: r.path,
    details: JSON.stringify(r.details),
    prev_hash: prevHash,
    hash,
  };
}

interface AuditRow {
  seq: string | number;
  at: Date;
  actor: string | null;
  actor_kind: AuditRecord['actorKind'];
  actor_name: string | null;
  institution_code: string | null;
  roles: string[];
  action: string;
  outcome: AuditOutcome;
  status: number | null;
  patient_hash: string | null;
  study_instance_uid: string | null;
  client_address: string | null;
  method: string | null;
  path: string | null;
  details: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

export function fromRow(row: AuditRow): StoredAuditRecord {
  return {
    seq: Number(row.seq),
    at: new Date(row.at),
    actor: row.actor,
    actorKind: row.actor_kind,
    actorName: row.actor_name,
    institution: row.institution_code,
    roles: row.roles,
    action: row.action,
    outcome: row.outcome,
    status: row.status,
    patientHash: row.patient_hash,
    study: row.study_instance_uid,
    clientAddress: row.client_address,
    method: row.method,
    path: row.path,
    details: row.details,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** Appends records in order, in one transaction, under the chain head's row lock. */
export async function appendAudit(db: Knex, records: AuditRecord[]): Promise<void> {
  if (records.length === 0) return;
  await db.transaction(async (trx) => appendAuditIn(trx, records));
}

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '08000',
  '08001',
  '08003',
  '08006',
  '40001',
  '40P01',
]);
const isConnectionError = (err: unknown) => {
  const e = err as { code?: string; name?: string };
  return CONNECTION_CODES.has(e.code ?? '') || e.name === 'KnexTimeoutError' || !e.code;
};

// eslint-disable-next-line no-control-regex -- NUL is exactly what PostgreSQL text cannot hold
const NUL = /\u0000/g;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
/** PostgreSQL text holds no NUL and only well-formed UTF-8: clean strings before hashing, so the stored row hashes the same. */
function clean<T>(value: T, max = 2048): T {
  if (typeof value === 'string') return value.replace(NUL, '').replace(LONE_SURROGATE, '\uFFFD').slice(0, max) as T;
  if (Array.isArray(value)) return value.slice(0, 1000).map((v) => clean(v, max)) as T;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined && typeof v !== 'function')
        .slice(0, 100)
        .map(([k, v]) => [clean(k, 200), typeof v === 'number' && !Number.isSafeInteger(v) ? String(v) : clean(v, max)]),
    ) as T;
  }
  return value;
}

export async function appendAuditIn(trx: Knex.Transaction, records: AuditRecord[]): Promise<number> {
  const head = await trx('audit_chain_head').where({ id: true }).forUpdate().first('seq', 'hash');
  if (!head) throw new Error('audit_chain_head is missing: run the migrations');
  let seq = Number(head.seq);
  let prev: string = head.hash;
  const rows = records.map((input) => {
    const r = clean({ ...input, at: toMs(input.at) });
    seq += 1;
    const hash = chainHash(prev, seq, r);
    const row = toRow(seq, r, prev, hash);
    prev = hash;
    return row;
  });
  for (let i = 0; i < rows.length; i += 500) await trx('audit_event').insert(rows.slice(i, i + 500));
  await trx('audit_chain_head').where({ id: true }).update({ seq, hash: prev });
  return seq;
}

export interface VerifyReport {
  ok: boolean;
  checked: number;
  firstSeq: number | null;
  lastSeq: number | null;
  headHash: string;
  /** The first row that does not verify, and why. */
  broken?: { seq: number; reason: string };
}

/**
 * Walks the chain in seq order (in pages): every row's prev_hash is its predecessor's hash,
 * its hash is recomputed from its content, seqs have no gaps; the chain starts at genesis or
 * right after a retention checkpoint that names its predecessor; the head matches the last row.
 * The head and every page are read in one REPEATABLE READ snapshot: gateways append (and the
 * retention job prunes) while a walk is under way, and a head read before a row appended a
 * moment later, or a page read after a prune, would report a sound chain as broken.
 */
export async function verifyAuditChain(db: Knex, opts: { pageSize?: number } = {}): Promise<VerifyReport> {
  return db.transaction((trx) => verifyIn(trx, opts.pageSize ?? 5000), { isolationLevel: 'repeatable read', readOnly: true });
}

async function verifyIn(db: Knex, pageSize: number): Promise<VerifyReport> {
  const head = await db('audit_chain_head').where({ id: true }).first('seq', 'hash');
  let expectedPrev: string | null = null;
  let expectedSeq: number | null = null;
  let checked = 0;
  let firstSeq: number | null = null;
  let lastSeq: number | null = null;
  const fail = (seq: number, reason: string): VerifyReport => ({ ok: false, checked, firstSeq, lastSeq, headHash: head?.hash ?? '', broken: { seq, reason } });

  for (let after = -1; ;) {
    const rows = (await db('audit_event').where('seq', '>', after).orderBy('seq').limit(pageSize)) as AuditRow[];
    if (rows.length === 0) break;
    for (const row of rows) {
      const r = fromRow(row);
      if (expectedSeq === null) {
        firstSeq = r.seq;
        if (r.seq === 1) {
          if (r.prevHash !== GENESIS_HASH) return fail(r.seq, 'the first record does not start from the genesis hash');
        } else {
          const checkpoint = await findCheckpoint(db, r.seq - 1);
          if (!checkpoint) return fail(r.seq, `records before seq ${r.seq} are missing and no retention checkpoint accounts for them`);
          if (checkpoint !== r.prevHash) return fail(r.seq, `prev_hash differs from the hash the retention checkpoint recorded for seq ${r.seq - 1}`);
        }
      } else {
        if (r.seq !== expectedSeq) return fail(expectedSeq, `record ${expectedSeq} is missing (next is ${r.seq})`);
        if (r.prevHash !== expectedPrev) return fail(r.seq, 'prev_hash differs from the previous record’s hash');
      }
      if (chainHash(r.prevHash, r.seq, r) !== r.hash) return fail(r.seq, 'content does not match its hash (the record was altered)');
      expectedPrev = r.hash;
      expectedSeq = r.seq + 1;
      lastSeq = r.seq;
      checked++;
    }
    after = lastSeq!;
  }
  if (head) {
    if (lastSeq === null) {
      if (Number(head.seq) !== 0 && !(await findCheckpoint(db, Number(head.seq))))
        return fail(Number(head.seq), 'the chain head names records that are missing');
    } else if (Number(head.seq) !== lastSeq || head.hash !== expectedPrev) {
      return fail(lastSeq, `the chain head (seq ${head.seq}) does not match the last record`);
    }
  }
  return { ok: true, checked, firstSeq, lastSeq, headHash: head?.hash ?? GENESIS_HASH };
}

/** The hash a retention checkpoint recorded for `seq` (the last record it deleted), if any. */
async function findCheckpoint(db: Knex, seq: number): Promise<string | undefined> {
  const row = await db('audit_event')
    .where({ action: 'audit.retention' })
    .whereRaw("(details->>'throughSeq')::bigint = ?", [seq])
    .orderBy('seq', 'desc')
    .first('details');
  return row?.details?.throughHash as string | undefined;
}

/**
 * Retention: deletes the records older than `before` (a prefix of the chain: seq order is time
 * order) and appends a checkpoint record with the last deleted seq and hash. Returns how many
 * were deleted. Runs in one transaction holding the chain head, so appends wait for it.
 */
export async function pruneAudit(db: Knex, before: Date, by = 'retention'): Promise<{ deleted: number; throughSeq: number | null }> {
  return db.transaction(async (trx) => {
    await trx('audit_chain_head').where({ id: true }).forUpdate().first('seq');
    const last = await trx('audit_event').where('at', '<', before).orderBy('seq', 'desc').first('seq', 'hash');
    if (!last) return { deleted: 0, throughSeq: null };
    const throughSeq = Number(last.seq);
    await trx.raw("SET LOCAL huren.audit_retention = 'on'");
    const deleted = await trx('audit_event').where('seq', '<=', throughSeq).delete();
    await trx.raw("SET LOCAL huren.audit_retention = 'off'");
    await appendAuditIn(trx, [
      {
        at: new Date(),
        actor: by,
        actorKind: 'system',
        actorName: by,
        institution: null,
        roles: [],
        action: 'audit.retention',
        outcome: 'success',
        status: null,
        patientHash: null,
        study: null,
        clientAddress: null,
        method: null,
        path: null,
        details: { throughSeq, throughHash: last.hash, deleted, before: before.toISOString() },
      },
    ]);
    return { deleted, throughSeq };
  });
}

export interface AuditFilter {
  from?: Date;
  to?: Date;
  action?: string;
  institution?: string;
  actor?: string;
  outcome?: AuditOutcome;
  study?: string;
  afterSeq?: number;
  limit?: number;
}

/** Records in seq order, filtered; `limit` rows at most (streams use afterSeq to page). */
export async function queryAudit(db: Knex, f: AuditFilter): Promise<StoredAuditRecord[]> {
  const q = db('audit_event').select('*').orderBy('seq');
  if (f.from) q.where('at', '>=', f.from);
  if (f.to) q.where('at', '<', f.to);
  if (f.action) {
    // `dicomweb` matches dicomweb.stow, dicomweb.query, …
    q.where((w) => w.where('action', f.action!).orWhere('action', 'like', `${f.action!.replace(/[\\%_]/g, '\\$&')}.%`));
  }
  if (f.institution) q.where('institution_code', f.institution);
  if (f.actor) q.where('actor', f.actor);
  if (f.outcome) q.where('outcome', f.outcome);
  if (f.study) q.where('study_instance_uid', f.study);
  if (f.afterSeq !== undefined) q.where('seq', '>', f.afterSeq);
  if (f.limit !== undefined) q.limit(f.limit);
  return ((await q) as AuditRow[]).map(fromRow);
}

/** A record as JSON (for the admin API and JSON-lines export). */
export function auditJson(r: StoredAuditRecord): Record<string, unknown> {
  return { ...r, at: r.at.toISOString() };
}

/**
 * Buffers records and appends them in batches (one transaction each, in arrival order).
 * add() never throws and never waits for the database; flush() waits until everything added
 * so far is written (tests, shutdown). When the database is down the batch is retried; past
 * `maxPending` records the oldest are dropped and logged (the request path must not block).
 */
export class AuditWriter {
  private pending: Array<{ record: AuditRecord; enrich?: () => Promise<Partial<AuditRecord>> }> = [];
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  dropped = 0;
  private readonly originalBatchSize: number;

  constructor(
    private readonly db: Knex,
    private readonly logger: Logger,
    private opts: { batchSize?: number; delayMs?: number; maxPending?: number } = {},
  ) {
    this.originalBatchSize = opts.batchSize ?? 200;
  }

  /** `enrich` runs at write time (off the request path), e.g. to look up a patient hash. */
  add(record: AuditRecord, enrich?: () => Promise<Partial<AuditRecord>>): void {
    this.pending.push({ record, enrich });
    const max = this.opts.maxPending ?? 50_000;
    if (this.pending.length > max) {
      const over = this.pending.splice(0, this.pending.length - max);
      this.dropped += over.length;
      this.logger.error({ dropped: over.length }, 'audit records dropped: the database has not accepted them');
    }
    if (this.pending.length >= (this.opts.batchSize ?? 200)) this.kick();
    else if (!this.timer && !this.closed) this.timer = setTimeout(() => this.kick(), this.opts.delayMs ?? 50);
  }

  private kick(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.flushing) this.flushing = this.drain().finally(() => (this.flushing = null));
  }

  private async drain(): Promise<void> {
    let failures = 0;
    while (this.pending.length > 0) {
      const batch = this.pending.slice(0, this.opts.batchSize ?? 200);
      try {
        const records = await Promise.all(
          batch.map(async ({ record, enrich }) => {
            if (!enrich) return record;
            const extra = await enrich().catch(() => ({}));
            return { ...record, ...extra };
          }),
        );
        await appendAudit(this.db, records);
        if (this.opts.batchSize === 1 && this.originalBatchSize !== 1) this.opts = { ...this.opts, batchSize: this.originalBatchSize };
        this.pending.splice(0, batch.length);
        failures = 0;
      } catch (err) {
        if (!isConnectionError(err) && batch.length === 1) {
          // A record the database refuses for what it is (not for being down) must not block the others.
          this.pending.splice(0, 1);
          this.dropped++;
          this.logger.error({ err: (err as Error).message, action: batch[0].record.action }, 'audit record refused by the database');
          continue;
        }
        if (!isConnectionError(err)) {
          // Find the offending record: write one at a time until past it.
          this.opts = { ...this.opts, batchSize: 1 };
          continue;
        }
        failures++;
        this.logger.error({ err: (err as Error).message, pending: this.pending.length }, 'audit records not written yet');
        if (this.closed && failures >= 3) return;
        await new Promise((r) => setTimeout(r, Math.min(5000, 100 * 2 ** failures)).unref());
      }
    }
  }

  /** Resolves once everything added before the call is written (or given up on after close). */
  async flush(): Promise<void> {
    while (this.pending.length > 0 || this.flushing) {
      const before = this.pending.length;
      this.kick();
      await this.flushing;
      // Closed and the database still refuses: drain gave up (and logged).
      if (this.closed && this.pending.length >= before && before > 0) return;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
