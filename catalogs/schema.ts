import { z } from 'zod';

/**
 * The format of a recognition catalog (catalogs/data/*.json). Every item is structured by
 * hand from the regional document; nothing here is guessed at run time.
 */

/** Normalised modality: DR covers CR/DX/DR; MG is mammography (listed under DR by 川渝/新疆). */
export const Modality = z.enum(['DR', 'MG', 'CT', 'MR']);

export const BodyRegion = z.enum([
  'head', // 头颅/颅脑
  'face', // 颌面、五官 (orbit, sinus, ear, nose, mandible, TMJ)
  'neck',
  'spine',
  'chest',
  'abdomen',
  'pelvis', // bony pelvis and pelvic cavity alike; the target tells which
  'upper_limb', // incl. shoulder girdle
  'lower_limb', // incl. hip joint
  'breast',
  'vascular',
  'whole_body',
]);

export const Laterality = z.enum(['left', 'right', 'bilateral', 'none']);

/**
 * 平扫 = plain; 增强 published as "contrast only" = contrast; 浙江's 增强 is defined as
 * 平扫加增强 = plain_and_contrast. DR and MG items have contrast 'none'.
 */
export const Contrast = z.enum(['none', 'plain', 'contrast', 'plain_and_contrast']);

export const Technique = z.enum([
  'cta',
  'ctv',
  'ctu',
  'ct_perfusion',
  'mra_tof',
  'mra_contrast', // CE-MRA
  'mra', // MRA without a stated method
  'mrv',
  'mrcp',
  'mru',
  'dwi',
  'swi',
  'mr_perfusion',
  'mrs',
  'dynamic', // 动态增强
  'low_dose',
  'high_resolution',
  'thin_slice',
  '3d_reconstruction', // 三维重建 / 三维
  'coronary_calcium',
  'cardiac', // cardiac-gated
  'fat_suppression',
  'dual_phase',
  'multi_phase',
  'mr_hydrography', // 水成像 other than MRCP/MRU (e.g. 内耳水成像)
]);

/** DR/MG projections. 正侧位 = [ap, lateral]; 正斜位 = [ap, oblique]; 侧轴位 = [lateral, axial]. */
export const View = z.enum([
  'ap', // 正位 (前后位 or 后前位 when not stated)
  'pa', // 后前位 stated explicitly
  'lateral', // 侧位
  'oblique', // 斜位
  'bilateral_oblique', // 双斜位
  'axial', // 轴位
  'flexion_extension', // 过伸过屈位 (过伸过展位)
  'open_mouth', // 张口位
  'mlo', // 乳腺轴斜位 / 内外侧斜位
  'cc', // 乳腺头尾位
  'standing', // 立位 / 站立
  'supine', // 卧位
  'decubitus', // 侧卧水平位
  'weight_bearing', // 负重位
]);

export const PatientGroup = z.enum(['infant', 'bone_age', 'child', 'adult']);

const nonEmpty = z.string().min(1);

export const Item = z.object({
  /** Published code, kept exactly; or a huren-assigned code where none is published (川渝). */
  code: nonEmpty,
  codeAssignedBy: z.enum(['publisher', 'huren']),
  /** 序号 in the document. */
  seq: z.number().int().positive(),
  modality: Modality,
  /** Published columns verbatim (OCR errors in them are corrected only in nameZh etc., and recorded). */
  published: z.object({
    modality: nonEmpty,
    part: nonEmpty,
    name: nonEmpty,
    description: z.string().optional(),
  }),
  /** Corrected Chinese name (项目中文简称). */
  nameZh: nonEmpty,
  /** Corrected 项目释义 where the document gives one (浙江). */
  descriptionZh: z.string().optional(),
  nameEn: nonEmpty,
  region: BodyRegion,
  /** Anatomic target: a key from catalogs/targets.ts. Several for combined items (颈胸段 etc.). */
  targets: z.array(nonEmpty).min(1),
  laterality: Laterality,
  contrast: Contrast,
  techniques: z.array(Technique),
  /** DR/MG only: the set of projections the item consists of; [] for CT/MR. */
  views: z.array(View),
  patientGroup: PatientGroup.optional(),
  /** Where the published columns look inconsistent: flagged, never rewritten. */
  flags: z.array(z.object({ code: nonEmpty, note: nonEmpty })).default([]),
});

export const Correction = z.object({
  item: nonEmpty, // item code
  field: z.enum(['name', 'description', 'part', 'rule']),
  from: nonEmpty,
  to: nonEmpty,
  why: nonEmpty,
});

export const Bilingual = z.object({ zh: nonEmpty, en: nonEmpty });

/** Institution levels (医院等级). Tier = the leading digit. */
export const InstitutionLevel = z.enum(['L3A', 'L3B', 'L2A', 'L2B', 'L1', 'other']);
export const InstitutionKind = z.enum(['hospital', 'independent_imaging_centre']);

/**
 * One institution-scope rule. Evaluated by the recognition service:
 * receiver and sender must match their selectors and the relation must hold.
 * `strength`: 'should' (原则上应予认可 / 予以认可) → recognizable; 'may' (可/可酌情) → discretionary.
 */
const LevelSelector = z.object({
  levels: z.array(InstitutionLevel).min(1),
  kinds: z.array(InstitutionKind).default(['hospital']),
  publicOnly: z.boolean().default(false),
  /** Sender must hold a quality-control accreditation for the item (具备能力 / 经质控中心考核). */
  requiresAccreditation: z.boolean().default(false),
});
export const ScopeRule = z.object({
  code: nonEmpty,
  zh: nonEmpty,
  en: nonEmpty,
  receiver: LevelSelector.optional(),
  sender: LevelSelector.optional(),
  relation: z.enum(['any', 'same_tier', 'sender_higher_tier', 'same_group']),
  strength: z.enum(['should', 'may']),
  /** Quote of the document's sentence the rule encodes. */
  source: nonEmpty,
});

export const Catalog = z.object({
  id: z.enum(['chuanyu-2025', 'xinjiang', 'zhejiang-2021']),
  version: nonEmpty,
  region: z.object({ code: z.enum(['CY', 'XJ', 'ZJ']), zh: nonEmpty, en: nonEmpty }),
  document: z.object({
    title: nonEmpty,
    issuer: nonEmpty,
    number: z.string().optional(),
    /** Issue date ISO yyyy-mm-dd when the text states it. */
    date: z.string().optional(),
    seedFile: nonEmpty,
  }),
  effectiveDate: z.string().optional(),
  /** See catalogs/validity.ts for how the window is counted in Asia/Shanghai. */
  validity: z.discriminatedUnion('unit', [
    z.object({ unit: z.literal('days'), value: z.number().int().positive(), source: nonEmpty }),
    z.object({ unit: z.literal('months'), value: z.number().int().positive(), source: nonEmpty }),
  ]),
  /** Situations where recognition is not required (不予互认), stable reason codes. */
  nonRecognitionReasons: z.array(Bilingual.extend({ code: nonEmpty })),
  scopeRules: z.array(ScopeRule),
  /** The document's requirements for a recognizable exam (report + images, original DICOM …). */
  requirements: z.array(Bilingual.extend({ code: nonEmpty })),
  codeFormat: z.string(), // a RegExp source every item code matches
  itemCount: z.number().int().positive(),
  items: z.array(Item),
  corrections: z.array(Correction),
});

export type Catalog = z.infer<typeof Catalog>;
export type CatalogItem = z.infer<typeof Item>;
export type ScopeRule = z.infer<typeof ScopeRule>;
