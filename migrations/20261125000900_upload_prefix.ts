import type { Knex } from 'knex';

/**
 * One upload claim per STOW-RS request instead of one per instance (core/ingest/record.ts):
 * the claim names the key prefix all of the request's objects are written under.
 */
export async function up(knex: Knex): Promise<void> {
  // A claim of the per-instance layout names one object, not a prefix; there is no faithful
  // conversion, so let the previous version's sweep settle them first (nothing was released
  // with that layout; the check is for development databases).
  const [{ n }] = await knex('upload').count({ n: '*' });
  if (Number(n) > 0)
    throw new Error(`${n} upload claims of the per-instance layout remain: run the previous version until its reconciliation sweep has removed them`);
  await knex.schema.alterTable('upload', (t) => {
    t.dropColumn('sop_instance_uid');
    t.renameColumn('object_key', 'object_prefix');
  });
  // The sweep's re-arm query (core/jobs/reconcile.ts) looks for studies not yet stable, a few at any time.
  await knex.raw('CREATE INDEX study_unstable ON study (last_instance_at) WHERE stable_at IS NULL');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('DROP INDEX IF EXISTS study_unstable');
  await knex('upload').delete();
  await knex.schema.alterTable('upload', (t) => {
    t.renameColumn('object_prefix', 'object_key');
    t.text('sop_instance_uid').notNullable();
  });
}
