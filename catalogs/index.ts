import chuanyu from './data/chuanyu-2025.json';
import xinjiang from './data/xinjiang.json';
import zhejiang from './data/zhejiang-2021.json';
import { Catalog, type CatalogItem } from './schema';

export type CatalogId = Catalog['id'];

/** The bundled catalog files as read, before validation (catalogs/check.ts validates these). */
export const CATALOG_SOURCES: Record<CatalogId, unknown> = {
  'chuanyu-2025': chuanyu,
  xinjiang,
  'zhejiang-2021': zhejiang,
};

let cache: Catalog[] | undefined;
let byCode: Map<string, { catalog: Catalog; item: CatalogItem }> | undefined;

/** The bundled catalogs, parsed with the schema once per process. Throws if one is invalid. */
export function loadCatalogs(): Catalog[] {
  cache ??= Object.values(CATALOG_SOURCES).map((source) => Catalog.parse(source));
  return cache;
}

export function getCatalog(id: string): Catalog | undefined {
  return loadCatalogs().find((c) => c.id === id);
}

/** Item codes are unique across catalogs (catalogs:check enforces it), so a code alone finds an item. */
export function findItem(code: string): { catalog: Catalog; item: CatalogItem } | undefined {
  byCode ??= new Map(loadCatalogs().flatMap((catalog) => catalog.items.map((item) => [item.code, { catalog, item }])));
  return byCode.get(code);
}
