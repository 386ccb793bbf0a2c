import { descriptiveText, has, isLocalizer, items, nums, str, strs } from './dataset';
import type { Dataset, QualitySeries } from './types';

/**
 * What a series or image *is*, read from its attributes: DR projection, MR weighting and plane,
 * CT reconstruction (lung / mediastinal), contrast phase. Each answers `undefined` when the
 * attributes do not tell; the checks then say "could not verify" instead of "missing".
 * Keywords cover the English of the major vendors and the Chinese of domestic protocols.
 */

// ---------------------------------------------------------------------------------------------
// DR / MG projections

/** Projection of one radiograph, in the catalog's View vocabulary (catalogs/schema.ts). */
export type Projection = 'ap' | 'pa' | 'lateral' | 'oblique' | 'axial' | 'decubitus' | 'mlo' | 'cc' | 'open_mouth' | 'flexion' | 'extension';

/** ViewPosition (0018,5101) defined terms and the spellings modalities send instead. */
const VIEW_POSITION: Record<string, Projection> = {
  AP: 'ap',
  PA: 'pa',
  LL: 'lateral',
  RL: 'lateral',
  LAT: 'lateral',
  LATERAL: 'lateral',
  LLO: 'oblique',
  RLO: 'oblique',
  LAO: 'oblique',
  RAO: 'oblique',
  LPO: 'oblique',
  RPO: 'oblique',
  OBL: 'oblique',
  OBLIQUE: 'oblique',
  RLD: 'decubitus',
  LLD: 'decubitus',
  MLO: 'mlo',
  ML: 'lateral',
  LM: 'lateral',
  CC: 'cc',
  XCCL: 'cc',
  XCCM: 'cc',
  AXIAL: 'axial',
};

/** Keywords in descriptions (protocol names often carry the projection: "Knee LAT", "腰椎侧位"). */
const PROJECTION_KEYWORDS: Array<[RegExp, Projection]> = [
  [/过屈|FLEXION|\bFLEX\b/, 'flexion'],
  [/过伸|EXTENSION|\bEXT\b/, 'extension'],
  [/张口|OPEN[ _-]?MOUTH|ODONTOID/, 'open_mouth'],
  [/轴斜|\bMLO\b/, 'mlo'],
  [/头尾|\bCC\b/, 'cc'],
  [/斜位|OBLIQUE|\bOBL\b|\b[LR][AP]O\b/, 'oblique'],
  [/轴位|AXIAL|SKYLINE|SUNRISE|MERCHANT|HARRIS/, 'axial'],
  [/侧位|LATERAL|\bLAT\b|\b[LR]L\b/, 'lateral'],
  [/后前位|\bPA\b/, 'pa'],
  [/正位|前后位|\bAP\b|FRONTAL/, 'ap'],
];

const REFINEMENTS: Projection[] = ['flexion', 'extension', 'open_mouth'];

/** ViewCodeSequence code meanings (SNOMED / DICOM CID 4010, 4014). */
const VIEW_CODE_MEANINGS: Array<[RegExp, Projection]> = [
  [/MEDIO-?LATERAL OBLIQUE/i, 'mlo'],
  [/CRANIO-?CAUDAL/i, 'cc'],
  [/OBLIQUE/i, 'oblique'],
  [/LATERAL/i, 'lateral'],
  [/POSTERO-?ANTERIOR/i, 'pa'],
  [/ANTERO-?POSTERIOR/i, 'ap'],
  [/AXIAL/i, 'axial'],
];

/** The projections an image shows, best source first: ViewPosition, ViewCodeSequence, descriptions. */
export function projectionsOf(series: QualitySeries | undefined, ds: Dataset): Projection[] {
  const found = new Set<Projection>();
  const viewPosition = str(ds, 'ViewPosition')?.toUpperCase();
  if (viewPosition && VIEW_POSITION[viewPosition]) found.add(VIEW_POSITION[viewPosition]);
  for (const item of items(ds, 'ViewCodeSequence')) {
    const meaning = str(item, 'CodeMeaning') ?? '';
    const hit = VIEW_CODE_MEANINGS.find(([re]) => re.test(meaning));
    if (hit) found.add(hit[1]);
  }
  // Descriptions name a series' projection when the image itself did not, and refine a lateral
  // or frontal into what ViewPosition has no term for (flexion/extension, open-mouth).
  const text = descriptiveText(series, ds);
  for (const [re, projection] of PROJECTION_KEYWORDS) {
    if ((found.size === 0 || REFINEMENTS.includes(projection)) && re.test(text)) found.add(projection);
  }
  // Flexion/extension radiographs are laterals; decubitus is a frontal beam on a lying patient.
  if (found.has('flexion') || found.has('extension')) found.add('lateral');
  return [...found];
}

// ---------------------------------------------------------------------------------------------
// MR weighting and plane

export type MrWeighting = 'T1' | 'T2' | 'PD' | 'FLAIR' | 'STIR' | 'T2STAR' | 'DWI' | 'ADC' | 'SWI' | 'MRA' | 'MRV' | 'MRCP' | 'PERFUSION' | 'HYDRO' | 'DYNAMIC';
export type Plane = 'axial' | 'sagittal' | 'coronal';

const W = (text: string, re: RegExp) => re.test(text);

/**
 * The weightings a series provides (a Dixon or multi-echo series can give more than one).
 * Descriptions first (what the technologist chose), then acquisition parameters.
 */
export function mrWeightingsOf(series: QualitySeries): MrWeighting[] {
  const ds = series.instances[0];
  if (!ds || isLocalizer(series, ds)) return [];
  const text = descriptiveText(series, ds);
  const out = new Set<MrWeighting>();
  const bValues = series.instances.flatMap((i) => nums(i, 'DiffusionBValue'));
  const imageType = strs(ds, 'ImageType').map((t) => t.toUpperCase());

  if (W(text, /\bADC\b|APPARENT DIFFUSION|表观扩散/) || imageType.includes('ADC')) out.add('ADC');
  else if (W(text, /DWI|DIFFUSION|\bDIFF|EP2D_DIFF|RESOLVE|扩散|弥散|TRACEW/) || bValues.some((b) => b > 0) || imageType.includes('DIFFUSION')) out.add('DWI');
  if (W(text, /SWI|SWAN|SUSCEPTIB|磁敏感|VENBOLD|\bSWIP\b/)) out.add('SWI');
  if (W(text, /MRV|静脉成像|PC[ _-]?VEN|VENOGRAPH/)) out.add('MRV');
  else if (W(text, /TOF|MRA|ANGIO|血管成像|动脉成像/)) out.add('MRA');
  if (W(text, /MRCP|胰胆管|CHOLANGIO|MRU|尿路水成像|UROGRAPH/)) out.add('MRCP');
  if (W(text, /PERF|\bASL\b|PCASL|\bDSC\b|灌注/)) out.add('PERFUSION');
  if (W(text, /CISS|FIESTA|3D[ _-]?SPACE|DRIVE|内耳水成像|水成像|HYDRO/) && !out.has('MRCP')) out.add('HYDRO');
  if (W(text, /DYN|动态|DCE|TWIST|DISCO|4D[ _-]?THRIVE/)) out.add('DYNAMIC');
  if (out.size && !W(text, /T1|T2|FLAIR|STIR|\bPD/)) return [...out];

  const t1 = W(text, /T1|MPRAGE|BRAVO|FSPGR|\bSPGR|VIBE|LAVA|THRIVE|FLASH|\bFL3D|T1W/);
  if (W(text, /FLAIR|DARK[ _-]?FLUID|\bTIRM|水抑制/) && !t1) out.add('FLAIR');
  if (W(text, /STIR|\bTIR\b|SPAIR.*T2|T2.*SPAIR/)) out.add('STIR');
  if (W(text, /T2\*|T2STAR|T2[ _-]?STAR|MEDIC|MERGE|\bGRE\b.*T2|HEMO/)) out.add('T2STAR');
  if (W(text, /\bPD|PROTON|质子/)) out.add('PD');
  if (W(text, /T2(?![*]|[ _-]?STAR)/) && !out.has('FLAIR')) out.add('T2');
  if (t1) out.add('T1');

  if (out.size === 0) {
    // Spin-echo style parameters (PS3.3 MR Image module): short TR + short TE = T1, long TR + long TE = T2.
    const tr = nums(ds, 'RepetitionTime')[0];
    const te = nums(ds, 'EchoTime')[0];
    const ti = nums(ds, 'InversionTime')[0];
    if (ti !== undefined && ti > 1500 && tr !== undefined && tr > 5000) out.add('FLAIR');
    else if (ti !== undefined && ti > 80 && ti < 250) out.add('STIR');
    else if (tr !== undefined && te !== undefined) {
      if (tr < 1000 && te < 30) out.add('T1');
      else if (tr >= 1500 && te >= 70) out.add('T2');
      else if (tr >= 1500 && te < 40) out.add('PD');
    }
  }
  return [...out];
}

/** Fluid-sensitive weightings (T2-like), as joint and spine protocols use them interchangeably. */
export const FLUID_SENSITIVE: MrWeighting[] = ['T2', 'PD', 'STIR'];

/** Plane of an image from ImageOrientationPatient (dominant axis of the slice normal), else from descriptions. */
export function planeOf(series: QualitySeries | undefined, ds: Dataset): Plane | undefined {
  const o = nums(ds, 'ImageOrientationPatient');
  if (o.length === 6) {
    const n = [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]].map(Math.abs);
    const max = Math.max(...n);
    if (max > 0.5) return n[0] === max ? 'sagittal' : n[1] === max ? 'coronal' : 'axial';
  }
  const text = descriptiveText(series, ds, ['SeriesDescription', 'ProtocolName']);
  if (/\bSAG|矢状/.test(text)) return 'sagittal';
  if (/\bCOR|冠状/.test(text)) return 'coronal';
  if (/\bTRA|\bAX|横断|轴位|TRANSVERSE/.test(text)) return 'axial';
  return undefined;
}

/** The plane of a series: that of most of its images. */
export function seriesPlane(series: QualitySeries): Plane | undefined {
  const counts = new Map<Plane, number>();
  for (const ds of series.instances) {
    const p = planeOf(series, ds);
    if (p) counts.set(p, (counts.get(p) ?? 0) + 1);
  }
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
}

// ---------------------------------------------------------------------------------------------
// CT reconstructions

export type CtReconstruction = 'lung' | 'mediastinal';

/**
 * Lung (sharp kernel or lung window) and mediastinal (soft kernel or soft-tissue window)
 * reconstructions of a CT series. Siemens B/Br/Bl/I/Q kernels ≥ 60 and Bl* are lung, ≤ 45 soft;
 * Canon FC5x/FC8x lung, FC0x/FC1x soft; GE/United Imaging/Philips by name. A series whose
 * window presets include both a lung and a soft-tissue window offers both.
 */
export function ctReconstructionsOf(series: QualitySeries): CtReconstruction[] {
  const ds = series.instances.find((i) => !isLocalizer(series, i));
  if (!ds) return [];
  const out = new Set<CtReconstruction>();
  const text = descriptiveText(series, ds, ['SeriesDescription', 'ProtocolName']);
  if (/LUNG|肺窗|PULMO|HRCT|\bHR\b|肺重建/.test(text)) out.add('lung');
  if (/MEDIAST|纵隔|SOFT|STANDARD|\bSTND|\bSTD\b|软组织|\bMED\b|BODY/.test(text)) out.add('mediastinal');
  for (const kernel of strs(ds, 'ConvolutionKernel').map((k) => k.toUpperCase())) {
    const siemens = /^([BIQH])([LRS]?)(\d{2})[A-Z]?$/.exec(kernel);
    if (siemens) {
      const n = Number(siemens[3]);
      if (siemens[2] === 'L' || n >= 60) out.add('lung');
      else if (n <= 45 && siemens[1] !== 'H') out.add('mediastinal');
      continue;
    }
    const canon = /^FC(\d{2})$/.exec(kernel);
    if (canon) {
      const n = Number(canon[1]);
      if ((n >= 50 && n <= 59) || n >= 80) out.add('lung');
      else if (n < 20) out.add('mediastinal');
      continue;
    }
    if (/LUNG|BONEPLUS|SHARP|\bYC\b|\bYD\b/.test(kernel)) out.add('lung');
    else if (/SOFT|STANDARD|STND|BODY|\bYA\b|\bYB\b/.test(kernel)) out.add('mediastinal');
  }
  const centers = nums(ds, 'WindowCenter');
  const widths = nums(ds, 'WindowWidth');
  centers.forEach((c, i) => {
    const w = widths[i] ?? widths[0];
    if (c <= -300 && (w === undefined || w >= 800)) out.add('lung');
    if (c >= 0 && c <= 100 && (w === undefined || (w >= 250 && w <= 700))) out.add('mediastinal');
  });
  return [...out];
}

/** True when the kernel/window/description of a CT series says nothing about its reconstruction. */
export function ctReconstructionUnknown(series: QualitySeries): boolean {
  return ctReconstructionsOf(series).length === 0;
}

// ---------------------------------------------------------------------------------------------
// Contrast

const CONTRAST_WORDS =
  /增强|\+C\b|\bC\+|POST[ _-]?(CON|GD|C\b)|\bPOST\b|\bGD\b|GADO|ENHANC|\bCE\b|CE[ _-]?T1|T1[ _-]?CE|动脉期|静脉期|门脉期|门静脉期|延迟期|平衡期|ARTERIAL|VENOUS|PORTAL|DELAY|NEPHRO|\bCTA\b/;
const PLAIN_WORDS = /平扫|PLAIN|NON[ _-]?CON|\bNC\b|\bPRE\b|PRE[ _-]?(CON|GD|C\b)|UNENHANC|WITHOUT CONTRAST/;

/**
 * Whether a series was acquired after contrast administration: an explicit "plain" wording
 * wins (some scanners copy ContrastBolusAgent into every series of an enhanced study),
 * then ContrastBolusAgent / ContrastBolusAgentSequence, then phase wording.
 */
export function isPostContrast(series: QualitySeries): boolean {
  const ds = series.instances.find((i) => !isLocalizer(series, i));
  if (!ds) return false;
  const text = descriptiveText(series, ds, ['SeriesDescription', 'ProtocolName']);
  if (PLAIN_WORDS.test(text)) return false;
  const agent = series.instances.some((i) => has(i, 'ContrastBolusAgent') || has(i, 'ContrastBolusAgentSequence'));
  return agent || CONTRAST_WORDS.test(text);
}
