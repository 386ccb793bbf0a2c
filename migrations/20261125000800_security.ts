import type { Knex } from 'knex';

/**
 * Security (docs/security.md): API keys, access grants from national-ID queries, the
 * institution a STOW credential belongs to, and the append-only, hash-chained audit trail.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('api_key', (t) => {
    t.uuid('id').primary();
    // NULL: a platform credential (operators, a regional platform's own systems).
    t.text('institution_code').references('institution.code').onDelete('CASCADE');
    t.text('name').notNullable();
    t.specificType('roles', 'text[]').notNullable();
    // Tokens are `hrn_<prefix>_<secret>`: the prefix finds the row, the secret is never stored.
    t.text('key_prefix').notNullable().unique();
    // SHA-256 (hex) of the whole token: the secret is 256 random bits, a slow hash adds nothing.
    t.text('key_hash').notNullable();
    // The credential HUREN_ADMIN_TOKEN ensures at start.
    t.boolean('bootstrap').notNullable().defaultTo(false);
    t.text('created_by');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.uuid('rotated_from').references('api_key.id').onDelete('SET NULL');
    t.timestamp('expires_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
    t.text('revoked_by');
    t.timestamp('last_used_at', { useTz: true });
    // Wrong secrets presented with this key's prefix, since the last success (lockout).
    t.integer('failed_attempts').notNullable().defaultTo(0);
    t.timestamp('locked_until', { useTz: true });
    t.index(['institution_code']);
  });
  await knex.raw(`ALTER TABLE api_key ADD CONSTRAINT api_key_roles_known
    CHECK (cardinality(roles) > 0 AND roles <@ ARRAY['pacs','viewer','his','quality','admin','ops']::text[])`);

  // A national-ID query lets the querying institution retrieve that patient's studies for a while.
  await knex.schema.createTable('access_grant', (t) => {
    t.text('institution_code').notNullable();
    t.text('study_instance_uid').notNullable();
    t.text('reason').notNullable().checkIn(['national_id']);
    t.timestamp('granted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.primary(['institution_code', 'study_instance_uid']);
    t.index(['expires_at']);
  });

  // The institution of the credential that STOWed the instance: attribution prefers it.
  await knex.schema.alterTable('instance', (t) => {
    t.text('received_from_institution');
  });

  // The audit trail (IHE ATNA in spirit). seq is gap-free and assigned under the chain head's
  // row lock, so the chain never forks; hash = sha256(prev_hash || canonical record).
  await knex.schema.createTable('audit_event', (t) => {
    t.bigInteger('seq').primary();
    t.timestamp('at', { useTz: true }).notNullable();
    t.text('actor');
    t.text('actor_kind');
    t.text('actor_name');
    t.text('institution_code');
    t.specificType('roles', 'text[]').notNullable().defaultTo('{}');
    t.text('action').notNullable();
    t.text('outcome').notNullable().checkIn(['success', 'denied', 'failure', 'error']);
    t.integer('status');
    t.text('patient_hash');
    t.text('study_instance_uid');
    t.text('client_address');
    t.text('method');
    t.text('path');
    t.jsonb('details').notNullable().defaultTo('{}');
    t.text('prev_hash').notNullable();
    t.text('hash').notNullable();
    t.index(['at']);
    t.index(['action', 'at']);
    t.index(['institution_code', 'at']);
  });
  await knex.schema.createTable('audit_chain_head', (t) => {
    t.boolean('id').primary().defaultTo(true);
    t.bigInteger('seq').notNullable();
    t.text('hash').notNullable();
  });
  await knex.raw('ALTER TABLE audit_chain_head ADD CONSTRAINT audit_chain_head_one_row CHECK (id)');
  await knex('audit_chain_head').insert({ id: true, seq: 0, hash: '0'.repeat(64) });

  // Append-only: no UPDATE, no TRUNCATE; DELETE only by the retention job, which says so
  // in its own transaction (SET LOCAL huren.audit_retention = 'on') and leaves a checkpoint.
  await knex.raw(`
    CREATE FUNCTION audit_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP = 'DELETE' AND current_setting('huren.audit_retention', true) = 'on' THEN
        RETURN OLD;
      END IF;
      RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP;
    END $$`);
  await knex.raw(`CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()`);
  await knex.raw(`CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_event
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('audit_event');
  await knex.raw('DROP FUNCTION IF EXISTS audit_event_append_only()');
  await knex.schema.dropTableIfExists('audit_chain_head');
  await knex.schema.alterTable('instance', (t) => {
    t.dropColumn('received_from_institution');
  });
  await knex.schema.dropTableIfExists('access_grant');
  await knex.schema.dropTableIfExists('api_key');
}
