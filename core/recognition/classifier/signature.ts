import type { TargetKey } from '../../../catalogs/targets';
import { modalityGroup, type SeriesEvidence, type SourcedText, type StudyEvidence } from '../evidence';
import { regionContrast, studyContrast } from './contrast';
import { scan } from './scan';
import { parseText, sameSet, type Component, type Draft, type SigTarget } from './text-parse';
import type { ContrastState, EvidenceRef, ModalityGroup, Side, Technique } from './types';
import { viewRefs, viewSig, type ViewSig } from './views';
import { ARTERY_OF, SIDED, TOGETHER, VEIN_OF } from './vocabulary-anatomy';

export type { ViewAtom, ViewSig } from './views';

/**
 * The exam signature: what was examined, as structured attributes, from a study's evidence —
 * modality, and per region the target, side, contrast, techniques and (DR/MG) projections. The
 * classifier matches catalog items against this, never against the text itself.
 */

export interface RegionSig {
  target: SigTarget;
  component: Component;
  /** 'none' for unpaired targets; 'unknown' for a paired target nothing gives a side for. */
  side: Side | 'none' | 'unknown';
  contrast: ContrastState;
  /** No contrast word, agent or phase anywhere: taken as plain (see docs/classifier.md). */
  contrastDefaulted: boolean;
  techniques: Set<Technique>;
  /** The MR/CT series list is known, so a technique missing from it was not done. */
  techniquesKnown: boolean;
  views?: ViewSig;
  /** Patient under 3 (婴幼儿); undefined when the age is unknown. */
  infant?: boolean;
  boneAge: boolean;
  groupKey: string;
  evidence: EvidenceRef[];
}

export interface ExamSignature {
  modality?: ModalityGroup;
  notApplicable: EvidenceRef[];
  regions: RegionSig[];
  /** Reasons the evidence cannot be trusted as a whole (conflicts): the study needs review. */
  problems: string[];
  textOnly: boolean;
  regionsFromSeries: boolean;
  evidence: EvidenceRef[];
}

export function examSignature(ev: StudyEvidence): ExamSignature {
  const sig: ExamSignature = { notApplicable: [], regions: [], problems: [], textOnly: ev.textOnly, regionsFromSeries: false, evidence: [] };
  const modality = primaryModality(ev, sig);
  if (!modality) return sig;
  sig.modality = modality;

  // Mammograms sent as DX (a general DR used for 钼靶) are the study's acquisitions too.
  const acquisitions = ev.series.filter((s) => (s.group === modality || (modality === 'MG' && s.group === 'DR')) && !s.localizer);
  const studyParses = ev.texts.map((t) => ({ src: t, parsed: parseText(t, modality) }));
  const seriesParses = acquisitions.map((s) => ({ series: s, parsed: s.texts.map((t) => parseText(t, modality)) }));
  for (const p of [...studyParses.map((x) => x.parsed), ...seriesParses.flatMap((x) => x.parsed)]) sig.notApplicable.push(...p.notApplicable);
  for (const p of studyParses) sig.problems.push(...p.parsed.problems);
  for (const { parsed } of studyParses) {
    for (const w of parsed.modalityWords) {
      const agrees = w.modality === modality || (modality === 'MG' && w.modality === 'DR');
      if (!agrees && w.modality !== 'other') sig.problems.push(`${w.ref.tag} '${w.ref.value}' says ${w.modality}, the images are ${modality}`);
    }
  }

  let regions = mergeSources(
    studyParses.map((p) => p.parsed.drafts).filter((d) => d.length > 0),
    sig,
  );
  if (regions.size === 0) {
    regions = mergeSources([seriesParses.flatMap((p) => p.parsed.flatMap((x) => x.drafts))], sig);
    sig.regionsFromSeries = regions.size > 0;
    if (sig.regionsFromSeries) for (const p of seriesParses) sig.problems.push(...p.parsed.flatMap((x) => x.problems));
  }
  // Mammography examines breasts: 'MAMMO SCREENING BILAT' needs no body-part word.
  if (regions.size === 0 && modality === 'MG') regions.set(keyOf({ component: 'routine', target: 'breast' }), breastDraft(studyParses.map((p) => p.src)));
  if (regions.size === 0) {
    sig.problems.push('no examined body part recognised');
    return sig;
  }

  addSeriesTechniques(regions, acquisitions, modality);
  const infantWords = studyParses.flatMap((p) => p.parsed.infant);
  const infant = infantWords.length ? true : ev.ageYears === undefined ? undefined : ev.ageYears < 3;
  if (infantWords.length) sig.evidence.push(...infantWords);
  if (ev.age) sig.evidence.push({ tag: ev.age.tag, value: ev.age.value, used_for: 'patient_group' });

  const seriesTargets = new Map(seriesParses.map((p) => [p.series.index, new Set(p.parsed.flatMap((x) => x.drafts.map((d) => d.target)))]));
  const routine = [...regions.values()].filter((r) => r.component === 'routine');
  const groups = new Set(routine.map((r) => r.groupKey));
  const contrast = studyContrast(ev, acquisitions, modality);

  sig.regions = [...regions.values()].map((d): RegionSig => {
    const side = regionSide(d, ev, acquisitions, groups.size === 1, sig);
    const views = modality === 'DR' || modality === 'MG' ? viewSig(d, acquisitions, seriesTargets, groups.size === 1, ev.textOnly, sig.problems) : undefined;
    const c = regionContrast(d, contrast, routine, sig.problems);
    return {
      target: d.target,
      component: d.component,
      side: side.side,
      contrast: c.state,
      contrastDefaulted: c.defaulted,
      techniques: d.techniques,
      techniquesKnown: acquisitions.length > 0 && acquisitions.every((s) => s.texts.some((t) => t.tag === 'SeriesDescription')),
      views,
      infant,
      boneAge: d.boneAge,
      groupKey: d.groupKey,
      evidence: [...d.refs, ...side.refs, ...c.refs, ...(views ? viewRefs(acquisitions) : [])],
    };
  });
  return sig;
}

function breastDraft(texts: SourcedText[]): Draft {
  const sides = texts.flatMap((t) =>
    scan(t.text).flatMap((k) =>
      k.meaning.kind === 'side' && !k.meaning.weak
        ? [{ side: k.meaning.side, ref: { tag: t.tag, value: t.value, used_for: 'laterality' as const, term: k.term } }]
        : [],
    ),
  );
  return {
    component: 'routine',
    target: 'breast',
    groupKey: 'breast',
    sides: new Set(sides.map((s) => s.side)),
    views: new Set(texts.flatMap((t) => scan(t.text).flatMap((k) => (k.meaning.kind === 'view' ? k.meaning.views : [])))),
    defaultViews: new Set(),
    contrast: new Set(),
    techniques: new Set(),
    boneAge: false,
    refs: [{ tag: 'Modality', value: 'MG', used_for: 'target' }, ...sides.map((s) => s.ref)],
  };
}

/** DR/MG/CT/MR from the series (or the study record); 'other' modalities (US, PT, XA …) are not applicable. */
function primaryModality(ev: StudyEvidence, sig: ExamSignature): ModalityGroup | undefined {
  const groups = new Set<ModalityGroup>();
  for (const m of ev.modalities) {
    const series = ev.series.find((s) => s.modality === m);
    const group = series?.group ?? modalityGroup(m);
    if (group === 'other') sig.notApplicable.push({ tag: 'Modality', value: m, used_for: 'not_applicable' });
    else if (group !== 'auxiliary') {
      groups.add(group);
      sig.evidence.push({ tag: 'Modality', value: m, used_for: 'modality' });
    }
  }
  // Mammography sent as DX (乳腺钼靶 on a general DR) is still mammography.
  if (groups.has('DR') && !groups.has('MG') && ev.texts.some((t) => scan(t.text).some((k) => k.meaning.kind === 'modality' && k.meaning.modality === 'MG'))) {
    groups.delete('DR');
    groups.add('MG');
  }
  if (groups.size === 0) {
    // Modality missing or OT: the description may still say what the study is ('腹部B超' …).
    for (const t of ev.texts)
      for (const k of scan(t.text))
        if (k.meaning.kind === 'not_applicable') sig.notApplicable.push({ tag: t.tag, value: t.value, used_for: 'not_applicable', term: k.term });
    // A description naming exactly one modality decides.
    const words = new Set(
      ev.texts.flatMap((t) => scan(t.text).flatMap((k) => (k.meaning.kind === 'modality' && k.meaning.modality !== 'other' ? [k.meaning.modality] : []))),
    );
    if (words.size === 1 && sig.notApplicable.length === 0) {
      const [m] = words;
      sig.evidence.push({ tag: 'StudyDescription', value: ev.texts[0]?.value ?? '', used_for: 'modality' });
      return m;
    }
    if (sig.notApplicable.length === 0) sig.problems.push('no DR, MG, CT or MR images');
    return undefined;
  }
  if (groups.size > 1) {
    sig.problems.push(`several modalities in one study: ${[...groups].join(', ')}`);
    return undefined;
  }
  return [...groups][0];
}

const keyOf = (d: Pick<Draft, 'component' | 'target'>) => `${d.component}|${d.target}`;

/**
 * Regions named by several study-level sources (description, requested procedure, code meaning).
 * Within one source, the same body part on both sides is both sides (左膝+右膝); across sources,
 * a different side, disjoint body parts or 平扫 against 增强 are conflicts for a reviewer.
 * Projections are those every source that states projections agrees on.
 */
function mergeSources(sources: Draft[][], sig: ExamSignature): Map<string, Draft> {
  const merged = new Map<string, Draft>();
  const perSource = sources.map((drafts) => {
    const map = new Map<string, Draft>();
    for (const d of drafts) {
      const prev = map.get(keyOf(d));
      map.set(keyOf(d), prev ? combine(prev, d, true) : clone(d));
    }
    return map;
  });
  const targetSets = perSource.map((m) => new Set([...m.values()].map((d) => d.target)));
  for (let i = 0; i < targetSets.length; i++) {
    for (let j = i + 1; j < targetSets.length; j++) {
      const [a, b] = [targetSets[i], targetSets[j]];
      if (![...a].every((t) => b.has(t)) && ![...b].every((t) => a.has(t))) sig.problems.push('the study descriptions name different body parts');
    }
  }
  for (const map of perSource) {
    for (const [key, d] of map) {
      const prev = merged.get(key);
      if (!prev) {
        merged.set(key, d);
        continue;
      }
      if (prev.sides.size && d.sides.size && !sameSet(prev.sides, d.sides)) sig.problems.push(`the descriptions give different sides for ${d.target}`);
      const onlyPlain = (x: Draft) => x.contrast.size === 1 && x.contrast.has('plain');
      const onlyContrast = (x: Draft) => x.contrast.size === 1 && x.contrast.has('contrast');
      if ((onlyPlain(prev) && onlyContrast(d)) || (onlyContrast(prev) && onlyPlain(d)))
        sig.problems.push(`the descriptions disagree on contrast for ${d.target}`);
      merged.set(key, combine(prev, d, false));
    }
  }
  return merged;
}

const clone = (d: Draft): Draft => ({
  ...d,
  sides: new Set(d.sides),
  views: new Set(d.views),
  defaultViews: new Set(d.defaultViews),
  contrast: new Set(d.contrast),
  techniques: new Set(d.techniques),
  refs: [...d.refs],
});

/** sameSource: union everything; across sources: projections stated by both are intersected. */
function combine(a: Draft, b: Draft, sameSource: boolean): Draft {
  const views =
    sameSource || a.views.size === 0 ? new Set([...a.views, ...b.views]) : b.views.size === 0 ? a.views : new Set([...a.views].filter((v) => b.views.has(v)));
  return {
    ...a,
    sides: new Set([...a.sides, ...b.sides]),
    views,
    defaultViews: new Set([...a.defaultViews, ...b.defaultViews]),
    contrast: new Set([...a.contrast, ...b.contrast]),
    techniques: new Set([...a.techniques, ...b.techniques]),
    fixedContrast: a.fixedContrast ?? b.fixedContrast,
    contrastPossible: a.contrastPossible || b.contrastPossible,
    impliedSide: a.impliedSide ?? b.impliedSide,
    boneAge: a.boneAge || b.boneAge,
    refs: [...a.refs, ...b.refs],
  };
}

/**
 * MR (and CT) series types the descriptions may not mention: DWI refines the routine exam; SWI,
 * perfusion and spectroscopy are components of their own; a TOF/MRV/CE-MRA or CTA series is an
 * angiography of the region; MRCP/MRU series name their own region.
 */
function addSeriesTechniques(regions: Map<string, Draft>, acquisitions: SeriesEvidence[], modality: ModalityGroup) {
  const routine = () => [...regions.values()].filter((d) => d.component === 'routine' && !isVessel(d));
  const ref = (s: SeriesEvidence): EvidenceRef => ({ tag: s.texts[0]?.tag ?? 'SeriesDescription', value: s.texts[0]?.value ?? '', used_for: 'technique' });
  const add = (component: Component, target: SigTarget, technique: Technique, contrast: Draft['fixedContrast'], s: SeriesEvidence) => {
    const key = keyOf({ component, target });
    const prev = regions.get(key);
    if (prev) {
      if (technique === 'mra_tof') prev.techniques.delete('mra'); // the series says which MRA
      prev.techniques.add(technique);
      prev.refs.push(ref(s));
    } else {
      regions.set(key, {
        component,
        target,
        groupKey: target,
        sides: new Set(),
        views: new Set(),
        defaultViews: new Set(),
        contrast: new Set(),
        techniques: new Set([technique]),
        fixedContrast: contrast,
        boneAge: false,
        refs: [ref(s)],
      });
    }
  };
  for (const s of acquisitions) {
    const types = new Set(s.mrTypes);
    const ct =
      modality === 'CT'
        ? new Set(s.texts.flatMap((t) => scan(t.text).flatMap((k) => (k.meaning.kind === 'technique' ? k.meaning.techniques : []))))
        : new Set<Technique>();
    for (const r of routine()) {
      if (types.has('dwi')) {
        r.techniques.add('dwi');
        r.refs.push(ref(s));
      }
      if (types.has('dynamic')) r.techniques.add('dynamic');
      const brain = r.target === 'brain';
      if (brain && types.has('swi')) add('swi', 'brain', 'swi', 'plain', s);
      if (brain && types.has('asl')) add('perfusion', 'brain', 'mr_perfusion', 'plain', s);
      if (brain && types.has('perfusion')) add('perfusion', 'brain', 'mr_perfusion', 'contrast', s);
      if (brain && types.has('mrs')) add('mrs', 'brain', 'mrs', 'plain', s);
      if (brain && ct.has('ct_perfusion')) add('perfusion', 'brain', 'ct_perfusion', 'contrast', s);
      const artery = ARTERY_OF[r.target];
      const vein = VEIN_OF[r.target];
      if (artery && types.has('tof')) add('routine', artery, 'mra_tof', 'plain', s);
      if (artery && types.has('ce_mra')) add('routine', artery, 'mra_contrast', 'contrast', s);
      if (artery && ct.has('cta')) add('routine', artery, 'cta', 'contrast', s);
      if (vein && types.has('mrv')) add('routine', vein, 'mrv', 'plain', s);
    }
    // A TOF series says which MRA an MRA the description leaves unspecified is.
    if (types.has('tof')) for (const r of regions.values()) if (r.techniques.delete('mra')) r.techniques.add('mra_tof');
    if (types.has('mrcp')) add('routine', 'biliary', 'mrcp', 'plain', s);
    if (types.has('mru')) add('routine', 'urinary_tract', 'mru', 'plain', s);
  }
}

const VESSEL_TECHNIQUES: ReadonlySet<Technique> = new Set(['cta', 'ctv', 'mra', 'mra_tof', 'mra_contrast', 'mrv']);
const isVessel = (d: Draft) => [...d.techniques].some((t) => VESSEL_TECHNIQUES.has(t));

const SIDE_OF: Record<'L' | 'R' | 'B', Side> = { L: 'left', R: 'right', B: 'bilateral' };

/**
 * The side of a region: the text, else the Laterality/ImageLaterality tags when the study has one
 * body part; paired structures examined together default to both; 骨龄 to the left hand.
 */
function regionSide(
  d: Draft,
  ev: StudyEvidence,
  acquisitions: SeriesEvidence[],
  singleGroup: boolean,
  sig: ExamSignature,
): { side: RegionSig['side']; refs: EvidenceRef[] } {
  const target = d.target as TargetKey;
  if (!SIDED.has(target)) return { side: 'none', refs: [] };
  const text = d.sides.has('bilateral') || (d.sides.has('left') && d.sides.has('right')) ? 'bilateral' : [...d.sides][0];
  const indices = new Set(acquisitions.map((s) => s.index));
  const signals = singleGroup ? ev.laterality.filter((l) => indices.has(l.series)) : [];
  const tagged = new Set(signals.map((l) => l.value));
  const tags: Side | undefined =
    tagged.has('B') || (tagged.has('L') && tagged.has('R')) ? 'bilateral' : tagged.size === 1 ? SIDE_OF[[...tagged][0]] : undefined;
  const refs = signals.map((l): EvidenceRef => ({ tag: l.tag, value: `${l.value} ×${l.images}`, used_for: 'laterality' }));
  if (text && tags && text !== tags) {
    sig.problems.push(`the description says ${text} ${target}, the images are tagged ${tags}`);
    return { side: 'unknown', refs };
  }
  if (text) return { side: text, refs: tags ? refs : [] };
  if (tags) return { side: tags, refs };
  if (d.impliedSide) return { side: d.impliedSide, refs: [] };
  if (TOGETHER.has(target)) return { side: 'bilateral', refs: [] };
  return { side: 'unknown', refs: [] };
}
