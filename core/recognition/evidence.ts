import type { NaturalizedDataset } from '../dicom/read-instance';
import { firstString } from '../dicom/values';
import { normalizeText } from './classifier/normalize';
import { scan } from './classifier/scan';
import type { ModalityGroup } from './classifier/types';

/**
 * Everything a study says about which examination it is, read from dcmjs-naturalized data sets
 * (instances, or one study-level record when a RIS sends only text). Pure and tag-faithful: each
 * signal keeps its tag and value so that a classification can show what it used.
 */

export interface SourcedText {
  tag: string;
  /** As sent. */
  value: string;
  /** normalize.ts form, what the lexicon is matched against. */
  text: string;
  /** Index into StudyEvidence.series for series-level texts. */
  series?: number;
}

export interface TagValue {
  tag: string;
  value: string;
  series?: number;
}

export interface ProcedureCode {
  tag: string;
  value?: string;
  scheme?: string;
  meaning?: string;
}

export type TagSide = 'L' | 'R' | 'B';

export interface LateralitySignal {
  tag: 'Laterality' | 'ImageLaterality' | 'FrameLaterality';
  value: TagSide;
  images: number;
  series: number;
}

/** Images per projection as the modality recorded it (ViewPosition, else ViewCodeSequence). */
export interface ViewCount {
  view: string;
  images: number;
  tag: 'ViewPosition' | 'ViewCodeSequence';
  series?: number;
}

export interface ContrastSignal {
  tag: string;
  value: string;
  term: string;
  kind: 'plain' | 'contrast' | 'both';
  series?: number;
}

export type MrSeriesType = 'dwi' | 'tof' | 'swi' | 'asl' | 'perfusion' | 'dynamic' | 'mrcp' | 'mru' | 'mrv' | 'ce_mra' | 'mrs';

/** Per DR/MG image: its projection and side as tagged. */
export interface ImageView {
  view?: string;
  viewTag?: ViewCount['tag'];
  side?: TagSide;
}

export interface SeriesEvidence {
  index: number;
  uid?: string;
  modality: string;
  /** 'other': a modality no catalog lists (US, PT, XA …); 'auxiliary': SR, KO, PR, OT … (ignored). */
  group: ModalityGroup | 'other' | 'auxiliary';
  texts: SourcedText[];
  images: number;
  /** DR/MG only. */
  imageViews: ImageView[];
  laterality: LateralitySignal[];
  agent?: string;
  route?: string;
  /** post: contrast agent tagged or a post-contrast/phase word; pre: an explicit plain word; else unmarked. */
  phase: 'post' | 'pre' | 'unmarked';
  contrastWords: ContrastSignal[];
  mrTypes: MrSeriesType[];
  /** Scout, localizer, bolus tracking, dose page: not an acquisition of the examined region. */
  localizer: boolean;
  derived: boolean;
  sliceThickness?: number;
}

export interface StudyEvidence {
  studyInstanceUid?: string;
  /** Modalities as sent (series Modality, else ModalitiesInStudy of a study record). */
  modalities: string[];
  series: SeriesEvidence[];
  /** Study-level texts: descriptions and procedure code meanings. */
  texts: SourcedText[];
  procedureCodes: ProcedureCode[];
  laterality: LateralitySignal[];
  views: ViewCount[];
  contrast: { agents: TagValue[]; routes: TagValue[]; words: ContrastSignal[] };
  mrSeriesTypes: { type: MrSeriesType; series: number; value: string }[];
  ctaHints: TagValue[];
  sliceThickness?: { min: number; max: number };
  ageYears?: number;
  age?: TagValue;
  /** True when only a study-level record was given (no instances): text-only evidence. */
  textOnly: boolean;
}

const DR = new Set(['CR', 'DX', 'DR', 'RG']);
const AUXILIARY = new Set(['SR', 'KO', 'PR', 'DOC', 'OT', 'SC', 'REG', 'SEG', 'PLAN', 'FID', 'RWV', 'AU', 'RTSTRUCT', 'RTPLAN', 'RTRECORD']);
/** Agent values that mean "no contrast". */
const NO_AGENT = /^(none|no|n\/a|na|nil|无|没有|0|-)$/i;

export function modalityGroup(modality: string): SeriesEvidence['group'] {
  const m = modality.toUpperCase();
  if (DR.has(m)) return 'DR';
  if (m === 'MG' || m === 'CT' || m === 'MR') return m;
  return AUXILIARY.has(m) || m === '' ? 'auxiliary' : 'other';
}

const text = (v: unknown): string | undefined => firstString(v);
const values = (v: unknown): string[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]).map(String);
const items = (v: unknown): NaturalizedDataset[] =>
  (Array.isArray(v) ? v : v && typeof v === 'object' ? [v] : []).filter((x): x is NaturalizedDataset => !!x && typeof x === 'object');
const side = (v: unknown): TagSide | undefined => {
  const s = text(v)?.toUpperCase();
  return s === 'L' || s === 'R' || s === 'B' ? s : undefined;
};
const isInstance = (ds: NaturalizedDataset) => ds.SOPInstanceUID !== undefined || ds.SeriesInstanceUID !== undefined;

const STUDY_TEXT_TAGS = ['StudyDescription', 'RequestedProcedureDescription', 'PerformedProcedureStepDescription'] as const;
const SERIES_TEXT_TAGS = ['SeriesDescription', 'ProtocolName', 'BodyPartExamined', 'AcquisitionDeviceProcessingDescription'] as const;
const CODE_TAGS = ['ProcedureCodeSequence', 'RequestedProcedureCodeSequence'] as const;

export function studyEvidence(input: NaturalizedDataset | readonly NaturalizedDataset[]): StudyEvidence {
  const datasets = Array.isArray(input) ? (input as readonly NaturalizedDataset[]) : [input as NaturalizedDataset];
  const textOnly = !datasets.some(isInstance);

  const studyTexts = new Map<string, SourcedText>();
  const addStudyText = (tag: string, v: unknown) => {
    const value = text(v);
    if (value && !studyTexts.has(`${tag}\u0000${value}`)) studyTexts.set(`${tag}\u0000${value}`, { tag, value, text: normalizeText(value) });
  };
  const codes = new Map<string, ProcedureCode>();
  const addCodes = (tag: string, seq: unknown) => {
    for (const item of items(seq)) {
      const code: ProcedureCode = { tag, value: text(item.CodeValue), scheme: text(item.CodingSchemeDesignator), meaning: text(item.CodeMeaning) };
      codes.set(JSON.stringify(code), code);
      if (code.meaning) addStudyText(`${tag}.CodeMeaning`, code.meaning);
    }
  };
  for (const ds of datasets) {
    for (const tag of STUDY_TEXT_TAGS) addStudyText(tag, ds[tag]);
    for (const tag of CODE_TAGS) addCodes(tag, ds[tag]);
    for (const req of items(ds.RequestAttributesSequence)) {
      addStudyText('RequestAttributesSequence.RequestedProcedureDescription', req.RequestedProcedureDescription);
      addStudyText('RequestAttributesSequence.ScheduledProcedureStepDescription', req.ScheduledProcedureStepDescription);
      addCodes('RequestAttributesSequence.RequestedProcedureCodeSequence', req.RequestedProcedureCodeSequence);
    }
  }

  const series = textOnly ? [] : groupSeries(datasets).map((instances, index) => seriesEvidence(instances, index));
  const first = datasets[0] ?? {};
  const modalities = textOnly
    ? [...new Set([...values(first.ModalitiesInStudy), ...values(first.Modality)].map((m) => m.trim().toUpperCase()).filter(Boolean))]
    : [...new Set(series.map((s) => s.modality).filter(Boolean))];

  const texts = [...studyTexts.values()];
  const acquisitions = series.filter((s) => !s.localizer);
  const thickness = acquisitions.flatMap((s) => (s.sliceThickness === undefined ? [] : [s.sliceThickness]));
  const { ageYears, age } = patientAge(first);
  return {
    studyInstanceUid: text(first.StudyInstanceUID),
    modalities,
    series,
    texts,
    procedureCodes: [...codes.values()],
    laterality: series.flatMap((s) => s.laterality),
    views: series.flatMap((s) => viewCounts(s)),
    contrast: {
      agents: series.flatMap((s) => (s.agent ? [{ tag: 'ContrastBolusAgent', value: s.agent, series: s.index }] : [])),
      routes: series.flatMap((s) => (s.route ? [{ tag: 'ContrastBolusRoute', value: s.route, series: s.index }] : [])),
      words: [...texts.flatMap((t) => contrastWords(t)), ...series.flatMap((s) => s.contrastWords)],
    },
    mrSeriesTypes: series.flatMap((s) => s.mrTypes.map((type) => ({ type, series: s.index, value: s.texts[0]?.value ?? '' }))),
    ctaHints: [...texts, ...series.flatMap((s) => s.texts)].flatMap((t) =>
      scan(t.text).some(
        (k) => k.meaning.kind === 'bolus' || k.meaning.kind === 'angiography' || (k.meaning.kind === 'technique' && k.meaning.techniques.includes('cta')),
      )
        ? [{ tag: t.tag, value: t.value, series: t.series }]
        : [],
    ),
    sliceThickness: thickness.length ? { min: Math.min(...thickness), max: Math.max(...thickness) } : undefined,
    ageYears,
    age,
    textOnly,
  };
}

function groupSeries(datasets: readonly NaturalizedDataset[]): NaturalizedDataset[][] {
  const bySeries = new Map<string, NaturalizedDataset[]>();
  for (const ds of datasets.filter(isInstance)) {
    const key = text(ds.SeriesInstanceUID) ?? `${text(ds.Modality)}|${text(ds.SeriesNumber)}|${text(ds.SeriesDescription)}`;
    bySeries.set(key, [...(bySeries.get(key) ?? []), ds]);
  }
  return [...bySeries.values()];
}

function contrastWords(t: SourcedText): ContrastSignal[] {
  return scan(t.text).flatMap((k) =>
    k.meaning.kind === 'contrast' ? [{ tag: t.tag, value: t.value, term: k.term, kind: k.meaning.contrast, series: t.series }] : [],
  );
}

function seriesEvidence(instances: NaturalizedDataset[], index: number): SeriesEvidence {
  const first = instances[0];
  const modality = (text(first.Modality) ?? '').toUpperCase();
  const group = modalityGroup(modality);
  const texts: SourcedText[] = SERIES_TEXT_TAGS.flatMap((tag) => {
    const value = text(first[tag]);
    return value ? [{ tag, value, text: normalizeText(value), series: index }] : [];
  });
  const tokens = texts.flatMap((t) => scan(t.text));
  const imageTypes = instances.flatMap((ds) => values(ds.ImageType).map((v) => v.toUpperCase()));
  const agent = instances.map((ds) => text(ds.ContrastBolusAgent)).find((a) => a && !NO_AGENT.test(a));
  const route = instances.map((ds) => text(ds.ContrastBolusRoute)).find((a) => a && !NO_AGENT.test(a));
  const words = texts.flatMap((t) => contrastWords(t));
  const says = (kind: ContrastSignal['kind']) => words.some((w) => w.kind === kind);
  const phase = agent || says('contrast') || says('both') ? 'post' : says('plain') ? 'pre' : 'unmarked';
  const localizer = imageTypes.includes('LOCALIZER') || tokens.some((k) => k.meaning.kind === 'localizer' || k.meaning.kind === 'bolus');
  const thickness = instances.map((ds) => Number(text(ds.SliceThickness))).find((n) => Number.isFinite(n) && n > 0);
  return {
    index,
    uid: text(first.SeriesInstanceUID),
    modality,
    group,
    texts,
    images: instances.length,
    imageViews: group === 'DR' || group === 'MG' ? instances.map(imageView) : [],
    laterality: lateralitySignals(instances, index),
    agent,
    route,
    phase,
    contrastWords: words,
    mrTypes: group === 'MR' ? mrTypes(instances, tokens, imageTypes) : [],
    localizer,
    derived: imageTypes[0] === 'DERIVED',
    sliceThickness: thickness,
  };
}

function imageView(ds: NaturalizedDataset): ImageView {
  const position = text(ds.ViewPosition);
  const code = items(ds.ViewCodeSequence)[0];
  const coded = code ? (text(code.CodeMeaning) ?? text(code.CodeValue)) : undefined;
  const frame = items(items(ds.SharedFunctionalGroupsSequence)[0]?.FrameAnatomySequence)[0];
  return {
    view: position ?? coded,
    viewTag: position ? 'ViewPosition' : coded ? 'ViewCodeSequence' : undefined,
    side: side(ds.ImageLaterality) ?? side(frame?.FrameLaterality) ?? side(ds.Laterality),
  };
}

function lateralitySignals(instances: NaturalizedDataset[], series: number): LateralitySignal[] {
  const counts = new Map<string, LateralitySignal>();
  for (const ds of instances) {
    const frame = items(items(ds.SharedFunctionalGroupsSequence)[0]?.FrameAnatomySequence)[0];
    for (const [tag, v] of [
      ['Laterality', side(ds.Laterality)],
      ['ImageLaterality', side(ds.ImageLaterality)],
      ['FrameLaterality', side(frame?.FrameLaterality)],
    ] as const) {
      if (!v) continue;
      const key = `${tag}|${v}`;
      const signal = counts.get(key) ?? { tag, value: v, images: 0, series };
      signal.images++;
      counts.set(key, signal);
    }
  }
  return [...counts.values()];
}

function viewCounts(s: SeriesEvidence): ViewCount[] {
  const counts = new Map<string, ViewCount>();
  for (const v of s.imageViews) {
    if (!v.view || !v.viewTag) continue;
    const key = `${v.viewTag}|${v.view}`;
    const count = counts.get(key) ?? { view: v.view, images: 0, tag: v.viewTag, series: s.index };
    count.images++;
    counts.set(key, count);
  }
  return [...counts.values()];
}

/** MR sequence types from series wording, SequenceName, DiffusionBValue and ImageType. */
function mrTypes(instances: NaturalizedDataset[], tokens: ReturnType<typeof scan>, imageTypes: string[]): MrSeriesType[] {
  const types = new Set<MrSeriesType>();
  const sequenceName = (text(instances[0].SequenceName) ?? '').toLowerCase();
  for (const k of tokens) {
    if (k.meaning.kind !== 'technique') continue;
    const t = k.meaning.techniques;
    if (t.includes('dwi')) types.add('dwi');
    if (t.includes('mra_tof')) types.add('tof');
    if (t.includes('swi')) types.add('swi');
    if (t.includes('mr_perfusion')) types.add(k.meaning.nonContrast ? 'asl' : 'perfusion');
    if (t.includes('dynamic')) types.add('dynamic');
    if (t.includes('mrcp')) types.add('mrcp');
    if (t.includes('mru')) types.add('mru');
    if (t.includes('mrv')) types.add('mrv');
    if (t.includes('mra_contrast')) types.add('ce_mra');
    if (t.includes('mrs')) types.add('mrs');
  }
  const bValue = instances.some((ds) => Number(text(ds.DiffusionBValue)) > 0);
  if (bValue || /ep_b\d/.test(sequenceName) || imageTypes.some((t) => t === 'DIFFUSION' || t === 'ADC' || t === 'TRACEW')) types.add('dwi');
  if (/tof/.test(sequenceName)) types.add('tof');
  if (/swi/.test(sequenceName) || imageTypes.includes('SWI')) types.add('swi');
  return [...types];
}

/** PatientAge (nnnD/W/M/Y), else PatientBirthDate and StudyDate. */
function patientAge(ds: NaturalizedDataset): { ageYears?: number; age?: TagValue } {
  const as = text(ds.PatientAge);
  const m = as && /^(\d{1,3})\s*([DWMY])$/i.exec(as);
  if (m) {
    const per = { D: 365.25, W: 52.18, M: 12, Y: 1 }[m[2].toUpperCase() as 'D' | 'W' | 'M' | 'Y'];
    return { ageYears: Number(m[1]) / per, age: { tag: 'PatientAge', value: as } };
  }
  const birth = text(ds.PatientBirthDate);
  const study = text(ds.StudyDate);
  const date = (s: string | undefined) => (s && /^\d{8}$/.test(s) ? Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8)) : NaN);
  const years = (date(study) - date(birth)) / (365.25 * 86400000);
  return Number.isFinite(years) && years >= 0 ? { ageYears: years, age: { tag: 'PatientBirthDate', value: `${birth} (StudyDate ${study})` } } : {};
}
