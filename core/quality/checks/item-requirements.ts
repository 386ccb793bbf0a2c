import { ctReconstructionsOf, isPostContrast, mrWeightingsOf, projectionsOf, seriesPlane, type MrWeighting, type Plane, type Projection } from '../classify';
import { descriptiveText, imagesOf, nums, str, strs, uidList, type ModalityGroup } from '../dataset';
import {
  ctGroupFor,
  isTechniqueOnlyItem,
  mrGroupFor,
  PROJECTION_VIEWS,
  RECONSTRUCTION_LABEL,
  severityFor,
  TECHNIQUE_SEQUENCES,
  THIN_SLICE_MAX_MM,
  THIN_SLICE_TECHNIQUES,
  VIEW_IMAGE_COUNT,
  type MrSequenceRequirement,
} from '../requirements';
import type { Bilingual, Dataset, Finding, MappedItem, QualityInput, QualitySeries } from '../types';
import { diagnosticCtSeries, zStack } from './ct';
import { diagnosticMrSeries } from './mr';

/**
 * What each mapped catalog item requires is present: its projections (正侧位 = two images with
 * different projections), its contrast phase, its CT reconstructions and slice thickness, its MR
 * sequences (core/quality/requirements.ts). Shortfalls are 'fail' where the item's catalog
 * requires a complete examination (新疆, 浙江), else 'warn'; where the attributes cannot tell,
 * the finding says "could not verify" and is at most 'warn'.
 */
export function checkItemRequirements(input: QualityInput): Finding[] {
  return input.mappedItems.flatMap((item) => checkItem(input, item));
}

const itemLabel = (item: MappedItem): Bilingual => ({ zh: `${item.code}（${item.nameZh}）`, en: `${item.code} (${item.nameEn})` });

function checkItem(input: QualityInput, item: MappedItem): Finding[] {
  const label = itemLabel(item);
  const completeness = severityFor([item], 'completeness');
  const group: ModalityGroup = item.modality;
  const images = imagesOf(input, group);
  if (images.length === 0) {
    return [
      {
        code: 'QC-ITEM-IMAGES-ABSENT',
        ...completeness,
        message: {
          zh: `项目 ${label.zh} 为${item.modality}检查，但检查中没有${item.modality}图像`,
          en: `Item ${label.en} is a ${item.modality} examination, but the study has no ${item.modality} images`,
        },
      },
    ];
  }
  const findings = [...checkLaterality(item, label, images)];
  if (item.modality === 'DR' || item.modality === 'MG') findings.push(...checkViews(item, label, images, completeness));
  if (item.modality === 'CT') {
    const ct = diagnosticCtSeries(input);
    findings.push(...checkContrast(item, label, ct, completeness), ...checkCt(item, label, ct, completeness));
  }
  if (item.modality === 'MR') {
    const mr = diagnosticMrSeries(input);
    findings.push(...checkContrast(item, label, mr, completeness), ...checkMrSequences(item, label, mr, completeness));
  }
  return findings;
}

// ---------------------------------------------------------------------------------------------
// Laterality

function checkLaterality(item: MappedItem, label: Bilingual, images: Array<{ ds: Dataset }>): Finding[] {
  if (item.laterality !== 'left' && item.laterality !== 'right') return [];
  const want = item.laterality === 'left' ? 'L' : 'R';
  const sides = images.map(({ ds }) => (str(ds, 'ImageLaterality') ?? str(ds, 'Laterality') ?? '').toUpperCase()).filter((s) => s === 'L' || s === 'R');
  if (sides.length === 0 || sides.includes(want)) return [];
  const side = { L: { zh: '左', en: 'left' }, R: { zh: '右', en: 'right' } };
  const other = want === 'L' ? side.R : side.L;
  return [
    {
      code: 'QC-ITEM-LATERALITY-MISMATCH',
      severity: 'warn',
      instances: uidList(images.map((i) => i.ds)),
      message: {
        zh: `项目 ${label.zh} 为${side[want].zh}侧，但图像标明为${other.zh}侧`,
        en: `Item ${label.en} is the ${side[want].en} side, but the images are marked ${other.en}`,
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// DR / MG projections

const VIEW_LABEL: Record<string, Bilingual> = {
  ap: { zh: '正位', en: 'AP/PA' },
  pa: { zh: '后前位', en: 'PA' },
  lateral: { zh: '侧位', en: 'lateral' },
  oblique: { zh: '斜位', en: 'oblique' },
  axial: { zh: '轴位', en: 'axial' },
  flexion: { zh: '过屈位', en: 'flexion' },
  extension: { zh: '过伸位', en: 'extension' },
  open_mouth: { zh: '张口位', en: 'open-mouth' },
  mlo: { zh: '内外侧斜位(MLO)', en: 'MLO' },
  cc: { zh: '头尾位(CC)', en: 'CC' },
  decubitus: { zh: '侧卧水平位', en: 'decubitus' },
};

interface Slot {
  view: string;
  accepts(p: Projection[]): boolean;
}

/** One slot per image the item's projections need (正侧位: AP + lateral; 双斜位: two obliques; bilateral MG: per breast). */
function slotsFor(item: MappedItem): Slot[] {
  const slots: Slot[] = [];
  const perSide = item.modality === 'MG' && item.laterality === 'bilateral' ? 2 : 1;
  for (const view of item.views) {
    if (!(PROJECTION_VIEWS as readonly string[]).includes(view)) continue;
    const n = (VIEW_IMAGE_COUNT[view] ?? 1) * perSide;
    for (let i = 0; i < n; i++) {
      if (view === 'flexion_extension') {
        const which = i % 2 === 0 ? 'flexion' : 'extension';
        const opposite = which === 'flexion' ? 'extension' : 'flexion';
        slots.push({ view: which, accepts: (p) => p.includes(which) || (p.includes('lateral') && !p.includes(opposite)) });
      } else if (view === 'bilateral_oblique') {
        slots.push({ view: 'oblique', accepts: (p) => p.includes('oblique') });
      } else if (view === 'ap' || view === 'pa') {
        slots.push({ view, accepts: (p) => p.includes('ap') || p.includes('pa') });
      } else if (view === 'open_mouth') {
        slots.push({ view, accepts: (p) => p.includes('open_mouth') || p.includes('ap') });
      } else {
        slots.push({ view, accepts: (p) => p.includes(view as Projection) });
      }
    }
  }
  return slots;
}

/** Maximum matching of images to slots (Kuhn's augmenting paths; a handful of each). */
function matchSlots(slots: Slot[], projections: Projection[][], wildcard: boolean): boolean[] {
  const slotOf = new Array<number>(projections.length).fill(-1);
  const imageOf = new Array<number>(slots.length).fill(-1);
  const fits = (s: number, i: number) => slots[s].accepts(projections[i]) || (wildcard && projections[i].length === 0);
  const augment = (s: number, seen: Set<number>): boolean => {
    for (let i = 0; i < projections.length; i++) {
      if (!fits(s, i) || seen.has(i)) continue;
      seen.add(i);
      if (slotOf[i] === -1 || augment(slotOf[i], seen)) {
        slotOf[i] = s;
        imageOf[s] = i;
        return true;
      }
    }
    return false;
  };
  slots.forEach((_, s) => augment(s, new Set()));
  return imageOf.map((i) => i !== -1);
}

function checkViews(
  item: MappedItem,
  label: Bilingual,
  images: Array<{ series: QualitySeries; ds: Dataset }>,
  completeness: Pick<Finding, 'severity' | 'basis'>,
): Finding[] {
  const slots = slotsFor(item);
  if (slots.length === 0) return [];
  const need = { zh: slots.map((s) => VIEW_LABEL[s.view].zh).join('、'), en: slots.map((s) => VIEW_LABEL[s.view].en).join(', ') };
  if (images.length < slots.length) {
    return [
      {
        code: 'QC-ITEM-DR-IMAGES-TOO-FEW',
        ...completeness,
        instances: uidList(images.map((i) => i.ds)),
        message: {
          zh: `项目 ${label.zh} 需要 ${slots.length} 幅图像（${need.zh}），检查中只有 ${images.length} 幅`,
          en: `Item ${label.en} needs ${slots.length} images (${need.en}); the study has ${images.length}`,
        },
      },
    ];
  }
  const projections = images.map(({ series, ds }) => projectionsOf(series, ds));
  const filled = matchSlots(slots, projections, false);
  if (filled.every(Boolean)) return [];
  const missing = slots.filter((_, i) => !filled[i]);
  const missingText = { zh: missing.map((s) => VIEW_LABEL[s.view].zh).join('、'), en: missing.map((s) => VIEW_LABEL[s.view].en).join(', ') };
  if (matchSlots(slots, projections, true).every(Boolean)) {
    return [
      {
        code: 'QC-ITEM-DR-VIEWS-UNVERIFIED',
        severity: 'warn',
        instances: uidList(images.filter((_, i) => projections[i].length === 0).map((i) => i.ds)),
        message: {
          zh: `项目 ${label.zh} 需要${need.zh}；部分图像未标明投照体位，无法确认${missingText.zh}`,
          en: `Item ${label.en} needs ${need.en}; some images do not state their projection, so ${missingText.en} cannot be confirmed`,
        },
      },
    ];
  }
  return [
    {
      code: 'QC-ITEM-DR-VIEWS-INCOMPLETE',
      ...completeness,
      instances: uidList(images.map((i) => i.ds)),
      message: {
        zh: `项目 ${label.zh} 需要${need.zh}，缺少${missingText.zh}`,
        en: `Item ${label.en} needs ${need.en}; missing: ${missingText.en}`,
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Contrast (CT and MR)

function checkContrast(
  item: MappedItem,
  label: Bilingual,
  stacks: Array<{ series: QualitySeries }>,
  completeness: Pick<Finding, 'severity' | 'basis'>,
): Finding[] {
  if (stacks.length === 0) return [];
  const post = stacks.filter((s) => isPostContrast(s.series));
  const plain = stacks.filter((s) => !isPostContrast(s.series));
  const findings: Finding[] = [];
  if ((item.contrast === 'contrast' || item.contrast === 'plain_and_contrast') && post.length === 0) {
    findings.push({
      code: 'QC-ITEM-CONTRAST-MISSING',
      ...completeness,
      message: {
        zh: `项目 ${label.zh} 为增强检查，但未发现增强序列（无 ContrastBolusAgent，序列描述亦无增强期相）`,
        en: `Item ${label.en} is contrast-enhanced, but no post-contrast series was found (no ContrastBolusAgent, no contrast phase in the descriptions)`,
      },
    });
  }
  if (item.contrast === 'plain_and_contrast' && plain.length === 0) {
    findings.push({
      code: 'QC-ITEM-PLAIN-MISSING',
      ...completeness,
      message: {
        zh: `项目 ${label.zh} 为平扫加增强，但未发现平扫序列`,
        en: `Item ${label.en} is plain plus contrast-enhanced, but no plain (pre-contrast) series was found`,
      },
    });
  }
  if (item.contrast === 'plain' && post.length > 0) {
    findings.push({
      code: 'QC-ITEM-CONTRAST-UNEXPECTED',
      severity: 'warn',
      instances: uidList(post.map((s) => s.series.instances[0])),
      message: {
        zh: `项目 ${label.zh} 为平扫，但 ${post.length} 个序列显示使用了对比剂，请核对项目归类`,
        en: `Item ${label.en} is a plain examination, but ${post.length} series show contrast agent: check the item mapping`,
      },
    });
  }
  return findings;
}

// ---------------------------------------------------------------------------------------------
// CT: thin slices, reconstructions, coverage, 3D

function checkCt(
  item: MappedItem,
  label: Bilingual,
  stacks: Array<{ series: QualitySeries; images: Dataset[] }>,
  completeness: Pick<Finding, 'severity' | 'basis'>,
): Finding[] {
  if (stacks.length === 0) return [];
  const findings: Finding[] = [];

  if (item.techniques.some((t) => THIN_SLICE_TECHNIQUES.includes(t))) {
    const thickness = stacks.map((s) => nums(s.images[0], 'SliceThickness')[0]);
    const known = thickness.filter((t): t is number => t !== undefined);
    if (!known.some((t) => t <= THIN_SLICE_MAX_MM)) {
      if (known.length < thickness.length) {
        findings.push({
          code: 'QC-ITEM-CT-THIN-SLICE-UNVERIFIED',
          severity: 'warn',
          message: {
            zh: `项目 ${label.zh} 需要层厚 ≤ ${THIN_SLICE_MAX_MM} mm 的薄层重建；部分序列未标明层厚，无法确认`,
            en: `Item ${label.en} needs a thin-slice reconstruction (≤ ${THIN_SLICE_MAX_MM} mm); some series do not state their slice thickness, so it cannot be confirmed`,
          },
        });
      } else {
        const thinnest = Math.min(...known);
        findings.push({
          code: 'QC-ITEM-CT-THIN-SLICE-MISSING',
          ...completeness,
          message: {
            zh: `项目 ${label.zh} 需要层厚 ≤ ${THIN_SLICE_MAX_MM} mm 的薄层重建，最薄序列为 ${thinnest} mm`,
            en: `Item ${label.en} needs a thin-slice reconstruction (≤ ${THIN_SLICE_MAX_MM} mm); the thinnest series is ${thinnest} mm`,
          },
        });
      }
    }
  }

  const group = ctGroupFor(item);
  if (group?.reconstructions) {
    const perSeries = stacks.map((s) => ctReconstructionsOf(s.series));
    const found = new Set(perSeries.flat());
    const missing = group.reconstructions.filter((r) => !found.has(r));
    if (missing.length) {
      const text = { zh: missing.map((r) => RECONSTRUCTION_LABEL[r].zh).join('、'), en: missing.map((r) => RECONSTRUCTION_LABEL[r].en).join(', ') };
      const unknown = perSeries.some((r) => r.length === 0);
      findings.push(
        unknown
          ? {
              code: 'QC-ITEM-CT-RECON-UNVERIFIED',
              severity: 'warn',
              message: {
                zh: `项目 ${label.zh} 需要${text.zh}；部分序列的重建算法/窗宽窗位无法识别，无法确认`,
                en: `Item ${label.en} needs ${text.en}; some series' kernel / window cannot be identified, so it cannot be confirmed`,
              },
            }
          : {
              code: 'QC-ITEM-CT-RECON-MISSING',
              ...completeness,
              message: {
                zh: `项目 ${label.zh}（${group.label.zh}）需要${group.reconstructions.map((r) => RECONSTRUCTION_LABEL[r].zh).join('和')}，缺少${text.zh}`,
                en: `Item ${label.en} (${group.label.en}) needs ${group.reconstructions.map((r) => RECONSTRUCTION_LABEL[r].en).join(' and ')}; missing: ${text.en}`,
              },
            },
      );
    }
  }

  if (group?.minCoverageMm) {
    const coverage = stacks.map((s) => zStack(s.series, s.images)?.coverageMm).filter((c): c is number => c !== undefined);
    if (coverage.length && Math.max(...coverage) < group.minCoverageMm) {
      const max = Math.round(Math.max(...coverage));
      findings.push({
        code: 'QC-ITEM-CT-COVERAGE-SHORT',
        severity: 'warn',
        message: {
          zh: `项目 ${label.zh} 的扫描范围仅 ${max} mm，少于${group.label.zh}通常的 ${group.minCoverageMm} mm，请确认部位是否完整`,
          en: `Item ${label.en}: the scan covers only ${max} mm, less than the ${group.minCoverageMm} mm usual for ${group.label.en}; check that the region is complete`,
        },
      });
    }
  }

  if (item.techniques.includes('3d_reconstruction')) {
    const has3d = stacks.some(({ series, images }) => {
      const type = strs(images[0], 'ImageType').map((t) => t.toUpperCase());
      return (
        type.some((t) => ['REFORMATTED', 'MPR', 'VOLUME', 'MIP', 'VR', 'PROJECTION IMAGE', 'CURVED'].includes(t)) ||
        /3D|\bVRT?\b|\bMPR\b|\bMIP\b|\bCPR\b|重建|重组/.test(descriptiveText(series, images[0]))
      );
    });
    if (!has3d) {
      findings.push({
        code: 'QC-ITEM-CT-3D-MISSING',
        severity: 'warn',
        message: {
          zh: `项目 ${label.zh} 含三维重建，但检查中未发现重建/重组图像`,
          en: `Item ${label.en} includes 3D reconstruction, but no reformatted / 3D images were found`,
        },
      });
    }
  }
  return findings;
}

// ---------------------------------------------------------------------------------------------
// MR sequences

interface SeriesFacts {
  weightings: MrWeighting[];
  plane?: Plane;
}

function requirementsFor(item: MappedItem): MrSequenceRequirement[] {
  const techniques = item.techniques.map((t) => TECHNIQUE_SEQUENCES[t]).filter((r): r is MrSequenceRequirement => !!r);
  const base = isTechniqueOnlyItem(item) ? [] : mrGroupFor(item).sequences;
  const key = (r: MrSequenceRequirement) => [...r.anyOf].sort().join('+');
  const required = new Set(techniques.map(key));
  // A technique the item names (含DWI) makes the group's recommendation a requirement.
  return [...base.filter((r) => !(r.level === 'recommended' && required.has(key(r)))), ...techniques];
}

type Outcome = 'met' | 'unverified' | 'missing';

function evaluate(req: MrSequenceRequirement, facts: SeriesFacts[]): Outcome {
  const matching = facts.filter((f) => f.weightings.some((w) => req.anyOf.includes(w)));
  const unknownWeighting = facts.some((f) => f.weightings.length === 0);
  if (req.minPlanes) {
    const planes = new Set(matching.map((f) => f.plane).filter(Boolean));
    if (planes.size >= req.minPlanes) return 'met';
    return unknownWeighting || matching.some((f) => !f.plane) ? 'unverified' : 'missing';
  }
  if (req.plane) {
    if (matching.some((f) => f.plane === req.plane)) return 'met';
    return unknownWeighting || matching.some((f) => !f.plane) ? 'unverified' : 'missing';
  }
  if (matching.length) return 'met';
  return unknownWeighting ? 'unverified' : 'missing';
}

function checkMrSequences(
  item: MappedItem,
  label: Bilingual,
  stacks: Array<{ series: QualitySeries }>,
  completeness: Pick<Finding, 'severity' | 'basis'>,
): Finding[] {
  if (stacks.length === 0) return [];
  const facts: SeriesFacts[] = stacks.map((s) => ({ weightings: mrWeightingsOf(s.series), plane: seriesPlane(s.series) }));
  const outcomes = requirementsFor(item).map((req) => ({ req, outcome: evaluate(req, facts) }));
  const list = (reqs: MrSequenceRequirement[]) => ({ zh: reqs.map((r) => r.label.zh).join('、'), en: reqs.map((r) => r.label.en).join(', ') });
  const missingRequired = outcomes.filter((o) => o.outcome === 'missing' && o.req.level === 'required').map((o) => o.req);
  const unverified = outcomes.filter((o) => o.outcome === 'unverified').map((o) => o.req);
  const missingRecommended = outcomes.filter((o) => o.outcome === 'missing' && o.req.level === 'recommended').map((o) => o.req);
  const findings: Finding[] = [];
  if (missingRequired.length) {
    findings.push({
      code: 'QC-ITEM-MR-SEQUENCE-MISSING',
      ...completeness,
      message: {
        zh: `项目 ${label.zh} 序列不完整，缺少：${list(missingRequired).zh}`,
        en: `Item ${label.en}: sequences incomplete, missing ${list(missingRequired).en}`,
      },
    });
  }
  if (unverified.length) {
    findings.push({
      code: 'QC-ITEM-MR-SEQUENCE-UNVERIFIED',
      severity: 'warn',
      message: {
        zh: `项目 ${label.zh}：部分序列无法识别加权类型或方位，无法确认 ${list(unverified).zh}`,
        en: `Item ${label.en}: some series' weighting or plane cannot be identified, so ${list(unverified).en} cannot be confirmed`,
      },
    });
  }
  if (missingRecommended.length) {
    findings.push({
      code: 'QC-ITEM-MR-SEQUENCE-RECOMMENDED',
      severity: 'warn',
      message: {
        zh: `项目 ${label.zh} 未包含常规推荐序列：${list(missingRecommended).zh}`,
        en: `Item ${label.en} lacks routinely recommended sequence(s): ${list(missingRecommended).en}`,
      },
    });
  }
  return findings;
}
