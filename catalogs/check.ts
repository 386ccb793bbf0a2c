import { buildCrosswalk } from './crosswalk';
import overrides from './crosswalk-overrides.json';
import { CATALOG_SOURCES, type CatalogId } from './index';
import { Catalog, type CatalogItem, Modality, Technique } from './schema';
import { isTargetKey } from './targets';

/**
 * The catalog consistency check behind `npm run catalogs:check` (CI) and its unit test.
 * It validates the raw files, so a schema failure is reported rather than thrown.
 */

/** Figures read off the documents by hand: a transcription that drifts from them is an error. */
const EXPECTED: Record<CatalogId, { items: number; reasons: number }> = {
  'chuanyu-2025': { items: 141, reasons: 0 },
  xinjiang: { items: 298, reasons: 9 },
  'zhejiang-2021': { items: 180, reasons: 10 },
};

type Modality = (typeof Modality.options)[number];
type Technique = (typeof Technique.options)[number];

const CT_ONLY: Technique[] = ['cta', 'ctv', 'ctu', 'ct_perfusion', 'coronary_calcium', 'low_dose'];
const MR_ONLY: Technique[] = ['mra_tof', 'mra_contrast', 'mra', 'mrv', 'mrcp', 'mru', 'dwi', 'swi', 'mr_perfusion', 'mrs', 'fat_suppression', 'mr_hydrography'];
/** Techniques an item of the modality cannot have; DR and MG items carry none. */
const FOREIGN: Record<Modality, readonly Technique[]> = { DR: Technique.options, MG: Technique.options, CT: MR_ONLY, MR: CT_ONLY };
const LEADING_SIDE: [RegExp, CatalogItem['laterality']][] = [
  [/^左/, 'left'],
  [/^右/, 'right'],
  [/^双/, 'bilateral'],
];
// A flag code names a kind of inconsistency (part_code_mismatch …), shared across items.
const FLAG_CODE = /^[a-z][a-z0-9_]*$/;

export interface CatalogReport {
  id: string;
  version: string;
  items: number;
  itemCount: number;
  byModality: Record<Modality, number>;
  corrections: number;
  reasons: number;
  scopeRules: number;
  flaggedItems: number;
  errors: string[];
}

export interface CheckResult {
  reports: CatalogReport[];
  /** Every error, prefixed with the catalog id. */
  errors: string[];
}

const duplicates = (values: string[]): string[] => [...new Set(values.filter((v, i) => values.indexOf(v) !== i))];

function checkItem(item: CatalogItem): string[] {
  const errors: string[] = [];
  const dr = item.modality === 'DR' || item.modality === 'MG';
  for (const t of item.targets) if (!isTargetKey(t)) errors.push(`target "${t}" is not a key of TARGETS`);
  for (const [what, list] of [
    ['target', item.targets],
    ['view', item.views],
    ['technique', item.techniques],
  ] as const) {
    for (const d of duplicates([...list])) errors.push(`${what} "${d}" listed twice`);
  }
  if (dr && item.views.length === 0) errors.push(`${item.modality} item has no view`);
  if (!dr && item.views.length > 0) errors.push(`${item.modality} item has views ${item.views.join(', ')}`);
  if (dr !== (item.contrast === 'none')) errors.push(`contrast "${item.contrast}" on a ${item.modality} item`);
  const misplaced = item.techniques.filter((t) => FOREIGN[item.modality].includes(t));
  if (misplaced.length) errors.push(`technique ${misplaced.join(', ')} does not apply to ${item.modality}`);
  const side = LEADING_SIDE.find(([re]) => re.test(item.nameZh));
  if (side && side[1] !== item.laterality) errors.push(`name ${item.nameZh} but laterality "${item.laterality}"`);
  if (item.nameZh.includes('增强') && !['contrast', 'plain_and_contrast'].includes(item.contrast)) {
    errors.push(`name ${item.nameZh} says 增强 but contrast is "${item.contrast}"`);
  } else if (item.nameZh.includes('平扫') && !item.nameZh.includes('增强') && item.contrast !== 'plain') {
    errors.push(`name ${item.nameZh} says 平扫 but contrast is "${item.contrast}"`);
  }
  for (const d of duplicates(item.flags.map((f) => f.code))) errors.push(`flag "${d}" listed twice`);
  for (const f of item.flags) {
    if (!FLAG_CODE.test(f.code)) errors.push(`flag code "${f.code}" is not a snake_case kind (e.g. part_code_mismatch)`);
  }
  return errors;
}

/** A correction must quote the published text it corrects and show up in the corrected field. */
function checkCorrection(c: Catalog['corrections'][number], item: CatalogItem | undefined): string | undefined {
  if (!item) return `correction refers to unknown item ${c.item}`;
  const published = { name: item.published.name, description: item.published.description, part: item.published.part };
  const corrected = { name: item.nameZh, description: item.descriptionZh };
  if (c.field === 'rule') return undefined;
  if (!published[c.field]?.includes(c.from)) return `${c.item}: correction "${c.from}" not found in published ${c.field}`;
  if (c.field !== 'part' && !corrected[c.field]?.includes(c.to)) {
    return `${c.item}: corrected ${c.field} does not contain "${c.to}"`;
  }
  return undefined;
}

function checkParsed(catalog: Catalog, key: string): string[] {
  const errors: string[] = [];
  const expected = EXPECTED[catalog.id];
  if (catalog.id !== key) errors.push(`file registered as "${key}" declares id "${catalog.id}"`);
  if (catalog.itemCount !== expected.items) {
    errors.push(`itemCount ${catalog.itemCount}, but the document lists ${expected.items} items`);
  }
  if (catalog.items.length !== catalog.itemCount) {
    errors.push(`${catalog.items.length} items transcribed, itemCount says ${catalog.itemCount}`);
  }
  catalog.items.forEach((item, i) => {
    if (item.seq !== i + 1) errors.push(`item ${i + 1} (${item.code}) has seq ${item.seq}: 序号 must run 1..N without gaps`);
  });
  for (const d of duplicates(catalog.items.map((i) => i.code))) errors.push(`code ${d} used by more than one item`);
  let format: RegExp | undefined;
  try {
    format = new RegExp(`^(?:${catalog.codeFormat})$`);
  } catch (e) {
    errors.push(`codeFormat is not a regular expression: ${(e as Error).message}`);
  }
  const byCode = new Map(catalog.items.map((i) => [i.code, i]));
  for (const item of catalog.items) {
    if (format && !format.test(item.code)) errors.push(`${item.code}: does not match codeFormat ${catalog.codeFormat}`);
    for (const e of checkItem(item)) errors.push(`${item.code}: ${e}`);
  }
  for (const c of catalog.corrections) {
    const e = checkCorrection(c, byCode.get(c.item));
    if (e) errors.push(e);
  }
  if (catalog.nonRecognitionReasons.length !== expected.reasons) {
    errors.push(`${catalog.nonRecognitionReasons.length} non-recognition reasons, the document lists ${expected.reasons}`);
  }
  for (const [what, list] of [
    ['reason', catalog.nonRecognitionReasons],
    ['scope rule', catalog.scopeRules],
    ['requirement', catalog.requirements],
  ] as const) {
    for (const d of duplicates(list.map((r) => r.code))) errors.push(`${what} code ${d} used twice`);
  }
  return errors;
}

const count = (items: CatalogItem[], m: Modality) => items.filter((i) => i.modality === m).length;

export function checkCatalogs(sources: Record<string, unknown> = CATALOG_SOURCES): CheckResult {
  const reports: CatalogReport[] = [];
  const parsedCatalogs: Catalog[] = [];
  const owner = new Map<string, string>();
  const crossErrors: string[] = [];
  for (const [key, source] of Object.entries(sources)) {
    const parsed = Catalog.safeParse(source);
    if (!parsed.success) {
      const errors = parsed.error.issues.map((i) => `schema: ${i.path.join('.') || '(root)'}: ${i.message}`);
      reports.push({ ...emptyReport(key), errors });
      continue;
    }
    const catalog = parsed.data;
    parsedCatalogs.push(catalog);
    for (const item of catalog.items) {
      const other = owner.get(item.code);
      if (other && other !== catalog.id) crossErrors.push(`${catalog.id}: ${item.code}: code also used by catalog ${other}`);
      owner.set(item.code, catalog.id);
    }
    reports.push({
      id: catalog.id,
      version: catalog.version,
      items: catalog.items.length,
      itemCount: catalog.itemCount,
      byModality: { DR: count(catalog.items, 'DR'), MG: count(catalog.items, 'MG'), CT: count(catalog.items, 'CT'), MR: count(catalog.items, 'MR') },
      corrections: catalog.corrections.length,
      reasons: catalog.nonRecognitionReasons.length,
      scopeRules: catalog.scopeRules.length,
      flaggedItems: catalog.items.filter((i) => i.flags.length > 0).length,
      errors: checkParsed(catalog, key),
    });
  }
  const errors = [...reports.flatMap((r) => r.errors.map((e) => `${r.id}: ${e}`)), ...crossErrors];
  // The hand-reviewed crosswalk decisions name items by code: a catalog edit can orphan them.
  if (errors.length === 0) errors.push(...checkCrosswalk(parsedCatalogs));
  return { reports, errors };
}

function checkCrosswalk(catalogs: Catalog[]): string[] {
  try {
    const open = buildCrosswalk(catalogs, overrides).unreviewed().length;
    return open ? [`crosswalk: ${open} near miss(es) without a decision (npm run catalog -- crosswalk --review)`] : [];
  } catch (e) {
    return [`crosswalk: ${(e as Error).message}`];
  }
}

function emptyReport(id: string): CatalogReport {
  return {
    id,
    version: '?',
    items: 0,
    itemCount: 0,
    byModality: { DR: 0, MG: 0, CT: 0, MR: 0 },
    corrections: 0,
    reasons: 0,
    scopeRules: 0,
    flaggedItems: 0,
    errors: [],
  };
}
