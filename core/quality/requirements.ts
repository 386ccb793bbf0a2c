import type { CatalogItem } from '../../catalogs/schema';
import type { CtReconstruction, MrWeighting, Plane } from './classify';
import type { Bilingual, MappedItem, Severity } from './types';

/**
 * What a mapped catalog item requires of the images, as data. The catalogs name items
 * (腰椎MRI平扫, 胸部CT平扫) but not their protocols; the protocols below encode common
 * Chinese radiology QC practice, from:
 *
 * - [MRI共识] 中华医学会影像技术分会、中华医学会放射学分会《MRI检查技术专家共识》(中华放射学杂志 2016)
 *   and the national textbook 《医学影像检查技术学》(人民卫生出版社): routine MR of a region is
 *   T1WI + T2WI in at least two planes, with the region-specific sequences listed per group.
 * - [CT共识] 中华医学会影像技术分会、中华医学会放射学分会《CT检查技术专家共识》(中华放射学杂志 2016):
 *   chest CT is read in lung and mediastinal windows (肺窗 + 纵隔窗), thin-slice reconstruction for
 *   high-resolution and skeletal work.
 * - [LDCT] 《中国肺癌低剂量CT筛查指南（2023年版）》 and the 2015 专家共识 of 中华医学会放射学分会心胸学组:
 *   screening CT reconstructed at ≤ 1.25 mm.
 * - The catalogs' own requirements (catalogs/data/*.json `requirements`), cited by code in CATALOG_RULES.
 *
 * Thresholds that are huren's own judgement (coverage minimums) are marked as such; every
 * finding they produce is at most 'warn'.
 */

// ---------------------------------------------------------------------------------------------
// Which catalog requirements make a shortfall a 'fail'

export type RequirementKind =
  /** A diagnostic report must accompany the images. */
  | 'report'
  /** The examination must be complete: projections, sequences, phases, reconstructions. */
  | 'completeness'
  /** Patient basic information and examination date must be accurate. */
  | 'identity'
  /** Original DICOM image data (not screenshots or film scans). */
  | 'originalDicom';

/**
 * Per catalog, the requirement codes (catalogs/data/<id>.json `requirements`) that make each kind
 * of shortfall a recognition requirement. Where a catalog states nothing (川渝 2025 publishes only
 * the item list and the period), the shortfall stays a 'warn' for the physician.
 */
export const CATALOG_RULES: Record<string, Partial<Record<RequirementKind, string[]>>> = {
  // 需提供或具备完整、清晰的文字报告及相关影像图片资料 (XJ-REQ-05); 拍摄部位正确完整 (XJ-REQ-08);
  // 需提供符合DICOM标准的原始医学影像数据 (XJ-REQ-09).
  xinjiang: { report: ['XJ-REQ-05'], completeness: ['XJ-REQ-05', 'XJ-REQ-08'], originalDicom: ['XJ-REQ-09'] },
  // 检查项目齐全 (ZJ-REQ-02); 序列完整 (ZJ-REQ-03); 患者基本信息和检查日期准确 (ZJ-REQ-07);
  // 提供30天内规范完整的检查报告和相应影像资料 (ZJ-REQ-09).
  'zhejiang-2021': { report: ['ZJ-REQ-09'], completeness: ['ZJ-REQ-02', 'ZJ-REQ-03'], identity: ['ZJ-REQ-07'] },
  'chuanyu-2025': {},
};

/**
 * 'fail' when one of the items' catalogs makes `kind` a recognition requirement (with the
 * requirement codes as basis), else `otherwise` (default 'warn').
 */
export function severityFor(
  items: ReadonlyArray<Pick<MappedItem, 'catalogId'>>,
  kind: RequirementKind,
  otherwise: Severity = 'warn',
): { severity: Severity; basis?: string[] } {
  const basis = [...new Set(items.flatMap((i) => CATALOG_RULES[i.catalogId]?.[kind] ?? []))];
  return basis.length ? { severity: 'fail', basis } : { severity: otherwise };
}

// ---------------------------------------------------------------------------------------------
// DR / MG

/** Catalog views that are projections (checked); the others (standing, supine, weight_bearing) are patient positions, not visible in DICOM attributes. */
export const PROJECTION_VIEWS = [
  'ap',
  'pa',
  'lateral',
  'oblique',
  'bilateral_oblique',
  'axial',
  'flexion_extension',
  'open_mouth',
  'mlo',
  'cc',
  'decubitus',
] as const;

/** How many images each catalog view needs (双斜位 = both obliques, 过伸过屈位 = flexion + extension). */
export const VIEW_IMAGE_COUNT: Partial<Record<CatalogItem['views'][number], number>> = { bilateral_oblique: 2, flexion_extension: 2 };

// ---------------------------------------------------------------------------------------------
// MR

export interface MrSequenceRequirement {
  /** Any of these weightings satisfies the requirement (PD-FS and STIR are T2-like in joints). */
  anyOf: MrWeighting[];
  /** Acquired in this plane; absent = any plane. */
  plane?: Plane;
  /** Present in at least this many different planes. */
  minPlanes?: number;
  /** 'required' shortfalls follow the catalog's completeness rule; 'recommended' ones are at most 'warn'. */
  level: 'required' | 'recommended';
  label: Bilingual;
}

export interface MrGroup {
  id: string;
  label: Bilingual;
  /** Matches an item whose targets intersect these, or (when given) whose region is one of these. */
  targets?: string[];
  regions?: CatalogItem['region'][];
  sequences: MrSequenceRequirement[];
}

const seq = (anyOf: MrWeighting[], label: [string, string], opts: Partial<Omit<MrSequenceRequirement, 'anyOf' | 'label'>> = {}): MrSequenceRequirement => ({
  anyOf,
  level: 'required',
  label: { zh: label[0], en: label[1] },
  ...opts,
});
const T2_LIKE: MrWeighting[] = ['T2', 'PD', 'STIR'];

/** First match wins; the last group is the fallback for any MR item. */
export const MR_GROUPS: MrGroup[] = [
  {
    // [MRI共识] 脊柱: 矢状位 T1WI、T2WI（可加脂肪抑制）+ 横断位 T2WI (病变节段/椎间盘).
    id: 'mr-spine',
    label: { zh: '脊柱MR', en: 'spine MR' },
    targets: [
      'cervical_spine',
      'thoracic_spine',
      'lumbar_spine',
      'sacrum',
      'coccyx',
      'sacrococcygeal_spine',
      'cervicothoracic_spine',
      'thoracolumbar_spine',
      'lumbosacral_spine',
      'whole_spine',
      'lumbar_disc',
    ],
    sequences: [
      seq(['T1'], ['矢状位T1WI', 'sagittal T1'], { plane: 'sagittal' }),
      seq(['T2', 'STIR'], ['矢状位T2WI', 'sagittal T2'], { plane: 'sagittal' }),
      seq(['T2'], ['横断位T2WI', 'axial T2'], { plane: 'axial' }),
    ],
  },
  {
    // [MRI共识] 颅脑: 横断位 T1WI、T2WI、T2-FLAIR, DWI (b≈1000 s/mm²) as routine; the catalogs list
    // 头颅平扫 and 头颅平扫（含DWI）separately, so DWI is required only by items with the dwi technique.
    id: 'mr-brain',
    label: { zh: '颅脑MR', en: 'brain MR' },
    targets: ['brain', 'hippocampus'],
    sequences: [
      seq(['T1'], ['T1WI', 'T1'], {}),
      seq(['T2'], ['T2WI', 'T2'], {}),
      seq(['FLAIR'], ['T2-FLAIR', 'FLAIR'], {}),
      seq(['DWI'], ['DWI', 'DWI'], { level: 'recommended' }),
    ],
  },
  {
    // [MRI共识] 垂体/鞍区: 矢状位及冠状位薄层 T1WI, 冠状位 T2WI.
    id: 'mr-sella',
    label: { zh: '鞍区/垂体MR', en: 'sella / pituitary MR' },
    targets: ['sella'],
    sequences: [
      seq(['T1'], ['矢状位T1WI', 'sagittal T1'], { plane: 'sagittal' }),
      seq(['T1'], ['冠状位T1WI', 'coronal T1'], { plane: 'coronal' }),
      seq(['T2'], ['冠状位T2WI', 'coronal T2'], { plane: 'coronal', level: 'recommended' }),
    ],
  },
  {
    // [MRI共识] 骶髂关节: 斜冠状位 T1WI 与 STIR/T2WI-FS, 横断位 T2WI-FS.
    id: 'mr-sacroiliac',
    label: { zh: '骶髂关节MR', en: 'sacroiliac joint MR' },
    targets: ['sacroiliac_joint'],
    sequences: [
      seq(['T1'], ['冠状位T1WI', 'coronal T1'], { plane: 'coronal' }),
      seq(T2_LIKE, ['冠状位STIR/T2WI脂肪抑制', 'coronal STIR / fat-suppressed T2'], { plane: 'coronal' }),
      seq(T2_LIKE, ['横断位T2WI脂肪抑制', 'axial fat-suppressed T2'], { plane: 'axial', level: 'recommended' }),
    ],
  },
  {
    // [MRI共识] 关节与四肢: T1WI + 脂肪抑制 PDWI/T2WI in at least two planes (膝关节 矢状、冠状、横断位).
    id: 'mr-musculoskeletal',
    label: { zh: '关节/四肢MR', en: 'joint / limb MR' },
    regions: ['upper_limb', 'lower_limb'],
    sequences: [
      seq(['T1'], ['T1WI', 'T1'], {}),
      seq(T2_LIKE, ['至少两个方位的PDWI/T2WI(脂肪抑制)', '(fat-suppressed) PD/T2 in at least two planes'], { minPlanes: 2 }),
    ],
  },
  {
    // [MRI共识] 乳腺: 横断位 T2WI(脂肪抑制)、T1WI, DWI; dynamic contrast for 动态增强 items (technique 'dynamic').
    id: 'mr-breast',
    label: { zh: '乳腺MR', en: 'breast MR' },
    targets: ['breast'],
    sequences: [
      seq(T2_LIKE, ['T2WI(脂肪抑制)', '(fat-suppressed) T2'], {}),
      seq(['T1'], ['T1WI', 'T1'], {}),
      seq(['DWI'], ['DWI', 'DWI'], { level: 'recommended' }),
    ],
  },
  {
    // [MRI共识] 腹部/盆腔: 横断位 T1WI（同反相位）、T2WI(脂肪抑制), DWI; 盆腔加矢状位/冠状位 T2WI.
    id: 'mr-abdomen-pelvis',
    label: { zh: '腹部/盆腔MR', en: 'abdominal / pelvic MR' },
    regions: ['abdomen', 'pelvis'],
    sequences: [
      seq(['T1'], ['横断位T1WI', 'axial T1'], { plane: 'axial' }),
      seq(['T2', 'STIR'], ['T2WI', 'T2'], {}),
      seq(['DWI'], ['DWI', 'DWI'], { level: 'recommended' }),
    ],
  },
  {
    // [MRI共识] any region: routine MR is T1WI and T2WI, in at least two planes.
    id: 'mr-routine',
    label: { zh: '常规MR', en: 'routine MR' },
    sequences: [
      seq(['T1'], ['T1WI', 'T1'], {}),
      seq(T2_LIKE, ['T2WI', 'T2'], {}),
      seq(['T1', 'T2', 'PD', 'STIR', 'FLAIR'], ['两个以上方位', 'two or more planes'], { minPlanes: 2, level: 'recommended' }),
    ],
  },
];

/** Techniques that are a sequence of their own: an item with the technique needs that series. */
export const TECHNIQUE_SEQUENCES: Partial<Record<CatalogItem['techniques'][number], MrSequenceRequirement>> = {
  dwi: seq(['DWI'], ['DWI', 'DWI'], {}),
  swi: seq(['SWI', 'T2STAR'], ['SWI', 'SWI'], {}),
  mra_tof: seq(['MRA'], ['TOF-MRA', 'TOF MRA'], {}),
  mra: seq(['MRA'], ['MRA', 'MRA'], {}),
  mra_contrast: seq(['MRA'], ['增强MRA', 'contrast-enhanced MRA'], {}),
  mrv: seq(['MRV', 'MRA'], ['MRV', 'MRV'], {}),
  mrcp: seq(['MRCP'], ['MRCP', 'MRCP'], {}),
  mru: seq(['MRCP'], ['MRU', 'MR urography'], {}),
  mr_hydrography: seq(['HYDRO', 'MRCP'], ['水成像', 'MR hydrography'], {}),
  mr_perfusion: seq(['PERFUSION'], ['灌注成像', 'perfusion'], {}),
  dynamic: seq(['DYNAMIC'], ['动态增强', 'dynamic contrast-enhanced series'], {}),
};

/**
 * Items that are one technique only (头颅TOF MRA, 头颅SWI, MRCP): no routine T1/T2 set is
 * required of them. Items named 平扫/增强 or "含…" (头颅MRI平扫（含DWI）) get the routine set too.
 */
export function isTechniqueOnlyItem(item: CatalogItem): boolean {
  if (item.region === 'vascular') return true;
  const standalone = item.techniques.some((t) => TECHNIQUE_SEQUENCES[t] && t !== 'dwi' && t !== 'dynamic');
  return standalone && !/平扫|增强|含/.test(item.nameZh);
}

export function mrGroupFor(item: CatalogItem): MrGroup {
  return (
    MR_GROUPS.find((g) => (g.targets && item.targets.some((t) => g.targets!.includes(t))) || (g.regions && g.regions.includes(item.region))) ??
    MR_GROUPS[MR_GROUPS.length - 1]
  );
}

// ---------------------------------------------------------------------------------------------
// CT

/** Thin-slice reconstruction: ≤ 1.25 mm ([CT共识] 薄层重建; [LDCT] 1.0–1.25 mm). */
export const THIN_SLICE_MAX_MM = 1.25;

/** Item techniques that need a thin-slice reconstruction. */
export const THIN_SLICE_TECHNIQUES: ReadonlyArray<CatalogItem['techniques'][number]> = ['thin_slice', 'high_resolution', 'low_dose'];

export interface CtGroup {
  id: string;
  label: Bilingual;
  targets: string[];
  /** Reconstructions the item needs ([CT共识]: chest in lung and mediastinal windows). */
  reconstructions?: CtReconstruction[];
  /**
   * Smallest acceptable z-coverage of the longest axial series, in mm. huren's conservative
   * lower bounds (an adult chest is ~250–300 mm, a brain ~120–140 mm; children are smaller),
   * so a shortfall is only ever a 'warn'.
   */
  minCoverageMm?: number;
}

export const CT_GROUPS: CtGroup[] = [
  {
    id: 'ct-chest',
    label: { zh: '胸部CT', en: 'chest CT' },
    targets: ['chest', 'lung', 'mediastinum'],
    reconstructions: ['lung', 'mediastinal'],
    minCoverageMm: 150,
  },
  { id: 'ct-brain', label: { zh: '颅脑CT', en: 'head CT' }, targets: ['brain'], minCoverageMm: 80 },
  { id: 'ct-abdomen', label: { zh: '全腹部CT', en: 'abdominal CT' }, targets: ['abdomen'], minCoverageMm: 200 },
  { id: 'ct-upper-abdomen', label: { zh: '上腹部CT', en: 'upper abdominal CT' }, targets: ['upper_abdomen', 'liver'], minCoverageMm: 100 },
];

export function ctGroupFor(item: CatalogItem): CtGroup | undefined {
  return CT_GROUPS.find((g) => item.targets.some((t) => g.targets.includes(t)));
}

export const RECONSTRUCTION_LABEL: Record<CtReconstruction, Bilingual> = {
  lung: { zh: '肺窗（肺算法/锐利核）', en: 'lung window (sharp / lung kernel)' },
  mediastinal: { zh: '纵隔窗（软组织算法）', en: 'mediastinal window (soft-tissue kernel)' },
};
