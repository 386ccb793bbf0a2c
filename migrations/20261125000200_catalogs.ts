import type { Knex } from 'knex';

/**
 * Recognition catalogs, versioned (catalogs/load-db.ts loads them). A version once loaded is
 * never rewritten or erased: studies keep the (catalog_id, version, code) they were mapped
 * with, so both tables are append-only, enforced by trigger.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('catalog_version', (t) => {
    t.text('catalog_id').notNullable();
    t.text('version').notNullable();
    t.timestamp('loaded_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // region, document, effectiveDate, codeFormat, itemCount, corrections
    t.jsonb('document').notNullable();
    // validity, nonRecognitionReasons, scopeRules, requirements
    t.jsonb('rules').notNullable();
    // sha256 of the whole catalog as canonical JSON: tells a re-load from a changed file
    t.text('content_hash').notNullable();
    t.primary(['catalog_id', 'version']);
  });

  await knex.schema.createTable('catalog_item', (t) => {
    t.text('catalog_id').notNullable();
    t.text('version').notNullable();
    t.text('code').notNullable();
    t.integer('seq').notNullable();
    // The full item as in the catalog file (schema catalogs/schema.ts Item)
    t.jsonb('attributes').notNullable();
    t.primary(['catalog_id', 'version', 'code']);
    t.foreign(['catalog_id', 'version']).references(['catalog_id', 'version']).inTable('catalog_version');
    t.index(['code']);
  });

  await knex.raw(`
    CREATE FUNCTION catalog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'catalog versions are never changed or erased (% on %): load a new version instead',
        TG_OP, TG_TABLE_NAME;
    END $$`);
  for (const table of ['catalog_version', 'catalog_item']) {
    await knex.raw(`CREATE TRIGGER ${table}_append_only BEFORE UPDATE OR DELETE ON ${table} FOR EACH ROW EXECUTE FUNCTION catalog_append_only()`);
  }
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTableIfExists('catalog_item');
  await knex.schema.dropTableIfExists('catalog_version');
  await knex.raw('DROP FUNCTION IF EXISTS catalog_append_only()');
}
