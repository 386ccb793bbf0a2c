import type { SeriesEvidence, StudyEvidence } from '../evidence';
import { scan } from './scan';
import { sameSet, type Draft } from './text-parse';
import type { ContrastState, EvidenceRef, ModalityGroup } from './types';

/** Contrast of a region: the order's words, the series (agents, phases, plain series), and the default. */

export interface StudyContrast {
  /** From the series: phases, agents, plain series. */
  series?: ContrastState;
  /** Anything at all that says contrast was given (agent, route, bolus tracking, a contrast or phase word). */
  anySignal: boolean;
  refs: EvidenceRef[];
}

/**
 * Contrast from the series. A post-contrast series is one with a contrast agent tagged or a
 * post-contrast/phase word; the plain phase is a series saying so (平扫, PRE, NC), or — on MR — any
 * other acquisition (T2, FLAIR, DWI are pre-contrast by nature), or — on CT — an unmarked original
 * acquisition next to post-contrast series that carry the agent tag (the scanner tagged the
 * enhanced ones only). Bolus tracking says contrast was given.
 */
export function studyContrast(ev: StudyEvidence, acquisitions: SeriesEvidence[], modality: ModalityGroup): StudyContrast {
  const refs: EvidenceRef[] = [];
  const post = acquisitions.filter((s) => s.phase === 'post');
  const pre = acquisitions.filter((s) => s.phase === 'pre');
  const unmarked = acquisitions.filter((s) => s.phase === 'unmarked');
  for (const s of [...post, ...pre]) {
    const w = s.contrastWords[0];
    refs.push(
      s.agent
        ? { tag: 'ContrastBolusAgent', value: s.agent, used_for: 'contrast' }
        : { tag: w?.tag ?? 'SeriesDescription', value: w?.value ?? '', used_for: 'contrast', term: w?.term },
    );
  }
  const bolus = ev.series.some((s) => s.texts.some((t) => scan(t.text).some((k) => k.meaning.kind === 'bolus')));
  const anySignal =
    post.length > 0 || bolus || ev.contrast.agents.length > 0 || ev.contrast.routes.length > 0 || ev.contrast.words.some((w) => w.kind !== 'plain');
  let series: ContrastState | undefined;
  if (post.length) {
    const plainPhase =
      pre.length > 0 || (modality === 'MR' && unmarked.length > 0) || (modality === 'CT' && post.some((s) => s.agent) && unmarked.some((s) => !s.derived));
    series = plainPhase ? 'plain_and_contrast' : 'contrast';
  } else if (bolus) series = 'contrast';
  else if (pre.length) series = 'plain';
  return { series, anySignal, refs };
}

export function regionContrast(
  d: Draft,
  study: StudyContrast,
  routine: Draft[],
  problems: string[],
): { state: ContrastState; defaulted: boolean; refs: EvidenceRef[] } {
  if (d.fixedContrast === 'plain' || d.fixedContrast === 'contrast') return { state: d.fixedContrast, defaulted: false, refs: [] };
  if (d.fixedContrast === 'follows_study') return { state: study.anySignal ? 'contrast' : 'unknown', defaulted: false, refs: study.refs };
  const words = d.contrast;
  const text: ContrastState | undefined =
    words.has('plain') && words.has('contrast') ? 'plain_and_contrast' : words.has('contrast') ? 'contrast' : words.has('plain') ? 'plain' : undefined;
  // Series can only be attributed to a region when every routine region's text says the same.
  const uniform = routine.every((r) => sameSet(r.contrast, words));
  const series = uniform ? study.series : undefined;
  if (text === 'plain_and_contrast') return { state: text, defaulted: false, refs: [] };
  if (text === 'contrast') {
    if (series === 'plain') problems.push(`the description says contrast for ${d.target}, the series only a plain phase`);
    return { state: series === 'plain_and_contrast' ? series : 'contrast', defaulted: false, refs: series === 'plain_and_contrast' ? study.refs : [] };
  }
  if (text === 'plain') {
    if (series && series !== 'plain') problems.push(`the description says plain for ${d.target}, the series show contrast`);
    return { state: 'plain', defaulted: false, refs: [] };
  }
  if (series) return { state: series, defaulted: false, refs: study.refs };
  // Nothing anywhere says contrast: a plain scan (enhanced examinations are named and billed as 增强).
  return study.anySignal || d.contrastPossible ? { state: 'unknown', defaulted: false, refs: [] } : { state: 'plain', defaulted: true, refs: [] };
}
