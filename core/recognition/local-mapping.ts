import type { Knex } from 'knex';
import { normalizeText } from './classifier/normalize';
import type { LocalMappingQuery } from './classify';

/**
 * A hospital's own procedures (what its RIS puts in RequestedProcedureCodeSequence or the
 * descriptions) mapped to catalog items. Keys are normalised so 'CT胸部平扫 ' and 'ct胸部平扫'
 * are one procedure: `code:<VALUE>` for a procedure code, `name:<normalised text>` for a name.
 */
export function localMappingKey(p: { localCode?: string | null; localName?: string | null }): string {
  if (p.localCode?.trim()) return `code:${p.localCode.trim().toUpperCase()}`;
  if (p.localName?.trim()) return `name:${normalizeText(p.localName)}`;
  throw new Error('a local procedure needs a code or a name');
}

export interface MappingRow {
  local_key: string;
  catalog_id: string;
  item_codes: string[];
}

/** The lookup the classifier calls: a code match first, then a name match (RequestedProcedureDescription before StudyDescription). */
export function mappingLookup(rows: readonly MappingRow[]): (q: LocalMappingQuery) => string[] | undefined {
  const byKey = new Map(rows.map((r) => [`${r.catalog_id} ${r.local_key}`, r.item_codes]));
  const order = [
    'RequestedProcedureDescription',
    'RequestAttributesSequence.RequestedProcedureDescription',
    'StudyDescription',
    'PerformedProcedureStepDescription',
  ];
  return (q) => {
    const keys = [
      ...q.procedureCodes.filter((c) => c.value).map((c) => localMappingKey({ localCode: c.value })),
      ...[...q.descriptions].sort((a, b) => rank(order, a.tag) - rank(order, b.tag)).map((d) => localMappingKey({ localName: d.value })),
    ];
    for (const key of keys) {
      const hit = byKey.get(`${q.catalogId} ${key}`);
      if (hit) return hit;
    }
    return undefined;
  };
}

const rank = (order: string[], tag: string) => (order.includes(tag) ? order.indexOf(tag) : order.length);

export async function loadMappings(db: Knex, institutionCode: string | null): Promise<MappingRow[]> {
  if (!institutionCode) return [];
  return db('local_procedure_mapping').where({ institution_code: institutionCode }).select('local_key', 'catalog_id', 'item_codes');
}
