import type { ImageView, SeriesEvidence } from '../evidence';
import { normalizeText } from './normalize';
import { scan } from './scan';
import type { Draft, SigTarget } from './text-parse';
import type { EvidenceRef, Posture, ViewWord } from './types';
import { POSTURES } from './types';

/** DR/MG projections of a region: from the images' ViewPosition/ViewCodeSequence, and the text. */

export type ViewAtom = 'frontal' | 'lateral' | 'oblique' | 'bilateral_oblique' | 'axial' | 'flexion_extension' | 'open_mouth' | 'cc' | 'mlo';

export interface ViewSig {
  /** Projections present. */
  atoms: Set<ViewAtom>;
  /** Per-image side and projection, when every image carries a side (mammography). */
  pairs?: { side: 'left' | 'right'; atom: ViewAtom }[];
  /** True when atoms list every projection taken (all images tagged, or the text states them). */
  complete: boolean;
  /** Frontal direction: 'ap' / 'pa' when stated, 'frontal' when not. */
  direction: Set<'ap' | 'pa' | 'frontal'>;
  lateralSides: Set<'left' | 'right'>;
  postures: Set<Posture>;
  fromImages: boolean;
}

/** DICOM ViewPosition defined terms and common vendor values → projection words. */
// prettier-ignore
const VIEW_CODES: Record<string, ViewWord[]> = {
  AP: ['ap'], PA: ['pa'], LL: ['lateral_left'], RL: ['lateral_right'], LAT: ['lateral'], LATERAL: ['lateral'],
  RLD: ['decubitus', 'frontal'], LLD: ['decubitus', 'frontal'], OBL: ['oblique'], OBLIQUE: ['oblique'],
  RLO: ['oblique'], LLO: ['oblique'], RAO: ['oblique'], LAO: ['oblique'], RPO: ['oblique'], LPO: ['oblique'],
  AX: ['axial'], AXIAL: ['axial'], CC: ['cc'], RCC: ['cc'], LCC: ['cc'], XCCL: ['cc'], XCCM: ['cc'], FB: ['cc'],
  MLO: ['mlo'], RMLO: ['mlo'], LMLO: ['mlo'], SIO: ['mlo'], ML: ['lateral'], LM: ['lateral'], RML: ['lateral'], LML: ['lateral'],
};

function imageWords(v: ImageView): ViewWord[] {
  if (!v.view) return [];
  const code = VIEW_CODES[v.view.trim().toUpperCase()];
  if (code) return code;
  return scan(normalizeText(v.view)).flatMap((k) => (k.meaning.kind === 'view' ? k.meaning.views : []));
}

function atomOf(w: ViewWord): ViewAtom | undefined {
  if (w === 'ap' || w === 'pa' || w === 'frontal') return 'frontal';
  if (w === 'lateral' || w === 'lateral_left' || w === 'lateral_right') return 'lateral';
  return isPosture(w) ? undefined : (w as ViewAtom);
}

/**
 * Projections of a DR/MG region. Tagged images decide; the text adds what images cannot show
 * (过伸过屈, 张口位, 双斜位, posture) when the images agree with it (two laterals for 过伸过屈 …).
 * Without tagged images the text decides — unless fewer images came than it names.
 */
export function viewSig(
  d: Draft,
  acquisitions: SeriesEvidence[],
  seriesTargets: Map<number, Set<SigTarget>>,
  singleGroup: boolean,
  textOnly: boolean,
  problems: string[],
): ViewSig {
  const own = acquisitions.filter((s) => singleGroup || seriesTargets.get(s.index)?.has(d.target));
  const attributable = singleGroup || acquisitions.every((s) => seriesTargets.get(s.index)?.size);
  const images = attributable ? own.flatMap((s) => s.imageViews) : [];
  // 平片 and term-implied projections count only when no projection is written ('立位腹部平片' = standing frontal).
  // A posture alone ('腹部仰卧位') describes a frontal film in that posture too.
  const written = [...d.views].some((w) => atomOf(w));
  const postureOnly = !written && [...d.views].some(isPosture);
  const textWords = new Set([...d.views, ...(written ? [] : d.defaultViews), ...(postureOnly ? (['frontal'] as ViewWord[]) : [])]);
  const out: ViewSig = { atoms: new Set(), complete: false, direction: new Set(), lateralSides: new Set(), postures: new Set(), fromImages: false };
  for (const w of textWords) if (isPosture(w)) out.postures.add(w);

  const tagged = images.map((v) => ({ v, words: imageWords(v) })).filter((x) => x.words.some((w) => atomOf(w)));
  if (tagged.length) {
    out.fromImages = true;
    out.complete = tagged.length === images.length;
    const counts = new Map<ViewAtom, number>();
    for (const { words } of tagged) {
      words.forEach((w) => noteWord(out, w, false));
      const atom = words.map(atomOf).find((a) => a);
      if (atom) counts.set(atom, (counts.get(atom) ?? 0) + 1);
    }
    const n = (a: ViewAtom) => counts.get(a) ?? 0;
    // Special projections the images cannot show by themselves, taken from the text when the images fit.
    if (textWords.has('flexion_extension') && n('lateral') >= 2) {
      out.atoms.add('flexion_extension');
      counts.set('lateral', n('lateral') - 2);
    }
    if (textWords.has('open_mouth') && n('frontal') >= 1) {
      out.atoms.add('open_mouth');
      counts.set('frontal', n('frontal') - 1);
    }
    if (n('oblique') >= 2) out.atoms.add('bilateral_oblique');
    for (const [atom, count] of counts) if (count > 0) out.atoms.add(atom);
    if (!out.complete) for (const w of textWords) noteWord(out, w, true);
    const sides = tagged.map((x) => x.v.side);
    if (sides.every((s) => s === 'L' || s === 'R')) {
      out.pairs = tagged.flatMap(({ v, words }) => {
        const atom = words.map(atomOf).find((a) => a);
        return atom ? [{ side: v.side === 'L' ? ('left' as const) : ('right' as const), atom }] : [];
      });
    }
    return out;
  }
  for (const w of textWords) noteWord(out, w, true);
  const needed = [...out.atoms].reduce((sum, a) => sum + (a === 'flexion_extension' || a === 'bilateral_oblique' ? 2 : 1), 0);
  const imageCount = own.reduce((sum, s) => sum + s.images, 0);
  out.complete = textWords.size > 0 && (textOnly || imageCount >= needed);
  if (!textOnly && imageCount > 0 && imageCount < needed) {
    problems.push(`the description names ${needed} projections of ${d.target}, ${imageCount} image(s) came`);
    out.atoms.clear();
  }
  return out;
}

const isPosture = (w: ViewWord): w is Posture => (POSTURES as readonly string[]).includes(w);

/** Records a projection word: direction, lateral side, posture; withAtom also the projection itself. */
function noteWord(out: ViewSig, w: ViewWord, withAtom: boolean) {
  const atom = atomOf(w);
  if (withAtom && atom) out.atoms.add(atom);
  if (w === 'ap' || w === 'pa' || w === 'frontal') out.direction.add(w);
  if (w === 'lateral_left') out.lateralSides.add('left');
  if (w === 'lateral_right') out.lateralSides.add('right');
  if (isPosture(w)) out.postures.add(w);
}

export function viewRefs(acquisitions: SeriesEvidence[]): EvidenceRef[] {
  const counts = new Map<string, number>();
  for (const v of acquisitions.flatMap((s) => s.imageViews)) if (v.view) counts.set(`${v.viewTag}|${v.view}`, (counts.get(`${v.viewTag}|${v.view}`) ?? 0) + 1);
  return [...counts].map(([k, n]) => ({ tag: k.split('|')[0], value: `${k.split('|')[1]} ×${n}`, used_for: 'view' as const }));
}
