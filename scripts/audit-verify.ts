/**
 * `npm run audit:verify` — checks the audit trail's hash chain (core/security/audit.ts) in the
 * database of DATABASE_URL / HUREN_DB_SCHEMA and prints the first broken record, if any.
 * Exit code 0: the chain verifies; 1: it does not (or the database cannot be read).
 * Record the printed head hash somewhere else (a ticket, a WORM store): a later run that
 * still reaches that hash proves nothing before it was rewritten.
 */
import { loadConfig } from '../core/config';
import { createDb } from '../core/db';
import { verifyAuditChain } from '../core/security/audit';

async function main(): Promise<number> {
  const config = loadConfig(process.env, { production: false });
  if (!config.DATABASE_URL) {
    console.error('DATABASE_URL is not set / 未设置 DATABASE_URL');
    return 1;
  }
  const db = createDb({ url: config.DATABASE_URL, schema: config.HUREN_DB_SCHEMA, poolMax: 2 });
  try {
    const report = await verifyAuditChain(db);
    if (report.ok) {
      console.log(`审计链完好 / audit chain OK: ${report.checked} records (seq ${report.firstSeq ?? '—'}…${report.lastSeq ?? '—'}), head ${report.headHash}`);
      return 0;
    }
    console.error(`审计链损坏 / audit chain BROKEN at seq ${report.broken!.seq}: ${report.broken!.reason}`);
    console.error(`  ${report.checked} records verified before it (from seq ${report.firstSeq ?? '—'})`);
    return 1;
  } finally {
    await db.destroy();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
