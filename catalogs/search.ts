import { loadCatalogs } from './index';
import type { Catalog, CatalogItem } from './schema';
import { TARGETS, isTargetKey } from './targets';

/**
 * Item look-up for operators, in Chinese or English. NFKC folds full-width forms (ＣＴ, （）)
 * to their ordinary forms, so what an input method produced matches either way.
 */
export const fold = (s: string): string => s.normalize('NFKC').toLowerCase().replace(/\s+/g, ' ').trim();

function searchText(item: CatalogItem): string {
  const targets = item.targets.flatMap((t) => (isTargetKey(t) ? [t, ...TARGETS[t]] : [t]));
  const { published } = item;
  return fold(
    [item.code, item.nameZh, item.nameEn, item.descriptionZh, published.name, published.part, published.description, item.modality, ...targets]
      .filter(Boolean)
      .join(' | '),
  );
}

/** Items whose code, names, description or targets contain every word of the query. */
export function searchItems(query: string, catalogs: Catalog[] = loadCatalogs()): { catalog: Catalog; item: CatalogItem }[] {
  const words = fold(query).split(' ').filter(Boolean);
  if (words.length === 0) return [];
  return catalogs.flatMap((catalog) => catalog.items.filter((item) => words.every((w) => searchText(item).includes(w))).map((item) => ({ catalog, item })));
}
