import knex, { type Knex } from 'knex';
import path from 'node:path';

export type Db = Knex;

export interface DbOptions {
  url: string;
  schema: string;
  poolMax: number;
}

/** One knex instance per process; every query runs in huren's schema (search_path). */
export function createDb({ url, schema, poolMax }: DbOptions): Db {
  return knex({
    client: 'pg',
    connection: url,
    searchPath: [schema, 'public'],
    pool: { min: 0, max: poolMax },
    acquireConnectionTimeout: 10_000,
  });
}

export const migrationConfig = (schema: string): Knex.MigratorConfig => ({
  directory: path.join(__dirname, '..', 'migrations'),
  // Compiled builds run the emitted .js files; tsx/ts-jest run the .ts sources.
  loadExtensions: [path.extname(__filename)],
  schemaName: schema,
  tableName: 'knex_migrations',
});

/**
 * Brings the schema up to date. Gateway and workers both call it at start; when several
 * start at once, the ones that find the migration lock taken (or race on CREATE SCHEMA)
 * wait and retry until the first has finished.
 */
export async function migrateLatest(db: Db, schema: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await db.raw('CREATE SCHEMA IF NOT EXISTS ??', [schema]);
      await db.migrate.latest(migrationConfig(schema));
      return;
    } catch (err) {
      const raced = /already locked|duplicate key|already exists/i.test((err as Error).message);
      if (!raced || attempt >= 30) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}
