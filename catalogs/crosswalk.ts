import { z } from 'zod';
import bundledOverrides from './crosswalk-overrides.json';
import { loadCatalogs, type CatalogId } from './index';
import type { Catalog, CatalogItem } from './schema';

/**
 * Which items of different catalogs name the same examination. Derived from the structured
 * attributes, then corrected by hand in crosswalk-overrides.json (docs/catalogs.md). When in
 * doubt two items stay apart: a missed equivalence costs a repeat exam decided by a clinician,
 * a false one could waive an exam that was needed.
 */

/** How an acquisition is reconstructed (薄层, 三维重建, 高分辨), not what is examined. */
const RECONSTRUCTION = new Set(['thin_slice', '3d_reconstruction', 'high_resolution']);

/**
 * Structures examined as a pair in one acquisition: an item that states no side ('none') covers
 * both, the same exam as 'bilateral'. Items naming one side (浙江's MR 右眼眶) keep it.
 */
const PAIRED = new Set([
  'orbit',
  'temporal_bone',
  'internal_auditory_canal',
  'sacroiliac_joint',
  'sternoclavicular_joint',
  'adrenal',
  'kidney',
  'lung',
  'ribs',
]);

const POSTURE = new Set(['standing', 'supine', 'decubitus', 'weight_bearing']);

export type Difference = 'modality' | 'targets' | 'laterality' | 'contrast' | 'techniques' | 'views' | 'patientGroup';

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().join('|') === [...b].sort().join('|');
const side = (i: CatalogItem) => (i.laterality === 'none' && i.targets.every((t) => PAIRED.has(t)) ? 'bilateral' : i.laterality);
const acquired = (i: CatalogItem) => i.techniques.filter((t) => !RECONSTRUCTION.has(t));

/** The attributes in which two items differ, after the normalisations above. */
function differences(a: CatalogItem, b: CatalogItem): Difference[] {
  const d: Difference[] = [];
  if (a.modality !== b.modality) d.push('modality');
  if (!sameSet(a.targets, b.targets)) d.push('targets');
  if (side(a) !== side(b)) d.push('laterality');
  if (a.contrast !== b.contrast) d.push('contrast');
  if (!sameSet(acquired(a), acquired(b))) d.push('techniques');
  if (!sameSet(a.views, b.views)) d.push('views');
  if (a.patientGroup !== b.patientGroup) d.push('patientGroup');
  return d;
}

/** A single difference a reviewer should decide on; any other single difference is a different exam. */
function isSoft(diff: Difference, a: CatalogItem, b: CatalogItem): boolean {
  const views = (i: CatalogItem) => i.views.filter((v) => !POSTURE.has(v)).map((v) => (v === 'pa' ? 'ap' : v));
  switch (diff) {
    case 'contrast':
      return sameSet([a.contrast, b.contrast], ['contrast', 'plain_and_contrast']);
    case 'laterality':
      return a.laterality === 'none' || b.laterality === 'none';
    case 'views':
      return sameSet([...new Set(views(a))], [...new Set(views(b))]);
    case 'targets': // overlapping sets: one item may be a combination that covers the other
      return a.targets.some((t) => b.targets.includes(t));
    case 'modality':
      return false;
    default:
      return true; // techniques, patientGroup
  }
}

const DecisionEntry = z.object({
  decision: z.enum(['add', 'remove', 'distinct']),
  reason: z.string().min(1),
  pairs: z.array(z.tuple([z.string(), z.string()])).min(1),
});
const Overrides = z.object({ $comment: z.string().optional(), decisions: z.array(DecisionEntry) });
type Decision = z.infer<typeof DecisionEntry>['decision'];

export interface NearMiss {
  a: string;
  b: string;
  difference: Difference;
}
export interface CoverageRow {
  from: CatalogId;
  to: CatalogId;
  items: number;
  withEquivalent: number;
}
export interface Crosswalk {
  /** Codes of the equivalent items in the other catalogs, in catalog then document order. */
  equivalents(code: string): string[];
  /** How many items of each catalog have at least one equivalent in each other catalog. */
  coverage(): CoverageRow[];
  /** Soft near misses nobody has decided on yet (`npm run catalog -- crosswalk --review`). */
  unreviewed(): NearMiss[];
}

const pairKey = (a: string, b: string) => (a < b ? `${a} ${b}` : `${b} ${a}`);

export function buildCrosswalk(catalogs: Catalog[], overrides: unknown): Crosswalk {
  const owner = new Map<string, { catalog: Catalog; item: CatalogItem }>();
  for (const catalog of catalogs) for (const item of catalog.items) owner.set(item.code, { catalog, item });

  const equivalent = new Set<string>();
  const nearMisses: NearMiss[] = [];
  catalogs.forEach((ca, i) =>
    catalogs.slice(i + 1).forEach((cb) => {
      for (const a of ca.items) {
        for (const b of cb.items) {
          const d = differences(a, b);
          if (d.length === 0) equivalent.add(pairKey(a.code, b.code));
          else if (d.length === 1 && isSoft(d[0], a, b)) nearMisses.push({ a: a.code, b: b.code, difference: d[0] });
        }
      }
    }),
  );

  const decided = new Set<string>();
  const problems: string[] = [];
  for (const { decision, pairs } of Overrides.parse(overrides).decisions) {
    for (const [x, y] of pairs) {
      const key = pairKey(x, y);
      const problem = overrideProblem(decision, owner.get(x), owner.get(y), equivalent.has(key), decided.has(key));
      if (problem) problems.push(`${decision} ${x} ↔ ${y}: ${problem}`);
      decided.add(key);
      if (decision === 'add') equivalent.add(key);
      if (decision === 'remove') equivalent.delete(key);
    }
  }
  if (problems.length) throw new Error(`crosswalk-overrides.json:\n  ${problems.join('\n  ')}`);

  const partners = new Map<string, string[]>();
  for (const key of equivalent) {
    const [a, b] = key.split(' ');
    partners.set(a, [...(partners.get(a) ?? []), b]);
    partners.set(b, [...(partners.get(b) ?? []), a]);
  }
  const order = new Map([...owner.keys()].map((code, i) => [code, i]));
  return {
    equivalents: (code) => [...(partners.get(code) ?? [])].sort((x, y) => order.get(x)! - order.get(y)!),
    coverage: () =>
      catalogs.flatMap((from) =>
        catalogs
          .filter((to) => to !== from)
          .map((to) => ({
            from: from.id,
            to: to.id,
            items: from.items.length,
            withEquivalent: from.items.filter((i) => (partners.get(i.code) ?? []).some((c) => owner.get(c)?.catalog === to)).length,
          })),
      ),
    unreviewed: () => nearMisses.filter((m) => !decided.has(pairKey(m.a, m.b))),
  };
}

type Owned = { catalog: Catalog; item: CatalogItem } | undefined;

/** Why a hand decision is stale or crosses a guard rail (sides, plain vs contrast, modality). */
function overrideProblem(decision: Decision, a: Owned, b: Owned, derived: boolean, seen: boolean): string | undefined {
  if (!a || !b) return 'unknown code';
  if (a.catalog.id === b.catalog.id) return 'both items are in the same catalog';
  if (seen) return 'pair decided twice';
  if (decision === 'remove') return derived ? undefined : 'not equivalent by attributes: nothing to remove';
  if (derived) return `already equivalent by attributes: ${decision === 'add' ? 'drop the override' : 'use "remove"'}`;
  if (decision === 'distinct') return undefined;
  if (a.item.modality !== b.item.modality) return 'different modalities';
  const sides = new Set([a.item.laterality, b.item.laterality]);
  if (sides.has('left') && sides.has('right')) return 'left and right are never equivalent';
  if (sides.has('bilateral') && (sides.has('left') || sides.has('right'))) return 'one side and both sides are never equivalent';
  if ((a.item.contrast === 'plain') !== (b.item.contrast === 'plain')) return 'a plain item is never equivalent to a contrast item';
  return undefined;
}

let cached: Crosswalk | undefined;

/** The crosswalk of the bundled catalogs and overrides, built once per process. */
export function crosswalk(): Crosswalk {
  cached ??= buildCrosswalk(loadCatalogs(), bundledOverrides);
  return cached;
}
