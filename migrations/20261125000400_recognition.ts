import type { Knex } from 'knex';

/**
 * Recognition domain: institutions (who sends, who receives, under which region's rules),
 * per-hospital local procedure mappings, and each study's classification per catalog.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('institution', (t) => {
    t.text('code').primary();
    t.text('name').notNullable();
    t.text('region').notNullable().checkIn(['CY', 'XJ', 'ZJ']);
    t.text('level').notNullable().checkIn(['L3A', 'L3B', 'L2A', 'L2B', 'L1', 'other']);
    t.text('kind').notNullable().defaultTo('hospital').checkIn(['hospital', 'independent_imaging_centre']);
    t.boolean('is_public').notNullable().defaultTo(true);
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });

  // The spellings by which incoming studies are attributed to an institution.
  await knex.schema.createTable('institution_alias', (t) => {
    t.text('institution_code').notNullable().references('institution.code').onDelete('CASCADE');
    t.text('kind').notNullable().checkIn(['institution_name', 'ae_title', 'issuer_of_patient_id']);
    t.text('value').notNullable();
    t.primary(['kind', 'value']);
    t.index(['institution_code']);
  });

  // 医联体 / 医共体 / 紧密型城市医疗集团: members recognise each other under the region's group rule.
  await knex.schema.createTable('institution_group', (t) => {
    t.text('code').primary();
    t.text('name').notNullable();
    t.text('kind').notNullable().checkIn(['medical_alliance', 'county_medical_community', 'hospital_group']);
  });
  await knex.schema.createTable('institution_group_member', (t) => {
    t.text('group_code').notNullable().references('institution_group.code').onDelete('CASCADE');
    t.text('institution_code').notNullable().references('institution.code').onDelete('CASCADE');
    t.primary(['group_code', 'institution_code']);
  });

  // Quality-control-centre accreditation (质控中心考核) per catalog and modality, with dates.
  await knex.schema.createTable('institution_accreditation', (t) => {
    t.bigIncrements('id');
    t.text('institution_code').notNullable().references('institution.code').onDelete('CASCADE');
    t.text('catalog_id').notNullable();
    t.text('modality').notNullable().checkIn(['DR', 'MG', 'CT', 'MR']);
    t.date('valid_from').notNullable();
    t.date('valid_until');
    t.text('issuer');
    t.index(['institution_code', 'catalog_id', 'modality']);
  });

  await knex.schema.alterTable('study', (t) => {
    // Null while the sender cannot be attributed: the study is kept and flagged, never dropped.
    t.text('sending_institution_code').references('institution.code');
    t.text('source_ae_title');
    t.index(['sending_institution_code']);
  });

  // A hospital's own procedure codes/names (as its RIS sends them) mapped to catalog items.
  await knex.schema.createTable('local_procedure_mapping', (t) => {
    t.bigIncrements('id');
    t.text('institution_code').notNullable().references('institution.code').onDelete('CASCADE');
    // Normalised key: code value when present, else the normalised procedure name.
    t.text('local_key').notNullable();
    t.text('local_code');
    t.text('local_name');
    t.text('catalog_id').notNullable();
    t.specificType('item_codes', 'text[]').notNullable();
    t.text('created_by');
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.unique(['institution_code', 'local_key', 'catalog_id']);
  });

  // One row per (study, catalog): what the classifier (or a mapping, or a reviewer) decided.
  await knex.schema.createTable('study_classification', (t) => {
    t.text('study_instance_uid').notNullable().references('study.study_instance_uid').onDelete('CASCADE');
    t.text('catalog_id').notNullable();
    t.text('catalog_version').notNullable();
    t.text('status').notNullable().checkIn(['mapped', 'needs_review', 'not_applicable']);
    t.text('source').notNullable().checkIn(['classifier', 'local_mapping', 'reviewer']);
    // The full classification: items with confidence, evidence and runners-up.
    t.jsonb('result').notNullable();
    t.text('reviewed_by');
    t.timestamp('classified_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['study_instance_uid', 'catalog_id']);
    t.index(['status', 'catalog_id']);
  });

  // The mapped items, one row each, for recognition queries (QIDO recognitionCode=, reminders).
  await knex.schema.createTable('study_item', (t) => {
    t.text('study_instance_uid').notNullable().references('study.study_instance_uid').onDelete('CASCADE');
    t.text('catalog_id').notNullable();
    t.text('catalog_version').notNullable();
    t.text('item_code').notNullable();
    t.float('confidence').notNullable();
    t.primary(['study_instance_uid', 'catalog_id', 'item_code']);
    t.index(['item_code']);
  });

  // Audit of manual review decisions (who set which items, from what).
  await knex.schema.createTable('classification_review', (t) => {
    t.bigIncrements('id');
    t.text('study_instance_uid').notNullable();
    t.text('catalog_id').notNullable();
    t.specificType('previous_item_codes', 'text[]').notNullable();
    t.specificType('item_codes', 'text[]').notNullable();
    t.text('reviewer').notNullable();
    t.text('note');
    t.timestamp('reviewed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.index(['study_instance_uid']);
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of ['classification_review', 'study_item', 'study_classification', 'local_procedure_mapping']) {
    await knex.schema.dropTableIfExists(table);
  }
  await knex.schema.alterTable('study', (t) => {
    t.dropColumn('sending_institution_code');
    t.dropColumn('source_ae_title');
  });
  for (const table of ['institution_accreditation', 'institution_group_member', 'institution_group', 'institution_alias', 'institution']) {
    await knex.schema.dropTableIfExists(table);
  }
}
