import type { Knex } from 'knex';

/**
 * The DICOM index: what STOW-RS made durable (instance, instance_version, upload) and
 * what the index worker extracted (patient, study, series, instance metadata).
 */
export async function up(knex: Knex): Promise<void> {
  // Trigram indexes serve QIDO's `*x*` wildcard matches on names and descriptions.
  await knex.raw('CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public');

  await knex.schema.createTable('patient', (t) => {
    t.bigIncrements('id');
    // As sent, never overwritten (IHE PIX practice): the pair identifies the sender's patient.
    t.text('patient_id').notNullable();
    t.text('issuer_of_patient_id').notNullable().defaultTo('');
    t.text('patient_name');
    t.text('patient_birth_date');
    t.text('patient_sex');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['issuer_of_patient_id', 'patient_id']);
  });

  await knex.schema.createTable('study', (t) => {
    t.text('study_instance_uid').primary();
    t.bigInteger('patient_pk').references('patient.id');
    // Patient attributes copied per study: QIDO filters on them without a join.
    t.text('patient_id');
    t.text('issuer_of_patient_id');
    t.text('patient_name');
    t.text('patient_birth_date');
    t.text('patient_sex');
    t.date('study_date');
    t.text('study_time');
    t.text('accession_number');
    t.text('study_id');
    t.text('study_description');
    t.text('referring_physician_name');
    t.text('institution_name');
    t.specificType('modalities_in_study', 'text[]').notNullable().defaultTo('{}');
    t.integer('number_of_study_related_series').notNullable().defaultTo(0);
    t.integer('number_of_study_related_instances').notNullable().defaultTo(0);
    // Study-level DICOM JSON (Patient and General Study modules) returned by QIDO.
    t.jsonb('attributes').notNullable();
    t.timestamp('last_instance_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('stable_at', { useTz: true });
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['patient_id']);
    t.index(['study_date', 'study_instance_uid']);
    t.index(['accession_number']);
    t.index(['patient_pk']);
  });
  await knex.raw('CREATE INDEX study_patient_name_trgm ON study USING gin (upper(patient_name) public.gin_trgm_ops)');
  await knex.raw('CREATE INDEX study_modalities_gin ON study USING gin (modalities_in_study)');

  await knex.schema.createTable('series', (t) => {
    t.text('series_instance_uid').primary();
    t.text('study_instance_uid').notNullable().references('study.study_instance_uid').onDelete('CASCADE');
    t.text('modality');
    t.integer('series_number');
    t.text('series_description');
    t.text('body_part_examined');
    t.text('laterality');
    t.date('performed_procedure_step_start_date');
    t.text('performed_procedure_step_start_time');
    t.integer('number_of_series_related_instances').notNullable().defaultTo(0);
    t.jsonb('attributes').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['study_instance_uid', 'series_number']);
    t.index(['modality']);
  });

  await knex.schema.createTable('instance', (t) => {
    t.text('sop_instance_uid').primary();
    // No foreign keys to study/series: STOW records an instance before the worker indexes it.
    t.text('study_instance_uid').notNullable();
    t.text('series_instance_uid').notNullable();
    t.text('sop_class_uid').notNullable();
    t.text('transfer_syntax_uid').notNullable();
    // received: durable in storage, counted as stored; indexed: metadata extracted, queryable.
    t.text('status').notNullable().checkIn(['received', 'indexed']);
    t.integer('version').notNullable().defaultTo(1);
    t.text('object_key').notNullable();
    t.bigInteger('size_bytes').notNullable();
    t.text('sha256').notNullable();
    t.integer('instance_number');
    t.integer('number_of_frames');
    // Instance DICOM JSON without bulk data (BulkDataURI instead), served by WADO /metadata.
    t.jsonb('metadata');
    // Byte ranges of each frame in the stored object (recorded at ingest for /frames).
    t.jsonb('frames');
    // Byte range [offset, length] of each value left out of metadata, by tag path (BulkDataURI).
    t.jsonb('bulkdata');
    t.text('index_error');
    t.timestamp('received_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('indexed_at', { useTz: true });
    t.index(['study_instance_uid', 'series_instance_uid']);
    t.index(['series_instance_uid', 'instance_number']);
  });
  await knex.raw("CREATE INDEX instance_unindexed ON instance (received_at) WHERE status = 'received'");

  // Objects an instance no longer points to because a newer one replaced it (STOW conflict policy).
  await knex.schema.createTable('instance_version', (t) => {
    t.bigIncrements('id');
    t.text('sop_instance_uid').notNullable().index();
    t.integer('version').notNullable();
    t.text('object_key').notNullable();
    t.text('sha256').notNullable();
    t.bigInteger('size_bytes').notNullable();
    t.timestamp('received_at', { useTz: true }).notNullable();
    t.timestamp('replaced_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['sop_instance_uid', 'version']);
  });

  // An object being written. The row exists from before the first byte reaches storage until
  // the instance row commits (or the write fails); a row left behind by a crash marks an
  // orphan object for the reconciliation sweeper.
  await knex.schema.createTable('upload', (t) => {
    t.uuid('id').primary();
    t.text('sop_instance_uid').notNullable();
    t.text('object_key').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['created_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['upload', 'instance_version', 'instance', 'series', 'study', 'patient']) {
    await knex.schema.dropTableIfExists(table);
  }
}
