/**
 * The security maintenance job (run by the workers' maintenance queue, hourly): audit
 * retention (HUREN_AUDIT_RETENTION_DAYS; a checkpoint keeps the chain verifiable) and the
 * removal of access grants that expired a day ago or more.
 */
import type { Knex } from 'knex';
import { pruneAudit } from './audit';

export const SECURITY_MAINTENANCE_JOB = 'security-maintenance';

export async function execSecurityMaintenance(db: Knex, opts: { retentionDays: number; now?: Date }): Promise<{ auditDeleted: number; grantsDeleted: number }> {
  const now = opts.now ?? new Date();
  let auditDeleted = 0;
  if (opts.retentionDays > 0) {
    ({ deleted: auditDeleted } = await pruneAudit(db, new Date(now.getTime() - opts.retentionDays * 86_400_000)));
  }
  const grantsDeleted = await db('access_grant')
    .where('expires_at', '<', new Date(now.getTime() - 86_400_000))
    .delete();
  return { auditDeleted, grantsDeleted };
}
