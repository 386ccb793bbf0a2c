import { syncCatalogs } from '../catalogs/load-db';
import { migrateLatest, type Db } from './db';
import type { JobQueues } from './jobs/queues';
import { enqueueReclassify } from './jobs/reclassify';

/**
 * At every start: schema migrations, then the bundled catalog versions (added, never
 * rewritten). A newly loaded catalog version re-classifies the stored studies in the background.
 */
export async function prepareDatabase(db: Db, schema: string, queues: JobQueues): Promise<void> {
  await migrateLatest(db, schema);
  for (const loaded of await syncCatalogs(db)) {
    if (loaded.status === 'inserted') await enqueueReclassify(queues.reclassify, { reason: 'catalog_version', catalogId: loaded.catalogId });
  }
}
