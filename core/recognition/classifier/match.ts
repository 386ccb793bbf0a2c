import type { Catalog, CatalogItem } from '../../../catalogs/schema';
import type { TargetKey } from '../../../catalogs/targets';
import { normalizeText } from './normalize';
import { scan } from './scan';
import type { ExamSignature, RegionSig, ViewAtom } from './signature';
import { COMPONENT_OF, type Component, type SigTarget } from './text-parse';
import type { ModalityGroup, Posture, Technique } from './types';
import { POSTURES } from './types';
import { PA_BY_CONVENTION, PARTS, RELATED, SIDED, TOGETHER } from './vocabulary-anatomy';

/**
 * Catalog items against an exam signature, by structured attributes only.
 *
 * A study is a set of atoms — (component, target part, side, projection) — and an item covers
 * the atoms it consists of (右膝正侧位 = right knee frontal + right knee lateral). The items
 * mapped are the smallest set of items, each satisfying every attribute check, that covers the
 * most atoms without covering one twice (a combined item such as 上下腹部 beats its two parts).
 * Two such sets that differ are an ambiguity for a reviewer.
 */

export type Check = 'ok' | 'unknown' | 'exceeds' | 'fail';
type AtomSide = 'L' | 'R' | '-' | '?';

export interface Atom {
  key: string;
  region: number;
  component: Component;
  part: SigTarget;
  side: AtomSide;
}

/** An item as the matcher sees it. */
export interface ItemShape {
  item: CatalogItem;
  component: Component;
  parts: SigTarget[];
  /** '*' = a paired structure whose side the item does not state (川渝 髋关节CT平扫): any side. */
  sides: (AtomSide | '*')[];
  views: (ViewAtom | '-')[];
  /** Techniques the study must show: acquisition techniques, and refinements that tell the item from a sibling. */
  required: Set<Technique>;
  postures: Set<Posture>;
  pa: boolean;
  lateralSide?: 'left' | 'right';
}

// —— items ——

/** How an acquisition is reconstructed: never required (浙江's 薄层扫描（3D处理）limb CT is the limb CT of the others). */
const RECONSTRUCTION: ReadonlySet<Technique> = new Set(['thin_slice', '3d_reconstruction']);
/** Refinements: required only when they tell an item from a sibling (头颅MRI平扫 vs 平扫（含DWI）). */
const REFINEMENT: ReadonlySet<Technique> = new Set([
  'dwi',
  'dynamic',
  'high_resolution',
  'fat_suppression',
  'dual_phase',
  'multi_phase',
  'cardiac',
  'mr_hydrography',
]);
/** A study technique that makes it a different examination from an item without it. */
const EXCEEDS_IF_EXTRA: ReadonlySet<Technique> = new Set(['low_dose']);

const VIEW_ATOM: Partial<Record<string, ViewAtom>> = {
  ap: 'frontal',
  pa: 'frontal',
  lateral: 'lateral',
  oblique: 'oblique',
  bilateral_oblique: 'bilateral_oblique',
  axial: 'axial',
  flexion_extension: 'flexion_extension',
  open_mouth: 'open_mouth',
  cc: 'cc',
  mlo: 'mlo',
};

const shapeCache = new WeakMap<Catalog, ItemShape[]>();

export function itemShapes(catalog: Catalog): ItemShape[] {
  const cached = shapeCache.get(catalog);
  if (cached) return cached;
  const base = catalog.items.map((item) => ({ item, parts: canonicalParts(item) }));
  const shapes = base.map(({ item, parts }): ItemShape => {
    const siblings = base.filter(
      (o) =>
        o.item !== item &&
        o.item.modality === item.modality &&
        sameList(o.parts, parts) &&
        o.item.laterality === item.laterality &&
        o.item.contrast === item.contrast,
    );
    const required = new Set(
      item.techniques.filter((t) => !RECONSTRUCTION.has(t) && (!REFINEMENT.has(t) || siblings.some((o) => !o.item.techniques.includes(t)))),
    );
    const unpaired = parts.every((p) => !SIDED.has(p as TargetKey));
    const sides: ItemShape['sides'] = unpaired
      ? ['-']
      : item.laterality === 'left'
        ? ['L']
        : item.laterality === 'right'
          ? ['R']
          : item.laterality === 'bilateral' || parts.every((p) => TOGETHER.has(p as TargetKey))
            ? ['L', 'R']
            : ['*'];
    // An item of postures only (立位腹部平片) is a frontal film.
    const projections = item.views.flatMap((v) => (VIEW_ATOM[v] ? [VIEW_ATOM[v] as ViewAtom] : []));
    const views = projections.length ? projections : (['frontal'] as ViewAtom[]);
    return {
      item,
      component: (item.techniques.map((t) => COMPONENT_OF[t]).find((c) => c) ?? 'routine') as Component,
      parts,
      sides,
      views: item.modality === 'CT' || item.modality === 'MR' ? ['-'] : views,
      required,
      postures: new Set(item.views.filter((v): v is Posture => (POSTURES as readonly string[]).includes(v))),
      pa: item.views.includes('pa'),
      lateralSide: item.views.includes('lateral') ? namedLateralSide(item) : undefined,
    };
  });
  shapeCache.set(catalog, shapes);
  return shapes;
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && [...a].sort().join() === [...b].sort().join();

/**
 * Item targets in the matcher's terms: 肺 = 胸部 (lung protocols differ by technique); 新疆's brain
 * + neck and 浙江's skull base + neck are each 头颈部; 浙江's 骨盆MR includes both hips; the
 * 胰胆管 of MRCP are ducts, not the pancreas; whole regions split into their parts (CT/MR).
 */
function canonicalParts(item: CatalogItem): SigTarget[] {
  let t = new Set<SigTarget>(item.targets.map((x) => (x === 'lung' ? 'chest' : (x as TargetKey))));
  if (t.size === 2 && t.has('neck') && (t.has('brain') || t.has('skull_base'))) t = new Set(['head_and_neck']);
  if (t.has('bony_pelvis')) t.delete('hip');
  if (item.techniques.includes('mrcp')) t.delete('pancreas');
  return expand([...t], item.modality);
}

export function expand(targets: SigTarget[], modality: ModalityGroup): SigTarget[] {
  if (modality !== 'CT' && modality !== 'MR') return targets;
  return [...new Set(targets.flatMap((t): readonly SigTarget[] => PARTS[t as TargetKey] ?? [t]))];
}

/** 胸部左侧位 / 右侧位: the schema records 'lateral'; the side is in the name, read with the same lexicon. */
function namedLateralSide(item: CatalogItem): 'left' | 'right' | undefined {
  for (const k of scan(normalizeText(item.nameZh))) {
    if (k.meaning.kind === 'view' && k.meaning.views.includes('lateral_left')) return 'left';
    if (k.meaning.kind === 'view' && k.meaning.views.includes('lateral_right')) return 'right';
  }
  return undefined;
}

// —— study ——

const SIDE_ATOMS: Record<RegionSig['side'], AtomSide[]> = { none: ['-'], left: ['L'], right: ['R'], bilateral: ['L', 'R'], unknown: ['?'] };
const viewSide = { left: 'L', right: 'R' } as const;

export function studyAtoms(sig: ExamSignature): Atom[] {
  const modality = sig.modality as ModalityGroup;
  return sig.regions.flatMap((r, region) =>
    expand([r.target], modality).flatMap((part) => {
      const sided = SIDED.has(part as TargetKey);
      const sides = sided ? SIDE_ATOMS[r.side] : (['-'] as AtomSide[]);
      const atom = (side: AtomSide, view: string): Atom => ({ key: `${r.component}|${part}|${side}|${view}`, region, component: r.component, part, side });
      if (!r.views) return sides.map((s) => atom(s, '-'));
      if (r.views.pairs && sided && r.side !== 'unknown') return r.views.pairs.map((p) => atom(viewSide[p.side], p.atom));
      const views = r.views.atoms.size ? [...r.views.atoms] : ['?'];
      return sides.flatMap((s) => views.map((v) => atom(s, v)));
    }),
  );
}

/** The atom keys an item consists of, against this study (an unstated side takes the study's sides). */
export function itemKeys(shape: ItemShape, atoms: Atom[]): string[] | undefined {
  const keys: string[] = [];
  for (const part of shape.parts) {
    const sides = shape.sides.includes('*')
      ? [...new Set(atoms.filter((a) => a.part === part && a.component === shape.component).map((a) => a.side))]
      : (shape.sides as AtomSide[]);
    if (!sides.length) return undefined;
    for (const side of sides) for (const view of shape.views) keys.push(`${shape.component}|${part}|${side}|${view}`);
  }
  return keys;
}

// —— attribute checks ——

export interface Checked {
  check: Check;
  /** Attributes that were not 'ok', for reasons and runners-up. */
  notes: string[];
}

const worst = (a: Check, b: Check): Check => {
  const rank = { ok: 0, exceeds: 1, unknown: 2, fail: 3 };
  return rank[a] >= rank[b] ? a : b;
};

/** Every attribute of an item against one region of the study. */
export function checkRegion(shape: ItemShape, r: RegionSig): Checked {
  const out: Checked = { check: 'ok', notes: [] };
  const note = (check: Check, why: string) => {
    if (check === 'ok') return;
    out.check = worst(out.check, check);
    out.notes.push(why);
  };
  note(checkContrast(shape.item.contrast, r.contrast), `contrast: item ${shape.item.contrast}, study ${r.contrast}`);
  for (const t of shape.required) {
    const have = r.techniques.has(t) || (t === 'mra' && (r.techniques.has('mra_tof') || r.techniques.has('mra_contrast')));
    if (have) continue;
    if (t === 'mra_tof' && r.techniques.has('mra')) note('unknown', 'technique: MRA method not stated (item: TOF)');
    else if (REFINEMENT.has(t) && !r.techniquesKnown) note('unknown', `technique: ${t} not stated`);
    else note('fail', `technique: item needs ${t}`);
  }
  for (const t of r.techniques) if (EXCEEDS_IF_EXTRA.has(t) && !shape.item.techniques.includes(t)) note('exceeds', `technique: study is ${t}, item is not`);
  if (r.views) {
    const v = r.views;
    if (shape.pa) {
      const conventional = PA_BY_CONVENTION.has(r.target as TargetKey) && r.infant !== true;
      note(
        v.direction.has('pa')
          ? 'ok'
          : v.direction.has('ap') && !v.direction.has('frontal')
            ? 'fail'
            : conventional && v.direction.has('frontal')
              ? 'ok'
              : 'unknown',
        'view: item is posteroanterior',
      );
    }
    if (shape.lateralSide)
      note(v.lateralSides.has(shape.lateralSide) ? 'ok' : v.lateralSides.size ? 'fail' : 'unknown', `view: item is the ${shape.lateralSide} lateral`);
    if (shape.postures.size) {
      const stated = [...v.postures];
      // A chest film taken PA (stated, or 正位 by convention) is an erect film.
      const erectChest =
        PA_BY_CONVENTION.has(r.target as TargetKey) && r.infant !== true && (v.direction.has('pa') || (v.direction.has('frontal') && !v.direction.has('ap')));
      const ok = stated.some((p) => shape.postures.has(p)) || (!stated.length && erectChest && shape.postures.has('standing'));
      note(ok ? 'ok' : stated.length ? 'fail' : 'unknown', `view: item is ${[...shape.postures].join('/')}`);
    }
  }
  const group = shape.item.patientGroup;
  if (group === 'infant') note(r.infant === true ? 'ok' : r.infant === false ? 'fail' : 'unknown', 'patient: item is for infants');
  if (group === 'bone_age') note(r.boneAge ? 'ok' : 'fail', 'item is a bone-age film');
  return out;
}

/**
 * plain ↔ plain; contrast items take any enhanced study; 浙江's plain_and_contrast needs both
 * phases shown (增强 alone: unknown). A plain study never satisfies a contrast item; an enhanced
 * study against a plain-only item is for a reviewer (exceeds).
 */
export function checkContrast(item: CatalogItem['contrast'], study: RegionSig['contrast']): Check {
  if (item === 'none') return 'ok';
  if (study === 'unknown') return 'unknown';
  if (item === 'plain') return study === 'plain' ? 'ok' : 'exceeds';
  if (study === 'plain') return 'fail';
  if (item === 'contrast') return 'ok';
  return study === 'plain_and_contrast' ? 'ok' : 'unknown';
}

// —— cover ——

export interface Candidate {
  shape: ItemShape;
  keys: string[];
  regions: number[];
}

/** Items whose atoms are all in the study and whose attributes all check 'ok'. */
export function candidates(sig: ExamSignature, catalog: Catalog, atoms: Atom[]): Candidate[] {
  const byKey = new Map(atoms.map((a) => [a.key, a]));
  const out: Candidate[] = [];
  for (const shape of itemShapes(catalog)) {
    if (shape.item.modality !== sig.modality) continue;
    const keys = itemKeys(shape, atoms);
    if (!keys || !keys.every((k) => byKey.has(k))) continue;
    const regions = [...new Set(keys.map((k) => (byKey.get(k) as Atom).region))];
    if (regions.every((i) => checkRegion(shape, sig.regions[i]).check === 'ok')) out.push({ shape, keys: [...new Set(keys)], regions });
  }
  return dropSubsumed(out);
}

/**
 * Of two candidates over the same atoms, the one that states more wins: a side over an unstated
 * side, more required techniques (含DWI), more projections or a posture, a patient group.
 */
function dropSubsumed(list: Candidate[]): Candidate[] {
  const covers = (a: ItemShape, b: ItemShape) =>
    (b.sides.includes('*') || !a.sides.includes('*')) &&
    [...b.required].every((t) => a.required.has(t)) &&
    b.item.views.every((v) => a.item.views.includes(v)) &&
    (!b.lateralSide || a.lateralSide === b.lateralSide) &&
    (!b.item.patientGroup || a.item.patientGroup === b.item.patientGroup);
  return list.filter((b) => !list.some((a) => a !== b && sameList(a.keys, b.keys) && covers(a.shape, b.shape) && !covers(b.shape, a.shape)));
}

/** All best covers: most atoms covered, then fewest items; atoms never covered twice. */
export function bestCovers(cands: Candidate[], atoms: Atom[]): Candidate[][] {
  const keys = [...new Set(atoms.map((a) => a.key))];
  let best: Candidate[][] = [];
  let bestScore = [-1, 0];
  let budget = 50000; // the search is tiny in practice; the budget only guards against a pathological study
  const visit = (i: number, used: Set<string>, chosen: Candidate[]) => {
    if (--budget < 0) return;
    if (i === keys.length) {
      const score = [used.size, -chosen.length];
      if (score[0] > bestScore[0] || (score[0] === bestScore[0] && score[1] > bestScore[1])) {
        bestScore = score;
        best = [chosen];
      } else if (score[0] === bestScore[0] && score[1] === bestScore[1]) best.push(chosen);
      return;
    }
    if (used.has(keys[i])) return visit(i + 1, used, chosen);
    for (const c of cands) {
      if (!c.keys.includes(keys[i]) || c.keys.some((k) => used.has(k))) continue;
      visit(i + 1, new Set([...used, ...c.keys]), [...chosen, c]);
    }
    visit(i + 1, used, chosen);
  };
  visit(0, new Set(), []);
  return best;
}

// —— what is left ——

export interface Assessed {
  shape: ItemShape;
  check: Check;
  notes: string[];
}

/**
 * An item against some atoms of one region, including what candidates() takes for granted: the
 * item's parts are in the study, its sides and projections are the study's. Used for review
 * candidates and runners-up.
 */
export function assess(shape: ItemShape, sig: ExamSignature, atoms: Atom[], own: Atom[], related = false): Assessed {
  const r = sig.regions[own[0].region];
  const c = checkRegion(shape, r);
  let check = c.check;
  const notes = [...c.notes];
  const flag = (x: Check, why: string) => {
    check = worst(check, x);
    notes.push(why);
  };
  if (related) flag('unknown', 'related body part');
  else if (!shape.parts.every((p) => atoms.some((a) => a.part === p))) flag('fail', 'item covers more than the study');
  // Sides compare only between sided structures (a related unpaired item has no side to differ in).
  const sides = new Set(own.map((a) => a.side));
  const unpaired = shape.sides.includes('-') || sides.has('-');
  if (unpaired) {
    // nothing to compare
  } else if (sides.has('?') && !shape.sides.includes('*')) flag('unknown', 'side not stated');
  else if (!shape.sides.includes('*') && !shape.sides.every((s) => sides.has(s as AtomSide))) flag('fail', 'side differs');
  if (r.views && shape.views[0] !== '-') {
    const have = new Set(own.map((a) => a.key.split('|')[3]));
    const missing = shape.views.filter((v) => !have.has(v));
    if (have.has('?') || (missing.length && !r.views.complete)) flag('unknown', 'projections not stated');
    else if (missing.length) flag('fail', `projection missing: ${missing.join(', ')}`);
  }
  return { shape, check, notes };
}

/**
 * Items a reviewer could consider for atoms no candidate covers: items of the same target whose
 * only problems are unknown or exceeding attributes; when the catalog has no item of that target
 * at all, items of related targets (肝脏 → 上腹部). Items that fail are not offered.
 */
export function nearItems(sig: ExamSignature, catalog: Catalog, atoms: Atom[], own: Atom[]): { same: Assessed[]; sameTargetExists: boolean } {
  const r = sig.regions[own[0].region];
  const parts = new Set(own.map((a) => a.part));
  const shapes = itemShapes(catalog).filter((s) => s.item.modality === sig.modality && s.component === r.component);
  const same = shapes.filter((s) => s.parts.some((p) => parts.has(p)));
  if (same.length) return { same: same.map((s) => assess(s, sig, atoms, own)).filter((n) => n.check !== 'fail'), sameTargetExists: true };
  const relatedTargets = new Set([...parts].flatMap((p) => RELATED[p] ?? []).flatMap((t) => expand([t as SigTarget], sig.modality as ModalityGroup)));
  const related = shapes.filter((s) => s.parts.every((p) => relatedTargets.has(p))).map((s) => assess(s, sig, atoms, own, true));
  return { same: related.filter((n) => n.check !== 'fail'), sameTargetExists: false };
}
