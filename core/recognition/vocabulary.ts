import type { ModalityGroup, RegionTarget, Side, Technique, ViewWord } from './classifier/types';
import { normalizeText } from './classifier/normalize';
import { ANATOMY_TERMS, type RegionMeaning } from './classifier/vocabulary-anatomy';

/**
 * The recognition lexicon, hand-written: what a word in a study description, a series description,
 * a procedure code meaning or a body-part tag says. Anatomy is in vocabulary-anatomy.ts; this file
 * holds sides, projections, contrast, techniques, modality words and the markers of examinations
 * no catalog covers. Terms are written normalised (see text.ts): NFKC, lower case, '-' and '_'
 * between letters as a space ('L-SP' → 'l sp', 'T2_TSE_SAG' → 't2 tse sag').
 */

export type Meaning =
  | RegionMeaning
  /** weak: a single letter (L, R) that counts only right next to a body part ('KNEE R', 'L KNEE'). */
  | { kind: 'side'; side: Side; weak?: true }
  /** fallback: 平片 says "a frontal film" only when no projection is written. */
  | { kind: 'view'; views: readonly ViewWord[]; fallback?: true }
  /** phase: a series-level phase word (动脉期, PORTAL, PRE) rather than an order word. */
  | { kind: 'contrast'; contrast: 'plain' | 'contrast' | 'both'; phase?: true }
  /** An examination usually done with contrast (multiparametric prostate MRI): never assume plain. */
  | { kind: 'contrast_possible' }
  /**
   * target: the region a technique names by itself (MRCP → biliary tree, CTPA → pulmonary arteries).
   * nonContrast: ASL, the perfusion technique without contrast medium.
   */
  | { kind: 'technique'; techniques: readonly Technique[]; target?: RegionTarget; nonContrast?: true }
  /** 血管造影 / 血管成像 / ANGIO: CTA on CT, MRA on MR. */
  | { kind: 'angiography' }
  /** 造影 alone: a contrast study — fluoroscopic (not applicable) on DR, a contrast word on CT/MR. */
  | { kind: 'contrast_study' }
  | { kind: 'modality'; modality: ModalityGroup | 'other' }
  | { kind: 'not_applicable'; label: string }
  | { kind: 'group'; group: 'infant' }
  | { kind: 'separator' }
  /** Scouts, localizers and dose pages: not an acquisition of the examined region. */
  | { kind: 'localizer' }
  /** Bolus tracking: the study was contrast-enhanced (a CTA hint). */
  | { kind: 'bolus' }
  /** Words that must be consumed so that a shorter term inside them does not match (手术 ≠ 手). */
  | { kind: 'noise' };

type Entry = readonly [terms: readonly string[], meaning: Meaning];

const side = (s: Side, weak?: true): Meaning => (weak ? { kind: 'side', side: s, weak } : { kind: 'side', side: s });
const view = (...views: ViewWord[]): Meaning => ({ kind: 'view', views });
const tech = (techniques: Technique | Technique[], target?: RegionTarget): Meaning =>
  target
    ? { kind: 'technique', techniques: typeof techniques === 'string' ? [techniques] : techniques, target }
    : { kind: 'technique', techniques: typeof techniques === 'string' ? [techniques] : techniques };
const plain: Meaning = { kind: 'contrast', contrast: 'plain' };
const enhanced: Meaning = { kind: 'contrast', contrast: 'contrast' };
const na = (label: string): Meaning => ({ kind: 'not_applicable', label });

// prettier-ignore
const SIDE_TERMS: readonly Entry[] = [
  [['左', '左侧', '左边', 'left', 'lt', 'lft'], side('left')],
  [['右', '右侧', '右边', 'right', 'rt', 'rght'], side('right')],
  [['双', '双侧', '两侧', '双边', '左右', '左、右', 'bilateral', 'bilat', 'bil', 'both', 'b/l'], side('bilateral')],
  [['l'], side('left', true)],
  [['r'], side('right', true)],
];

/** DR/MG projections (ignored on CT/MR, where 'axial' or 'sag' are planes). */
// prettier-ignore
const VIEW_TERMS: readonly Entry[] = [
  [['正位', '正面', 'frontal'], view('frontal')],
  [['后前位', 'pa', 'postero anterior', 'posteroanterior'], view('pa')],
  [['前后位', 'ap', 'antero posterior', 'anteroposterior'], view('ap')],
  [['侧位', 'lat', 'lateral', 'medio lateral', 'latero medial', 'ml', 'lm'], view('lateral')],
  // Named lateral projections; as terms they also keep their body-part characters (穿胸位: 胸) from reading as a region.
  [['穿胸位', '穿胸侧位', '蛙式位', '蛙位', 'y位', '肩胛y位', 'transthoracic', 'scapular y', 'y view', 'frog leg', 'frog lateral'], view('lateral')],
  [['左侧位', 'left lateral'], view('lateral_left')],
  [['右侧位', 'right lateral'], view('lateral_right')],
  [['斜位', 'obl', 'oblique'], view('oblique')],
  [['双斜位', '左右斜位', 'obliques', 'obls', 'bilateral oblique', 'bilateral obliques', 'both obliques', 'bil obl'], view('bilateral_oblique')],
  [['轴位', '切线位', 'axial', 'sunrise', 'skyline', 'merchant'], view('axial')],
  [['正侧位', '正侧', '正,侧位', '正/侧位', '正及侧位', '正+侧位', '后前位及侧位', '后前位+侧位', '正位及侧位', '正位+侧位'], view('frontal', 'lateral')],
  [['正斜位', '正斜', '正,斜位', '正位及斜位', '正位+斜位'], view('frontal', 'oblique')],
  [['侧轴位', '轴侧位', '轴位加侧位', '侧位+轴位', '轴位+侧位'], view('lateral', 'axial')],
  [['过伸过屈位', '过伸过屈', '过屈过伸位', '过伸过展位', '过伸位及过屈位', '功能位', 'flexion extension', 'flex ext', 'flex/ext', 'flexion/extension'], view('flexion_extension')],
  [['张口位', '开口位', 'open mouth', 'odontoid'], view('open_mouth')],
  [['立位', '站立位', '站立', '直立位', '直立', 'standing', 'erect', 'upright'], view('standing')],
  [['负重位', '负重', 'weight bearing', 'wb'], view('weight_bearing')],
  [['卧位', '仰卧位', '仰卧', '平卧位', '平卧', 'supine'], view('supine')],
  [['侧卧位', '侧卧水平位', 'decubitus', 'decub'], view('decubitus')],
  [['头尾位', 'cc', 'cranio caudal', 'craniocaudal'], view('cc')],
  [['轴斜位', '内外侧斜位', '内外斜位', 'mlo', 'medio lateral oblique', 'mediolateral oblique'], view('mlo')],
  [['平片', '平片摄影'], { kind: 'view', views: ['frontal'], fallback: true }],
];

// prettier-ignore
const CONTRAST_TERMS: readonly Entry[] = [
  // Negated phrases are terms of their own, so that 'W/O IV CONTRAST' is not read as 'w/o' + 'iv contrast'.
  [['平扫', '普通扫描', '常规扫描', '非增强', '常规平扫', 'w/o', 'wo', 'w o', 'without', 'without contrast', 'w/o contrast', 'wo contrast', 'w/o iv contrast', 'wo iv contrast', 'without iv contrast', 'no contrast', 'no iv contrast', 'non contrast', 'noncontrast', 'non con', 'non enhanced', 'nonenhanced', 'plain', 'unenhanced', 'c-', 'nc', 'ncct'], plain],
  [['增强', '增强扫描', '强化', '加强', '+c', 'c+', '+gd', 'gd+', 'with contrast', 'w contrast', 'w/ contrast', 'w/contrast', 'w iv contrast', 'with iv contrast', 'w/', 'w', 'enhanced', 'contrast', 'ce', 'cect', 'gd', 'gad', 'gado', 'post', 'post contrast', 'post gd', 'iv contrast', 'enh'], enhanced],
  // Both in one term; elsewhere a plain and a contrast word together mean both (平扫+增强).
  [['w/wo', 'w/ wo', 'w/ w/o', 'w/o w/', 'w/o+w', 'wwo', 'w wo', 'w&wo', 'w & wo', 'w+wo', 'wo/w', 'with and without', 'with & without', 'with/without', 'pre and post', 'pre/post', 'pre & post', 'c+/-', 'c+/c-', '平扫加增强', '平扫及增强', '平扫和增强', '平扫+增强'], { kind: 'contrast', contrast: 'both' }],
  // Phase words, mostly series descriptions. 'pre' alone is a pre-contrast series.
  [['动脉期', '静脉期', '门脉期', '门静脉期', '延迟期', '实质期', '平衡期', '皮质期', '排泄期', 'arterial', 'art', 'venous', 'portal', 'pv', 'delay', 'delayed', 'equilibrium', 'nephrographic', 'excretory'], { kind: 'contrast', contrast: 'contrast', phase: true }],
  [['pre', 'precontrast', 'pre contrast', 'native', '平扫期'], { kind: 'contrast', contrast: 'plain', phase: true }],
];

// prettier-ignore
const TECHNIQUE_TERMS: readonly Entry[] = [
  [['cta', 'ct angiography', 'ct angio', 'ct血管成像', 'ct血管造影', 'cta增强'], tech('cta')],
  [['ctpa', 'cta pe', 'pe protocol', 'pe study'], tech('cta', 'pulmonary_arteries')],
  [['ccta', 'coronary cta', 'cta coronary', 'cta coronaries'], tech('cta', 'coronary_arteries')],
  [['ctv', 'ct venography', 'ct静脉成像'], tech('ctv')],
  [['ctu', 'ct urography', 'ct urogram', 'ct尿路成像', 'ct尿路造影', '尿路成像', '尿路造影', 'urography', 'urogram'], tech('ctu', 'urinary_tract')],
  [['灌注', '灌注成像', 'perfusion', 'perf', 'ctp', 'pwi', 'dsc'], tech(['ct_perfusion', 'mr_perfusion'])],
  [['asl', 'pcasl', 'pasl', '3d asl', 'asl法', 'arterial spin labeling', 'arterial spin labelling'], { kind: 'technique', techniques: ['mr_perfusion'], nonContrast: true }],
  [['mra', 'mr angiography', 'mr angio', '磁共振血管成像', 'mr血管成像', 'mri血管成像'], tech('mra')],
  [['tof', 'tof mra', 'tofmra', '3d tof', 'tof 3d', 'time of flight', 'fl3d tof'], tech('mra_tof')],
  [['ce mra', 'cemra', 'contrast mra', '增强mra', '对比增强mra'], tech('mra_contrast')],
  [['mrv', 'mr venography', 'mr静脉成像', '静脉成像', '静脉造影'], tech(['mrv', 'ctv'])],
  [['mrcp', '胰胆管水成像', '胆道水成像', '胰胆管成像', 'mr胰胆管成像', '胆胰管水成像'], tech('mrcp', 'biliary')],
  [['mru', '尿路水成像', 'mr尿路成像', 'mr urography'], tech('mru', 'urinary_tract')],
  [['水成像', '含水成像', 'hydrography'], tech('mr_hydrography')],
  [['dwi', '弥散', '弥散加权', '扩散加权', '弥散成像', 'diffusion', 'diff', 'adc', 'trace', 'ep2d diff', 'dwi adc', 'dti'], tech('dwi')],
  [['swi', '磁敏感', '磁敏感加权', 'swan', 'venobold', 'swip', 'susceptibility', 'swi3d'], tech('swi')],
  [['mrs', '波谱', '磁共振波谱', 'spectroscopy', 'svs', 'csi'], tech('mrs')],
  [['multiparametric', 'mpmri', 'mp mri', '多参数'], { kind: 'contrast_possible' }],
  [['动态', '动态增强', 'dynamic', 'dyn', 'dce', 'twist', 'dynamic contrast'], tech('dynamic')],
  [['低剂量', 'low dose', 'lowdose'], tech('low_dose')],
  [['ldct'], tech('low_dose', 'chest')],
  [['高分辨', '高分辨率', 'high resolution', 'hi res', 'high res'], tech('high_resolution')],
  [['hrct'], tech('high_resolution', 'chest')],
  [['薄层', '薄层扫描', 'thin slice', 'thin'], tech('thin_slice')],
  [['三维', '三维重建', '3d', '3d重建', 'vr', '重建', 'mpr', 'recon', 'reconstruction'], tech('3d_reconstruction')],
  [['钙化积分', 'calcium score', 'calcium scoring', 'ca score', 'cacs'], tech('coronary_calcium', 'coronary_arteries')],
  [['心电门控', 'gated', 'ecg gated', 'ecg triggered'], tech('cardiac')],
  [['压脂', '脂肪抑制', 'fat sat', 'fatsat', 'fs', 'stir', 'spair', 'dixon'], tech('fat_suppression')],
  [['双期', '双期增强', 'dual phase', 'biphasic'], tech('dual_phase')],
  [['三期', '多期', '多期增强', 'triphasic', 'multiphase', 'multi phase'], tech('multi_phase')],
  [['血管造影', '血管成像', 'angio', 'angiography', 'angiogram'], { kind: 'angiography' }],
  [['造影'], { kind: 'contrast_study' }],
];

/** A modality word in a description; a study whose words and DICOM modality disagree needs review. */
// prettier-ignore
const MODALITY_TERMS: readonly Entry[] = [
  [['ct', 'cts', '计算机断层', '螺旋ct', '多排ct'], { kind: 'modality', modality: 'CT' }],
  [['mr', 'mri', 'mri扫描', 'nmr', '磁共振', '核磁', '核磁共振', 'mr扫描'], { kind: 'modality', modality: 'MR' }],
  [['dr', 'cr', 'dx', 'xr', 'x线', 'x光', 'x线摄影', '摄影', '摄片', '拍片', 'radiograph', 'x ray', 'xray'], { kind: 'modality', modality: 'DR' }],
  [['钼靶', '乳腺x线', '乳腺摄影', 'mammo', 'mammography', 'mammogram', 'mg', 'tomosynthesis'], { kind: 'modality', modality: 'MG' }],
];

/** Examinations outside every catalog: ultrasound, nuclear medicine, fluoroscopy, intervention … */
// prettier-ignore
const NOT_APPLICABLE_TERMS: readonly Entry[] = [
  [['超声', '彩超', 'b超', '彩色多普勒', '多普勒', 'ultrasound', 'us', 'sonography', 'doppler', '心脏彩超'], na('ultrasound')],
  [['pet', 'pet ct', 'pet/ct', 'petct', 'pet mr', 'pet/mr', 'spect', 'spect/ct', '核医学', '骨扫描', '骨显像', 'bone scan', '显像'], na('nuclear medicine')],
  [['骨密度', '骨密度测定', 'bmd', 'dxa', 'dexa', 'bone density', 'densitometry'], na('bone densitometry')],
  [['透视', '钡餐', '钡剂', '钡灌肠', '吞钡', 'fluoro', 'fluoroscopy', 'barium', 'swallow', 'ugi'], na('fluoroscopy')],
  [['dsa', '数字减影', 'ercp', 'hsg', '子宫输卵管', 'ivp', 'ivu', '静脉肾盂', '排泄性尿路', 'arthrogram', '关节造影', 'myelogram'], na('contrast radiography / angiography')],
  [['穿刺', '活检', '介入', '引流', '消融', '引导下', 'biopsy', 'drainage', 'ablation', 'guided', 'intervention'], na('intervention')],
  [['放疗定位', '模拟定位', 'simulation', 'rt sim', 'rt planning', 'radiotherapy'], na('radiotherapy planning')],
  [['全景', '曲面断层', '口腔全景', '牙片', '牙科', 'panoramic', 'panorex', 'opg', 'dental', 'cbct'], na('dental')],
  [['内镜', '胃镜', '肠镜', 'endoscopy'], na('endoscopy')],
];

// prettier-ignore
const OTHER_TERMS: readonly Entry[] = [
  [['+', ',', ';', '(', ')', '[', ']', '【', '】', '及', '和', '与', '并', 'and', '&', ':', '|', '。'], { kind: 'separator' }],
  [['婴幼儿', '婴儿', '新生儿', 'infant', 'neonate', 'neonatal', 'newborn', 'nicu'], { kind: 'group', group: 'infant' }],
  [['localizer', 'localiser', 'loc', 'survey', 'scout', 'topogram', 'topo', 'scanogram', 'pilot', 'tri pilot', '3 plane', '3 pl', 'aahead scout', '定位像', '定位片', 'dose report', 'dose info', 'patient protocol', 'screen save', 'screensave'], { kind: 'localizer' }],
  [['bolus', 'care bolus', 'carebolus', 'bolus tracking', 'smartprep', 'smart prep', 'monitoring', 'tracker', 'test bolus', '团注追踪', '小剂量预试验'], { kind: 'bolus' }],
  [['手术', '术后', '术前', '腹股沟', 'post op', 'postop', 'post operative', 'pre op', 'preop', 'head first', 'feet first', '复查', '会诊', 'routine', '常规'], { kind: 'noise' }],
];

/** 骨龄: targets and side come with the word; kept here because it is a DR protocol name as much as a body part. */
// prettier-ignore
const BONE_AGE: Entry = [['骨龄', '骨龄片', 'bone age'], { kind: 'region', targets: ['hand', 'wrist'], side: 'left', views: ['frontal'], boneAge: true }];

export const LEXICON: readonly Entry[] = [
  ...ANATOMY_TERMS,
  BONE_AGE,
  ...SIDE_TERMS,
  ...VIEW_TERMS,
  ...CONTRAST_TERMS,
  ...TECHNIQUE_TERMS,
  ...MODALITY_TERMS,
  ...NOT_APPLICABLE_TERMS,
  ...OTHER_TERMS,
];

/**
 * Normalised term → meaning. Terms go through the same normalisation as the text they are looked
 * for in; a term listed twice (after normalisation) is a mistake in the data: fail at load rather
 * than pick one.
 */
export const TERMS: ReadonlyMap<string, Meaning> = (() => {
  const map = new Map<string, Meaning>();
  for (const [terms, meaning] of LEXICON) {
    for (const written of terms) {
      const term = normalizeText(written);
      if (map.has(term)) throw new Error(`recognition lexicon: term '${written}' listed twice`);
      map.set(term, meaning);
    }
  }
  return map;
})();
