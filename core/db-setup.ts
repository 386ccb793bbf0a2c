import { syncCatalogs } from '../catalogs/load-db';
import { migrateLatest, type Db } from './db';

/** At every start: schema migrations, then the bundled catalog versions (added, never rewritten). */
export async function prepareDatabase(db: Db, schema: string): Promise<void> {
  await migrateLatest(db, schema);
  await syncCatalogs(db);
}
