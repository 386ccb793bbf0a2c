import type { Knex } from 'knex';

/**
 * Indexes for QIDO-RS (gateway/dicomweb/qido-query.ts). Each one serves a query shape OHIF
 * and PACS actually send; the expressions must stay identical to those in buildQidoSql or
 * the planner will not use them.
 */
export async function up(knex: Knex): Promise<void> {
  // The default study order (newest first): `/studies?limit=101` — OHIF's landing page —
  // reads the first rows of this index instead of sorting the whole table.
  await knex.raw('CREATE INDEX study_recent ON study (study_date DESC NULLS LAST, study_time DESC NULLS LAST, study_instance_uid)');
  // OHIF wraps typed filters in wildcards (`*123*`) when the data source says supportsWildcard.
  await knex.raw('CREATE INDEX study_patient_id_trgm ON study USING gin (patient_id public.gin_trgm_ops)');
  await knex.raw('CREATE INDEX study_accession_number_trgm ON study USING gin (accession_number public.gin_trgm_ops)');
  await knex.raw('CREATE INDEX study_description_trgm ON study USING gin (upper(study_description) public.gin_trgm_ops)');
  // fuzzymatching=true compares names with separators removed ('ZHANG^SAN' ~ 'ZHANGSAN').
  await knex.raw("CREATE INDEX study_patient_name_fuzzy_trgm ON study USING gin (regexp_replace(upper(patient_name), '[ ^,]', '', 'g') public.gin_trgm_ops)");
  await knex.raw('CREATE INDEX instance_sop_class_uid ON instance (sop_class_uid)');
}

export async function down(knex: Knex): Promise<void> {
  for (const index of [
    'study_recent',
    'study_patient_id_trgm',
    'study_accession_number_trgm',
    'study_description_trgm',
    'study_patient_name_fuzzy_trgm',
    'instance_sop_class_uid',
  ]) {
    await knex.raw('DROP INDEX IF EXISTS ??', [index]);
  }
}
