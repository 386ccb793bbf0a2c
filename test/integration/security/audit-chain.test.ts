import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { AuditWriter, appendAudit, pruneAudit, verifyAuditChain, type AuditRecord } from '../../../core/security/audit';
import { execSecurityMaintenance } from '../../../core/security/maintenance';
import { createLogger } from '../../../core/logger';
import { createDb } from '../../../core/db';
import { startTestGateway, type TestGateway } from '../../support/gateway';
import { TEST_DATABASE_URL } from '../../support/services';

const run = promisify(execFile);

const record = (i: number, at = new Date()): AuditRecord => ({
  at,
  actor: `actor-${i % 3}`,
  actorKind: 'api_key',
  actorName: '测试 ✓',
  institution: i % 2 ? 'H-1' : null,
  roles: ['viewer'],
  action: 'dicomweb.query',
  outcome: 'success',
  status: 200,
  patientHash: null,
  study: null,
  clientAddress: '127.0.0.1',
  method: 'GET',
  path: '/dicomweb/studies',
  details: { i, nested: { b: [1, 2], a: 'x\u0000y' } },
});

/** The append-only, hash-chained trail: verification, tampering, retention, concurrency, the admin API. */
describe('audit trail', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ workers: false });
  });
  afterAll(() => gw.close());
  const db = () => gw.core.db;

  it('chains records appended concurrently by several writers (several gateways) without forking', async () => {
    // A second connection pool on the same schema stands for another gateway replica.
    const other = createDb({ url: TEST_DATABASE_URL, schema: gw.core.config.HUREN_DB_SCHEMA, poolMax: 5 });
    try {
      const logger = createLogger('silent', 'test');
      const writers = [new AuditWriter(db(), logger, { batchSize: 7 }), new AuditWriter(other, logger, { batchSize: 5 })];
      for (let i = 0; i < 300; i++) writers[i % 2].add(record(i));
      await Promise.all([...Array.from({ length: 20 }, (_, i) => appendAudit(i % 2 ? other : db(), [record(1000 + i)])), ...writers.map((w) => w.flush())]);
    } finally {
      await other.destroy();
    }
    const report = await verifyAuditChain(db());
    expect(report).toMatchObject({ ok: true, firstSeq: 1 });
    expect(report.checked).toBeGreaterThanOrEqual(320);
    const seqs = (await db()('audit_event').select('seq').orderBy('seq')).map((r) => Number(r.seq));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  it('is append-only: UPDATE, DELETE and TRUNCATE are refused by the database', async () => {
    await expect(db()('audit_event').where({ seq: 1 }).update({ outcome: 'denied' })).rejects.toThrow(/append-only/);
    await expect(db()('audit_event').where({ seq: 1 }).delete()).rejects.toThrow(/append-only/);
    await expect(db().raw('TRUNCATE audit_event')).rejects.toThrow(/append-only/);
  });

  it('records requests through the gateway and serves them to admins, as JSON pages and JSON lines', async () => {
    for (let i = 0; i < 3; i++) expect((await gw.fetch(`${gw.dicomweb}/studies?PatientID=X${i}`)).status).toBe(200);
    await gw.flushAudit();
    type Page = { records: Array<{ path: string; clientAddress: string; details: { parameters?: string[] } }>; next: number | null };
    const page = (await (await gw.fetch(`${gw.baseUrl}/admin/audit?action=dicomweb&limit=2&from=2020-01-01`)).json()) as Page;
    expect(page.records).toHaveLength(2);
    expect(page.next).toEqual(expect.any(Number));
    const rest = (await (await gw.fetch(`${gw.baseUrl}/admin/audit?action=dicomweb.query&after=${page.next}&limit=1000`)).json()) as Page;
    expect(rest.records.length).toBeGreaterThan(300);
    const fromGateway = rest.records.filter((r) => r.path === '/dicomweb/studies' && r.clientAddress === '127.0.0.1' && r.details.parameters);
    expect(fromGateway.length).toBe(3);
    expect(fromGateway[0].details.parameters).toEqual(['PatientID']);
    expect(JSON.stringify(rest)).not.toContain('X0'); // query values are never recorded

    const res = await gw.fetch(`${gw.baseUrl}/admin/audit?format=jsonl&action=dicomweb.query`);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const lines = (await res.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.length).toBe(page.records.length + rest.records.length);
    expect(lines[0]).toMatchObject({ seq: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/), prevHash: expect.any(String) });
    // Reading the trail is itself audited.
    await gw.flushAudit();
    expect(await db()('audit_event').where({ action: 'admin.audit' })).not.toHaveLength(0);
    expect(((await (await gw.fetch(`${gw.baseUrl}/admin/audit/verify`)).json()) as { ok: boolean }).ok).toBe(true);
  });

  it('keeps verifying after retention removed old records (a checkpoint names the last removed hash)', async () => {
    const cutoff = new Date(Date.now() + 1000);
    const { deleted, throughSeq } = await pruneAudit(db(), cutoff);
    expect(deleted).toBeGreaterThan(300);
    const checkpoint = await db()('audit_event').where({ action: 'audit.retention' }).first();
    expect(checkpoint.details).toMatchObject({ throughSeq, deleted, throughHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    await appendAudit(db(), [record(1), record(2)]);
    expect(await verifyAuditChain(db())).toMatchObject({ ok: true, firstSeq: throughSeq! + 1 });
    // The maintenance job does it by the configured days; nothing that young is removed.
    expect(await execSecurityMaintenance(db(), { retentionDays: 180 })).toEqual({ auditDeleted: 0, grantsDeleted: 0 });
  });

  it('verifies one snapshot: an append and a retention run committing in the middle of a walk do not make it report a break', async () => {
    // Gateways append all the time (the record of a request is written ~50 ms after its response), so a
    // walk runs alongside commits. Made deterministic here: the walk reads the chain head, then waits on
    // audit_event (locked below) while an append and a retention run commit; only then does it read the rows.
    await gw.flushAudit();
    await appendAudit(
      db(),
      [7, 8, 9].map((i) => record(i)),
    );
    const before = await verifyAuditChain(db());
    expect(before.ok).toBe(true);
    let walk: Promise<Awaited<ReturnType<typeof verifyAuditChain>>> | undefined;
    await db().transaction(async (trx) => {
      // The head first, as every append does (no deadlock with a writer), then the table.
      await trx('audit_chain_head').where({ id: true }).forUpdate().first('seq');
      await trx.raw('LOCK TABLE audit_event IN ACCESS EXCLUSIVE MODE');
      walk = verifyAuditChain(db());
      // Until the walk waits for the table: it has read the head (a plain read, not blocked) and now reads rows.
      for (;;) {
        const waiting = await db().raw(
          "SELECT 1 FROM pg_locks WHERE NOT granted AND relation = 'audit_event'::regclass AND mode = 'AccessShareLock' AND locktype = 'relation'",
        );
        if (waiting.rows.length > 0) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      await appendAudit(trx, [record(10)]);
      await pruneAudit(trx, new Date(Date.now() + 1000), 'test');
    });
    // The walk saw the chain as it was when it started: whole, ending at the head it read.
    expect(await walk).toEqual(before);
    // A walk after the commits sees them, and the chain still verifies.
    const after = await verifyAuditChain(db());
    expect(after).toMatchObject({ ok: true, checked: 1, firstSeq: before.lastSeq! + 2, lastSeq: before.lastSeq! + 2 });
  });

  it('detects a tampered record, a removed record and a rewritten head; audit:verify says where', async () => {
    await appendAudit(
      db(),
      [3, 4, 5, 6].map((i) => record(i)),
    );
    const rows = await db()('audit_event').select('seq').orderBy('seq');
    const victim = Number(rows[1].seq);
    // An attacker with database rights disables the trigger and edits a row.
    await db().transaction(async (trx) => {
      await trx.raw('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
      await trx('audit_event').where({ seq: victim }).update({ outcome: 'denied' });
      await trx.raw('ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only');
    });
    expect(await verifyAuditChain(db())).toMatchObject({ ok: false, broken: { seq: victim, reason: expect.stringMatching(/altered/) } });

    const script = path.join(__dirname, '..', '..', '..', 'scripts', 'audit-verify.ts');
    const env = { ...process.env, DATABASE_URL: TEST_DATABASE_URL, HUREN_DB_SCHEMA: gw.core.config.HUREN_DB_SCHEMA, LOG_LEVEL: 'silent' };
    const failed = await run(process.execPath, ['--import', 'tsx', script], { env }).catch((e: { code: number; stderr: string }) => e);
    expect(failed).toMatchObject({ code: 1, stderr: expect.stringContaining(`BROKEN at seq ${victim}`) });

    await db().transaction(async (trx) => {
      await trx.raw('ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only');
      await trx('audit_event').where({ seq: victim }).update({ outcome: 'success' });
      await trx('audit_event')
        .where({ seq: victim + 1 })
        .delete();
      await trx.raw('ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only');
    });
    expect(await verifyAuditChain(db())).toMatchObject({ ok: false, broken: { seq: victim + 1, reason: expect.stringMatching(/missing/) } });
  }, 30_000);
});
