import type { Knex } from 'knex';

/**
 * Quality metadata (core/quality, docs/quality.md): the latest assessment per study, and
 * diagnostic reports attached through the API (reports inside the study — DICOM SR,
 * Encapsulated PDF — are instances and need no table).
 */
export async function up(knex: Knex): Promise<void> {
  // One row per study, replaced by each assessment (the job runs again when the study is
  // re-stabilised or a report is attached).
  await knex.schema.createTable('study_quality', (t) => {
    t.text('study_instance_uid').primary().references('study.study_instance_uid').onDelete('CASCADE');
    t.text('result').notNullable().checkIn(['pass', 'warn', 'fail']);
    // [{code, severity, message: {zh, en}, instances?, basis?}]
    t.jsonb('findings').notNullable();
    // The catalog items (study_item) the study was assessed against; empty when unclassified.
    t.specificType('item_codes', 'text[]').notNullable().defaultTo('{}');
    // core/quality/assess.ts QUALITY_RULES_VERSION at assessment time.
    t.text('rules_version').notNullable();
    t.timestamp('assessed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['result']);
  });

  // Reports a RIS attaches through POST /recognition/studies/{uid}/reports.
  await knex.schema.createTable('study_report', (t) => {
    t.uuid('id').primary().defaultTo(knex.raw('gen_random_uuid()'));
    t.text('study_instance_uid').notNullable().references('study.study_instance_uid').onDelete('CASCADE');
    t.text('source').notNullable().defaultTo('api').checkIn(['api']);
    t.text('author').notNullable();
    t.timestamp('signed_at', { useTz: true }).notNullable();
    t.text('conclusion');
    // The API takes text reports (PDF reports arrive as DICOM Encapsulated PDF over STOW-RS);
    // object_key is for a body kept in object storage should another content type be accepted.
    t.text('content_type').notNullable().defaultTo('text/plain');
    t.text('body');
    t.text('object_key');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['study_instance_uid', 'created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('study_report');
  await knex.schema.dropTableIfExists('study_quality');
}
