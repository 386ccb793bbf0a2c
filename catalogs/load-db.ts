import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { canonicalJson } from './diff';
import { loadCatalogs } from './index';
import { Catalog } from './schema';

/**
 * Loads the bundled catalogs into PostgreSQL (migration 20261125000200_catalogs). A version
 * is inserted once and never rewritten: studies keep the version they were mapped with, and
 * changing a catalog means publishing it under a new `version`.
 */

const contentHash = (catalog: Catalog): string => createHash('sha256').update(canonicalJson(catalog)).digest('hex');

export interface SyncResult {
  catalogId: string;
  version: string;
  status: 'inserted' | 'present';
}

/**
 * Inserts every bundled catalog version not yet in the database; idempotent, safe to call at
 * every start. Throws (and inserts nothing) when a version id is already loaded with other
 * content, so an edited catalog file cannot silently replace what studies were mapped with.
 */
export async function syncCatalogs(db: Knex, catalogs: Catalog[] = loadCatalogs()): Promise<SyncResult[]> {
  return db.transaction(async (trx) => {
    // Two instances starting together would otherwise both see a version as absent.
    await trx.raw("SELECT pg_advisory_xact_lock(hashtext('huren.catalog_sync'))");
    const results: SyncResult[] = [];
    for (const catalog of catalogs) {
      const { id, version, items, validity, nonRecognitionReasons, scopeRules, requirements, ...document } = catalog;
      const hash = contentHash(catalog);
      const loaded = await trx('catalog_version').where({ catalog_id: id, version }).first('content_hash');
      if (loaded && loaded.content_hash !== hash) {
        throw new Error(
          `Catalog ${id} version "${version}" is already loaded with different content ` +
            `(database ${loaded.content_hash.slice(0, 12)}…, file ${hash.slice(0, 12)}…). Loaded versions are never ` +
            `rewritten: give the changed catalog a new "version" in catalogs/data/${id}.json. / ` +
            `目录 ${id} 版本 "${version}" 已以不同内容载入，已载入的版本不可改写：请为修改后的目录设置新的 version。`,
        );
      }
      if (!loaded) {
        await trx('catalog_version').insert({
          catalog_id: id,
          version,
          document,
          rules: { validity, nonRecognitionReasons, scopeRules, requirements },
          content_hash: hash,
        });
        await trx('catalog_item').insert(items.map((item) => ({ catalog_id: id, version, code: item.code, seq: item.seq, attributes: item })));
      }
      results.push({ catalogId: id, version, status: loaded ? 'present' : 'inserted' });
    }
    return results;
  });
}

export interface LoadedVersion {
  catalogId: string;
  version: string;
  loadedAt: Date;
  contentHash: string;
}

export async function listCatalogVersions(db: Knex, catalogId?: string): Promise<LoadedVersion[]> {
  const query = db('catalog_version')
    .orderBy([{ column: 'catalog_id' }, { column: 'loaded_at' }, { column: 'version' }])
    .select('catalog_id', 'version', 'loaded_at', 'content_hash');
  if (catalogId) query.where({ catalog_id: catalogId });
  const rows: { catalog_id: string; version: string; loaded_at: Date; content_hash: string }[] = await query;
  return rows.map((r) => ({ catalogId: r.catalog_id, version: r.version, loadedAt: r.loaded_at, contentHash: r.content_hash }));
}

/** A loaded version as a whole Catalog again, or undefined when it was never loaded. */
export async function readCatalogVersion(db: Knex, catalogId: string, version: string): Promise<Catalog | undefined> {
  const row = await db('catalog_version').where({ catalog_id: catalogId, version }).first('document', 'rules');
  if (!row) return undefined;
  const items = await db('catalog_item').where({ catalog_id: catalogId, version }).orderBy('seq').pluck('attributes');
  return Catalog.parse({ id: catalogId, version, ...row.document, ...row.rules, items });
}
