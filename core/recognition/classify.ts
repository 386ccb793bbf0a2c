import type { Catalog, CatalogItem } from '../../catalogs/schema';
import { assess, bestCovers, candidates, itemShapes, nearItems, studyAtoms, type Atom, type Candidate, type ItemShape } from './classifier/match';
import { examSignature, type ExamSignature, type RegionSig } from './classifier/signature';
import type { EvidenceRef } from './classifier/types';
import type { ProcedureCode, StudyEvidence } from './evidence';

/**
 * Which items of a recognition catalog a study is. A wrong recognition is worse than none: every
 * attribute must be shown by the evidence or safely implied, anything else is 'needs_review'
 * with the candidates a reviewer should choose from. See docs/classifier.md for the rules.
 */

export type ClassificationStatus = 'mapped' | 'needs_review' | 'not_applicable';

export interface ClassifiedItem {
  code: string;
  /** 0..1; how directly the evidence shows each attribute (see docs/classifier.md). */
  confidence: number;
  evidence: EvidenceRef[];
  runnersUp: { code: string; confidence: number }[];
}

export interface CatalogClassification {
  catalogId: string;
  catalogVersion: string;
  status: ClassificationStatus;
  /** Recognised items. With 'needs_review', the parts of the study that were recognised safely. */
  items: ClassifiedItem[];
  /** 'needs_review' only: items a reviewer should choose from. Never recognitions. */
  candidates: { code: string; confidence: number; why: string }[];
  reasons: string[];
}

/** What a per-hospital local mapping is looked up by. */
export interface LocalMappingQuery {
  catalogId: string;
  catalogVersion: string;
  modalities: string[];
  procedureCodes: ProcedureCode[];
  descriptions: { tag: string; value: string }[];
}

export interface ClassifyOptions {
  /** The hospital's own mapping: item codes (possibly none) when it knows this procedure, else undefined. */
  localMapping?: (query: LocalMappingQuery) => string[] | undefined;
}

export function classifyStudy(evidence: StudyEvidence, catalog: Catalog, opts: ClassifyOptions = {}): CatalogClassification {
  return classify(examSignature(evidence), evidence, catalog, opts);
}

export function classifyStudyAll(evidence: StudyEvidence, catalogs: readonly Catalog[], opts: ClassifyOptions = {}): CatalogClassification[] {
  const sig = examSignature(evidence);
  return catalogs.map((catalog) => classify(sig, evidence, catalog, opts));
}

function classify(sig: ExamSignature, evidence: StudyEvidence, catalog: Catalog, opts: ClassifyOptions): CatalogClassification {
  const result = classifyBySignature(sig, catalog);
  if (!opts.localMapping) return result;
  const query: LocalMappingQuery = {
    catalogId: catalog.id,
    catalogVersion: catalog.version,
    modalities: evidence.modalities,
    procedureCodes: evidence.procedureCodes,
    descriptions: evidence.texts.map(({ tag, value }) => ({ tag, value })),
  };
  const codes = opts.localMapping(query);
  return codes === undefined ? result : fromLocalMapping(codes, query, sig, catalog, result);
}

/** A local mapping hit overrides the classifier; the classifier's own answer is kept in the reasons. */
function fromLocalMapping(
  codes: string[],
  query: LocalMappingQuery,
  sig: ExamSignature,
  catalog: Catalog,
  classifier: CatalogClassification,
): CatalogClassification {
  const out = base(catalog);
  const items = codes.map((code) => catalog.items.find((i) => i.code === code));
  const known = items.filter((i): i is CatalogItem => !!i);
  const alone = classifier.items.map((i) => i.code).join(', ');
  out.reasons.push(`local mapping: ${codes.length ? codes.join(', ') : 'no item'}`, `classifier alone: ${classifier.status}${alone ? ` (${alone})` : ''}`);
  for (const code of codes.filter((_, i) => !items[i])) out.reasons.push(`local mapping names ${code}, which is not in ${catalog.id} ${catalog.version}`);
  const keys: EvidenceRef[] = [
    ...query.procedureCodes.map((c) => ({
      tag: c.tag,
      value: [c.value, c.scheme && `(${c.scheme})`, c.meaning].filter(Boolean).join(' '),
      used_for: 'local_mapping_key' as const,
    })),
    ...query.descriptions.map((d) => ({ ...d, used_for: 'local_mapping_key' as const })),
  ];
  const wrongModality = known.filter((i) => sig.modality && i.modality !== sig.modality);
  if (known.length < codes.length || wrongModality.length) {
    if (wrongModality.length)
      out.reasons.push(`local mapping names ${wrongModality.map((i) => i.code).join(', ')} (${wrongModality[0].modality}) for a ${sig.modality} study`);
    out.status = 'needs_review';
    out.candidates = known.map((i) => ({ code: i.code, confidence: 0.5, why: 'local mapping entry to verify' }));
    return out;
  }
  out.status = known.length ? 'mapped' : 'not_applicable';
  out.items = known.map((i) => ({
    code: i.code,
    confidence: 1,
    evidence: [{ tag: 'LocalMapping', value: `${catalog.id}: ${i.code}`, used_for: 'local_mapping' }, ...keys],
    runnersUp: classifier.items.filter((c) => c.code !== i.code).map(({ code, confidence }) => ({ code, confidence })),
  }));
  return out;
}

const base = (catalog: Catalog): CatalogClassification => ({
  catalogId: catalog.id,
  catalogVersion: catalog.version,
  status: 'needs_review',
  items: [],
  candidates: [],
  reasons: [],
});

function classifyBySignature(sig: ExamSignature, catalog: Catalog): CatalogClassification {
  const out = base(catalog);
  if (sig.notApplicable.length) {
    out.status = 'not_applicable';
    out.reasons.push(...new Set(sig.notApplicable.map((n) => `not a catalog examination: ${n.tag} '${n.value}'${n.term ? ` (${n.term})` : ''}`)));
    return out;
  }
  if (!sig.modality) {
    out.reasons.push(...sig.problems);
    return out;
  }
  if (!catalog.items.some((i) => i.modality === sig.modality)) {
    out.status = 'not_applicable';
    out.reasons.push(`${catalog.id} lists no ${sig.modality} items`);
    return out;
  }
  const atoms = studyAtoms(sig);
  const cands = candidates(sig, catalog, atoms);
  const covers = bestCovers(cands, atoms);
  const mapped = covers.length ? covers[0].filter((c) => covers.every((cover) => cover.includes(c))) : [];
  const ambiguous = [...new Set(covers.flat())].filter((c) => !mapped.includes(c));
  const covered = new Set(mapped.flatMap((c) => c.keys));

  if (sig.problems.length) {
    // Conflicting evidence: nothing is recognised, what matched is offered for review.
    out.reasons.push(...sig.problems);
    out.candidates = cands.map((c) => ({
      code: c.shape.item.code,
      confidence: round(confidence(c, sig, atoms) * 0.5),
      why: 'matches, but the evidence conflicts',
    }));
    return out;
  }

  for (const c of ambiguous)
    out.candidates.push({ code: c.shape.item.code, confidence: round(confidence(c, sig, atoms) * 0.5), why: 'another item fits equally' });
  if (ambiguous.length) out.reasons.push(`ambiguous: ${ambiguous.map((c) => c.shape.item.code).join(' / ')}`);
  const ambiguousKeys = new Set(ambiguous.flatMap((c) => c.keys));

  let review = ambiguous.length > 0;
  for (const [region, own] of uncoveredByRegion(atoms, covered, ambiguousKeys)) {
    const r = sig.regions[region];
    const near = nearItems(sig, catalog, atoms, own);
    // Offer the closest items only: those with the fewest attributes in question.
    const fewest = Math.min(...near.same.map((n) => n.notes.length));
    const same = near.same.filter((n) => n.notes.length === fewest);
    const { sameTargetExists } = near;
    const what = describe(r);
    if (same.length) {
      review = true;
      out.reasons.push(
        `${what}: ${sameTargetExists ? 'no item matches every attribute' : 'no item of this body part; related items offered'} (${[...new Set(same.flatMap((n) => n.notes))].join('; ')})`,
      );
      for (const n of same)
        out.candidates.push({ code: n.shape.item.code, confidence: round(0.3 * (n.check === 'exceeds' ? 1 : 0.8)), why: n.notes.join('; ') });
    } else if (sameTargetExists && own.some((a) => a.side === '?')) {
      review = true;
      out.reasons.push(`${what}: side not stated`);
    } else {
      out.reasons.push(`${what}: not in ${catalog.id}`);
    }
  }

  out.items = mapped.map((c) => classified(c, sig, catalog, atoms));
  out.status = review ? 'needs_review' : out.items.length ? 'mapped' : 'not_applicable';
  out.candidates = dedupe(out.candidates);
  return out;
}

/** Atoms no mapped item covers, by region; a region some of whose projections are covered is recognised (extra films do not matter). */
function uncoveredByRegion(atoms: Atom[], covered: Set<string>, ambiguous: Set<string>): Map<number, Atom[]> {
  const out = new Map<number, Atom[]>();
  const partSide = (a: Atom) => `${a.region}|${a.part}|${a.side}`;
  const recognised = new Set(atoms.filter((a) => covered.has(a.key) || ambiguous.has(a.key)).map(partSide));
  for (const a of atoms) {
    if (recognised.has(partSide(a))) continue;
    out.set(a.region, [...(out.get(a.region) ?? []), a]);
  }
  return out;
}

function describe(r: RegionSig): string {
  const side = r.side === 'none' ? '' : ` ${r.side}`;
  const component = r.component === 'routine' ? '' : ` ${r.component}`;
  const techniques = [...r.techniques].length ? ` [${[...r.techniques].join(', ')}]` : '';
  return `${r.target}${side}${component}${techniques} (${r.contrast})`;
}

function classified(c: Candidate, sig: ExamSignature, catalog: Catalog, atoms: Atom[]): ClassifiedItem {
  const conf = confidence(c, sig, atoms);
  const evidence = dedupeEvidence([...sig.evidence, ...c.regions.flatMap((i) => sig.regions[i].evidence)]);
  return { code: c.shape.item.code, confidence: round(conf), evidence, runnersUp: runnersUp(c, sig, catalog, atoms, conf) };
}

/**
 * Not a probability: a fixed discount for each attribute that is inferred rather than shown
 * (text-only study, default plain, projections from text, unstated item side, part of a whole).
 */
function confidence(c: Candidate, sig: ExamSignature, atoms: Atom[]): number {
  let conf = 0.97;
  const regions = c.regions.map((i) => sig.regions[i]);
  if (sig.textOnly) conf *= 0.95;
  if (sig.regionsFromSeries) conf *= 0.9;
  if (regions.some((r) => r.contrastDefaulted) && (c.shape.item.modality === 'CT' || c.shape.item.modality === 'MR')) conf *= 0.9;
  if (regions.some((r) => r.views && !r.views.fromImages)) conf *= 0.93;
  if (c.shape.sides.includes('*')) conf *= 0.85;
  const studyParts = atoms.filter((a) => c.regions.includes(a.region));
  if (studyParts.some((a) => !c.keys.includes(a.key) && c.shape.views[0] === '-')) conf *= 0.9; // part of a whole or one side of both
  return conf;
}

/** Items of the same body part that lost, with a confidence that says how close they came. */
function runnersUp(c: Candidate, sig: ExamSignature, catalog: Catalog, atoms: Atom[], conf: number): ClassifiedItem['runnersUp'] {
  const own = atoms.filter((a) => c.regions.includes(a.region));
  const score = { ok: 0.5, exceeds: 0.3, unknown: 0.3, fail: 0.05 };
  return itemShapes(catalog)
    .filter((s: ItemShape) => s !== c.shape && s.item.modality === sig.modality && s.parts.some((p) => c.shape.parts.includes(p)))
    .map((s) => {
      const a = assess(s, sig, atoms, own);
      return { code: s.item.code, confidence: round((conf * score[a.check]) / Math.max(1, a.notes.length)) };
    })
    .sort((a, b) => b.confidence - a.confidence)
    .slice(0, 3);
}

const round = (x: number) => Math.round(x * 100) / 100;

function dedupe<T extends { code: string }>(list: T[]): T[] {
  return [...new Map(list.map((x) => [x.code, x])).values()];
}

function dedupeEvidence(list: EvidenceRef[]): EvidenceRef[] {
  return [...new Map(list.map((e) => [`${e.tag}|${e.value}|${e.used_for}|${e.term ?? ''}`, e])).values()];
}

export type { StudyEvidence } from './evidence';
export type { EvidenceRef } from './classifier/types';
