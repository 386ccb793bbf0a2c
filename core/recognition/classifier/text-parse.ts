import type { TargetKey } from '../../../catalogs/targets';
import type { SourcedText } from '../evidence';
import { scan, type Token } from './scan';
import type { EvidenceRef, ModalityGroup, RegionTarget, Side, Technique, ViewWord } from './types';
import { ARTERY_OF, VASCULAR, VEIN_OF, type RegionMeaning } from './vocabulary-anatomy';

/**
 * One text (a study description, a procedure code meaning, a series description) → the regions it
 * names, each with the side, projections, contrast words and techniques that belong to it.
 *
 * Grammar, kept small on purpose:
 * - separators (+ , ; 及 AND ( ) …) cut the text into segments;
 * - words in a segment belong to the body parts of that segment; a segment without a body part
 *   ('+增强', '+DWI', '(左)') belongs to the body parts of the segment before it;
 * - a body part with no words of its own ('胸部+上腹部CT平扫': 胸部) takes the words of the whole text;
 * - Chinese side words bind to the following body part (左膝); English ones to the adjacent body
 *   part, the preceding one first (KNEE RT, RT KNEE); a single letter (L, R) only when adjacent;
 * - angiography / venography (CTA, MRA, TOF, CTV, MRV), SWI, perfusion and spectroscopy, and
 *   techniques that name a region of their own (MRCP, CTU, CTPA), make regions of their own; the
 *   body part is also examined routinely when its own segment says so ('头颅CT平扫+CTA': brain and
 *   arteries; '头颅CTA': arteries only).
 */

export type Component = 'routine' | 'swi' | 'perfusion' | 'mrs';
/** A region's target once resolved: catalog targets plus 头颈部 as a region of its own. */
export type SigTarget = TargetKey | 'head_and_neck';

export interface Draft {
  component: Component;
  target: SigTarget;
  /** Targets named by one word (骨龄 → hand + wrist) share projections: see signature.ts. */
  groupKey: string;
  sides: Set<Side>;
  views: Set<ViewWord>;
  /** 平片 and views implied by a term (双下肢全长): used only when no projection is written. */
  defaultViews: Set<ViewWord>;
  contrast: Set<'plain' | 'contrast'>;
  /** Vessel and component regions: contrast follows from the technique (CTA: contrast; TOF: plain). */
  fixedContrast?: 'plain' | 'contrast' | 'follows_study';
  /** The name suggests contrast (multiparametric): the plain default must not apply. */
  contrastPossible?: boolean;
  techniques: Set<Technique>;
  impliedSide?: Side;
  boneAge: boolean;
  refs: EvidenceRef[];
}

export interface ParsedText {
  drafts: Draft[];
  problems: string[];
  notApplicable: EvidenceRef[];
  modalityWords: { modality: ModalityGroup | 'other'; ref: EvidenceRef }[];
  infant: EvidenceRef[];
}

const VESSEL: ReadonlySet<Technique> = new Set(['cta', 'ctv', 'mra', 'mra_tof', 'mra_contrast', 'mrv']);
const VENOUS: ReadonlySet<Technique> = new Set(['ctv', 'mrv']);
export const COMPONENT_OF: Partial<Record<Technique, Component>> = { swi: 'swi', mr_perfusion: 'perfusion', ct_perfusion: 'perfusion', mrs: 'mrs' };
/** Techniques that put contrast medium in the region they are applied to. */
const CONTRAST_TECHNIQUES: ReadonlySet<Technique> = new Set(['cta', 'ctv', 'ctu', 'ct_perfusion', 'mra_contrast', 'dynamic', 'dual_phase', 'multi_phase']);
/** Non-contrast by nature (hydrography, TOF, SWI …). */
const PLAIN_TECHNIQUES: ReadonlySet<Technique> = new Set(['mra', 'mra_tof', 'mrv', 'mrcp', 'mru', 'swi', 'mrs', 'coronary_calcium']);

export const sameSet = <T>(a: ReadonlySet<T>, b: ReadonlySet<T>) => a.size === b.size && [...a].every((x) => b.has(x));
const isAscii = (s: string) => /^[\x20-\x7e]+$/.test(s);

/** ct_* techniques exist on CT only, mr_* on MR only (灌注 lists both). */
function forModality(t: Technique, modality: ModalityGroup): boolean {
  if (t.startsWith('ct')) return modality === 'CT';
  if (t.startsWith('mr')) return modality === 'MR';
  return true;
}

export function parseText(src: SourcedText, modality: ModalityGroup): ParsedText {
  const tokens = scan(src.text);
  const ref = (t: Token, used_for: EvidenceRef['used_for']): EvidenceRef => ({ tag: src.tag, value: src.value, used_for, term: t.term });
  const out: ParsedText = { drafts: [], problems: [], notApplicable: [], modalityWords: [], infant: [] };

  for (const t of tokens) {
    const m = t.meaning;
    if (m.kind === 'not_applicable') out.notApplicable.push(ref(t, 'not_applicable'));
    if (m.kind === 'contrast_study' && (modality === 'DR' || modality === 'MG')) out.notApplicable.push(ref(t, 'not_applicable'));
    if (m.kind === 'modality') out.modalityWords.push({ modality: m.modality, ref: ref(t, 'modality') });
    if (m.kind === 'group') out.infant.push(ref(t, 'patient_group'));
  }

  const segments: Token[][] = [[]];
  for (const t of tokens) {
    if (t.meaning.kind === 'separator') segments.push([]);
    else segments[segments.length - 1].push(t);
  }
  const isRegion = (t: Token) => t.meaning.kind === 'region';
  const regionSegments = segments.flatMap((s, i) => (s.some(isRegion) ? [i] : []));
  const hasPelvicCavity = tokens.some((t) => t.meaning.kind === 'region' && resolve(t.meaning, modality).includes('pelvic_cavity'));

  if (regionSegments.length === 0) {
    // A technique that names its region (MRCP, CTU, CTPA, HRCT …) is enough on its own.
    for (const t of tokens) {
      if (t.meaning.kind !== 'technique' || !t.meaning.target) continue;
      const target = t.meaning.target as SigTarget;
      out.drafts.push(...regionDrafts(target, [], tokens, tokens, modality, src, ref(t, 'target'), out.problems, target));
    }
    return out;
  }

  // Region-less segments belong to the preceding region segment (the first one for leading segments).
  const attached = new Map<number, Token[]>();
  segments.forEach((s, i) => {
    if (s.some(isRegion)) return;
    const owner = [...regionSegments].reverse().find((r) => r < i) ?? regionSegments[0];
    attached.set(owner, [...(attached.get(owner) ?? []), ...s]);
  });

  for (const i of regionSegments) {
    const own = segments[i];
    const extra = attached.get(i) ?? [];
    const sidesOf = bindSides(own);
    const lastRegion = own.filter(isRegion).pop();
    own.forEach((t, j) => {
      if (t.meaning.kind !== 'region') return;
      const local = [...own.filter((k) => !isRegion(k)), ...extra];
      const bare = !local.some((k) => ['contrast', 'technique', 'angiography', 'contrast_study', 'view'].includes(k.meaning.kind));
      const scope = bare ? tokens.filter((k) => !isRegion(k)) : local;
      // A special technique written with the body part ('头颅CTA') replaces the routine exam; one in a
      // following segment ('头颅CT平扫+CTA') is an addition. A bare body part inherits from the text.
      const ownScope = bare ? tokens : own;
      const sides = [...(sidesOf.get(j) ?? []), ...(t === lastRegion ? extra.filter((k) => k.meaning.kind === 'side') : [])];
      for (const target of resolve(t.meaning, modality, hasPelvicCavity)) {
        const drafts = regionDrafts(
          target,
          sides,
          scope,
          ownScope,
          modality,
          src,
          ref(t, 'target'),
          out.problems,
          termKey(t.meaning, modality, hasPelvicCavity),
        );
        for (const d of drafts) {
          if (t.meaning.side) d.impliedSide = t.meaning.side;
          if (t.meaning.boneAge) d.boneAge = true;
          for (const v of t.meaning.views ?? []) d.defaultViews.add(v);
        }
        out.drafts.push(...drafts);
      }
    });
  }
  return out;
}

function resolve(m: RegionMeaning, modality: ModalityGroup, hasPelvicCavity = false): SigTarget[] {
  return (m.byModality?.[modality] ?? m.targets).map((t: RegionTarget): SigTarget => {
    if (t !== 'abdomen_unqualified') return t;
    // 腹部 alone: the abdominal film on DR; on CT/MR the upper abdomen every abdominal scan covers,
    // or the whole abdomen when the pelvis is named too (腹部+盆腔).
    if (modality === 'DR' || modality === 'MG') return 'abdomen';
    return hasPelvicCavity ? 'abdomen' : 'upper_abdomen';
  });
}
const termKey = (m: RegionMeaning, modality: ModalityGroup, pelvic: boolean) => resolve(m, modality, pelvic).join('+');

/** Side tokens of a segment → the index of the body part each belongs to (rules in the header). */
function bindSides(seg: Token[]): Map<number, Token[]> {
  const bound = new Map<number, Token[]>();
  const regionAt = (i: number) => i >= 0 && i < seg.length && seg[i].meaning.kind === 'region';
  const skip = (i: number, step: number) => {
    while (i >= 0 && i < seg.length && (seg[i].meaning.kind === 'modality' || seg[i].meaning.kind === 'noise')) i += step;
    return i;
  };
  seg.forEach((t, i) => {
    if (t.meaning.kind !== 'side') return;
    const prev = skip(i - 1, -1);
    const next = skip(i + 1, 1);
    let owner: number | undefined;
    if (t.meaning.weak || isAscii(t.term)) {
      owner = regionAt(prev) ? prev : regionAt(next) ? next : undefined;
      if (owner === undefined && !t.meaning.weak) owner = nearestRegion(seg, i, -1) ?? nearestRegion(seg, i, 1);
    } else {
      owner = nearestRegion(seg, i, 1) ?? nearestRegion(seg, i, -1);
    }
    if (owner !== undefined) bound.set(owner, [...(bound.get(owner) ?? []), t]);
  });
  return bound;
}

function nearestRegion(seg: Token[], from: number, step: number): number | undefined {
  for (let i = from + step; i >= 0 && i < seg.length; i += step) if (seg[i].meaning.kind === 'region') return i;
  return undefined;
}

/** The regions one body-part word yields: routine, vessel, component and technique-named regions. */
function regionDrafts(
  target: SigTarget,
  sides: Token[],
  scope: Token[],
  ownScope: Token[],
  modality: ModalityGroup,
  src: SourcedText,
  targetRef: EvidenceRef,
  problems: string[],
  groupKey: string,
): Draft[] {
  const ref = (t: Token, used_for: EvidenceRef['used_for']): EvidenceRef => ({ tag: src.tag, value: src.value, used_for, term: t.term });
  const base = (): Draft => ({
    component: 'routine',
    target,
    groupKey,
    sides: new Set(sides.flatMap((s) => (s.meaning.kind === 'side' ? [s.meaning.side] : []))),
    views: new Set(),
    defaultViews: new Set(),
    contrast: new Set(),
    techniques: new Set(),
    boneAge: false,
    refs: [targetRef, ...sides.map((s) => ref(s, 'laterality'))],
  });

  const techniques = new Set<Technique>();
  const named: { technique: Technique; target: SigTarget; token: Token }[] = [];
  let nonContrastPerfusion = false;
  const routine = base();
  const drafts: Draft[] = [];
  for (const t of scope) {
    const m = t.meaning;
    if (m.kind === 'view') {
      for (const v of m.views) (m.fallback ? routine.defaultViews : routine.views).add(v);
      routine.refs.push(ref(t, 'view'));
    } else if (m.kind === 'contrast' && !m.phase) {
      if (m.contrast !== 'contrast') routine.contrast.add('plain');
      if (m.contrast !== 'plain') routine.contrast.add('contrast');
      routine.refs.push(ref(t, 'contrast'));
    } else if (m.kind === 'contrast_possible') {
      routine.contrastPossible = true;
      routine.refs.push(ref(t, 'contrast'));
    } else if (m.kind === 'contrast_study') {
      routine.contrast.add('contrast');
      routine.refs.push(ref(t, 'contrast'));
    } else if (m.kind === 'angiography') {
      techniques.add(modality === 'MR' ? 'mra' : 'cta');
      routine.refs.push(ref(t, 'technique'));
    } else if (m.kind === 'technique') {
      const own = m.techniques.filter((x) => forModality(x, modality));
      if (!own.length) continue;
      if (m.nonContrast) nonContrastPerfusion = true;
      if (m.target && m.target !== target) named.push(...own.map((technique) => ({ technique, target: m.target as SigTarget, token: t })));
      else own.forEach((x) => techniques.add(x));
      routine.refs.push(ref(t, 'technique'));
    }
  }
  const has = (set: ReadonlySet<Technique>) => [...techniques].filter((t) => set.has(t));
  const vessel = has(VESSEL);
  const components = [...techniques].filter((t) => COMPONENT_OF[t]);
  const isSpecial = (k: Token) =>
    k.meaning.kind === 'angiography' ||
    (k.meaning.kind === 'technique' &&
      k.meaning.techniques.some(
        (x) => VESSEL.has(x) || COMPONENT_OF[x] || (k.meaning.kind === 'technique' && k.meaning.target && k.meaning.target !== target),
      ));
  const ownSpecial = ownScope.some(isSpecial);
  const ownPlain = ownScope.some((k) => k.meaning.kind === 'contrast' && !k.meaning.phase && k.meaning.contrast !== 'contrast');
  const ownContrast = ownScope.some((k) => k.meaning.kind === 'contrast' && !k.meaning.phase && k.meaning.contrast !== 'plain');
  const isVascular = VASCULAR.has(target as TargetKey);

  // A named vessel on CT with a contrast word is a CT angiography (肺动脉CT增强); a calcium score is
  // a plain scan of its own; otherwise the vessel's technique is unknown.
  if (isVascular && vessel.length === 0) {
    if (modality === 'CT' && routine.contrast.has('contrast')) vessel.push('cta');
    else if (techniques.size) drafts.push(special(base(), target, [...techniques], fixedContrast([...techniques]), routine.refs));
    else if (!named.length) problems.push(`${src.tag}: '${src.value}' names a vessel without an angiography technique`);
  }
  const hasSpecial = vessel.length > 0 || components.length > 0 || named.length > 0;
  if (!isVascular && (!hasSpecial || !ownSpecial || ownPlain || (modality === 'MR' && ownContrast))) {
    for (const t of techniques) if (!VESSEL.has(t) && !COMPONENT_OF[t]) routine.techniques.add(t);
    for (const t of routine.techniques) if (CONTRAST_TECHNIQUES.has(t)) routine.contrast.add('contrast');
    drafts.push(routine);
  }
  // A technique naming its vessel (CTA CHEST PE PROTOCOL → pulmonary arteries) tells which vessels.
  const namedVessel = named.some((n) => VASCULAR.has(n.target as TargetKey));
  if (vessel.length && !namedVessel) {
    const venous = vessel.some((t) => VENOUS.has(t));
    const vesselTarget = isVascular ? (target as TargetKey) : (venous ? VEIN_OF : ARTERY_OF)[target];
    if (!vesselTarget) problems.push(`${src.tag}: '${src.value}': angiography of ${target} — which vessels is not stated`);
    else drafts.push(special(base(), vesselTarget, vessel, fixedContrast(vessel), routine.refs));
  }
  for (const t of components) {
    const contrast = t === 'mr_perfusion' ? (nonContrastPerfusion ? 'plain' : 'follows_study') : fixedContrast([t]);
    drafts.push({ ...special(base(), target, [t], contrast, routine.refs), component: COMPONENT_OF[t] as Component });
  }
  for (const n of named) {
    const techs: Technique[] =
      n.technique === 'coronary_calcium' ? [n.technique] : [n.technique, ...(VASCULAR.has(n.target as TargetKey) ? (['cta'] as Technique[]) : [])];
    drafts.push(special(base(), n.target, [...new Set(techs)], fixedContrast(techs), [...routine.refs, ref(n.token, 'target')]));
  }
  return drafts;
}

function special(d: Draft, target: SigTarget, techniques: Technique[], contrast: Draft['fixedContrast'], refs: EvidenceRef[]): Draft {
  return { ...d, target, groupKey: target, techniques: new Set(techniques), fixedContrast: contrast, refs: [...refs] };
}

function fixedContrast(techniques: Technique[]): Draft['fixedContrast'] {
  if (techniques.some((t) => CONTRAST_TECHNIQUES.has(t))) return 'contrast';
  if (techniques.every((t) => PLAIN_TECHNIQUES.has(t))) return 'plain';
  return undefined;
}
