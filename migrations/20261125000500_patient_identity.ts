import type { Knex } from 'knex';

/**
 * The cross-hospital identifier (居民身份证号) linked to a sender's patient, never in plain
 * text: a keyed hash for equality lookup and an AES-GCM ciphertext (docs/patient-identity.md).
 * The sender's own PatientID and IssuerOfPatientID stay in `patient` exactly as sent.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('patient_national_id', (t) => {
    t.bigInteger('patient_pk').notNullable().unique().references('patient.id').onDelete('CASCADE');
    // h1:<key id>:<HMAC-SHA256 hex>
    t.text('id_hash').notNullable().index();
    // g1:<key id>:<iv>:<ciphertext>:<tag>, associated data = the patient row
    t.text('id_ciphertext').notNullable();
    t.text('source').notNullable().checkIn(['dicom', 'api']);
    // A wrong check character is kept (with a finding), not refused.
    t.boolean('check_digit_ok').notNullable();
    // [{code, severity, message: {zh, en}}]: check digit, sex and birth date disagreements.
    t.jsonb('findings').notNullable().defaultTo('[]');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('patient_national_id');
}
