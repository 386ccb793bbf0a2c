import type { Knex } from 'knex';

/**
 * HIS reminders, 调阅 (viewing), doctors' decisions and the raw recognition events the
 * indicators are computed from. Events are append-only so any official definition of the
 * indicators can be recomputed later from them.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('reminder', (t) => {
    t.uuid('id').primary();
    t.text('receiving_institution_code').notNullable().references('institution.code');
    // How the patient was identified (national ID hash, or the receiver's local ID + issuer), never in clear.
    t.text('patient_key_kind').notNullable().checkIn(['national_id', 'local_id']);
    t.text('patient_key_hash').notNullable();
    t.specificType('ordered_item_codes', 'text[]').notNullable();
    t.text('local_order_code');
    t.text('ordering_doctor').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['receiving_institution_code', 'created_at']);
  });

  // One row per (ordered item, prior study) the reminder showed, with the eligibility as answered.
  await knex.schema.createTable('reminder_prior', (t) => {
    t.uuid('reminder_id').notNullable().references('reminder.id').onDelete('CASCADE');
    t.text('ordered_item_code').notNullable();
    t.text('study_instance_uid').notNullable();
    t.text('outcome').notNullable().checkIn(['recognizable', 'discretionary']);
    t.text('matched_item_code').notNullable();
    t.boolean('cross_region').notNullable();
    t.timestamp('valid_until', { useTz: true });
    t.primary(['reminder_id', 'ordered_item_code', 'study_instance_uid']);
    t.index(['study_instance_uid']);
  });

  await knex.schema.createTable('recognition_decision', (t) => {
    t.bigIncrements('id');
    t.uuid('reminder_id').notNullable().references('reminder.id');
    t.text('ordered_item_code').notNullable();
    t.text('study_instance_uid').notNullable();
    t.text('decision').notNullable().checkIn(['accepted', 'rejected']);
    t.text('reason_code');
    t.text('reason_text');
    t.text('doctor').notNullable();
    // What the medical record needs (institution, exam date, accession), as returned to the HIS.
    t.jsonb('record').notNullable();
    t.timestamp('decided_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['reminder_id']);
  });

  await knex.schema.createTable('recognition_event', (t) => {
    t.bigIncrements('id');
    t.text('type').notNullable().checkIn(['reminder_shown', 'reminder_dismissed', 'viewed', 'decided', 'reexam_ordered', 'audit_result']);
    t.text('institution_code').notNullable();
    t.text('region').notNullable();
    t.uuid('reminder_id');
    t.text('ordered_item_code');
    t.text('study_instance_uid');
    t.jsonb('data').notNullable().defaultTo('{}');
    t.timestamp('occurred_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['institution_code', 'occurred_at']);
    t.index(['region', 'occurred_at']);
    t.index(['reminder_id']);
  });
  await knex.raw(`
    CREATE FUNCTION recognition_event_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'recognition events are append-only (% refused)', TG_OP;
    END $$`);
  await knex.raw(`CREATE TRIGGER recognition_event_append_only BEFORE UPDATE OR DELETE ON recognition_event
    FOR EACH ROW EXECUTE FUNCTION recognition_event_append_only()`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('recognition_event');
  await knex.raw('DROP FUNCTION IF EXISTS recognition_event_append_only()');
  for (const table of ['recognition_decision', 'reminder_prior', 'reminder']) await knex.schema.dropTableIfExists(table);
}
