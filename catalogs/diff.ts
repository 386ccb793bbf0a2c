import type { Catalog, CatalogItem } from './schema';

/** JSON with object keys sorted at every level: equal content gives equal text, whatever the key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}
export interface CatalogDiff {
  /** Catalog-level fields (validity, reasons, document …) that differ. */
  header: FieldChange[];
  added: CatalogItem[];
  removed: CatalogItem[];
  changed: { code: string; changes: FieldChange[] }[];
}

function changes(a: Record<string, unknown>, b: Record<string, unknown>, skip: string[] = []): FieldChange[] {
  const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((f) => !skip.includes(f)).sort();
  return fields.filter((f) => canonicalJson(a[f]) !== canonicalJson(b[f])).map((field) => ({ field, from: a[field], to: b[field] }));
}

/** What changed from version a to version b, item by item (matched by code). */
export function diffCatalogs(a: Catalog, b: Catalog): CatalogDiff {
  const before = new Map(a.items.map((i) => [i.code, i]));
  const after = new Map(b.items.map((i) => [i.code, i]));
  return {
    header: changes(a, b, ['items', 'version']),
    added: b.items.filter((i) => !before.has(i.code)),
    removed: a.items.filter((i) => !after.has(i.code)),
    changed: b.items.flatMap((item) => {
      const old = before.get(item.code);
      const c = old ? changes(old, item) : [];
      return c.length ? [{ code: item.code, changes: c }] : [];
    }),
  };
}
