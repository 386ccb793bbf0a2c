import type { TargetKey } from '../../../catalogs/targets';
import type { ModalityGroup, RegionTarget, Side, ViewWord } from './types';

/**
 * Anatomy part of the lexicon: body-part words (Chinese, English, vendor abbreviations) → target
 * keys of catalogs/targets.ts. Terms are written normalised (text.ts): lower case, half-width,
 * '-' and '_' between letters read as a space, so 'C-SPINE' is written 'c spine'.
 * The scanner takes the longest term at each position, so '腰椎间盘' wins over '腰椎', 'l spine'
 * over the side 'l', '胸腰段' over '胸'.
 */

export interface RegionMeaning {
  kind: 'region';
  targets: readonly RegionTarget[];
  /** Where the word names a different target per modality (头颅 = skull on DR, brain on CT/MR). */
  byModality?: Partial<Record<ModalityGroup, readonly RegionTarget[]>>;
  /** Side the term itself states (双下肢全长). */
  side?: Side;
  /** Projections the term implies when none are written (双下肢全长片 is a standing AP film). */
  views?: readonly ViewWord[];
  /** 骨龄: a bone-age film (left hand and wrist by the Greulich–Pyle convention). */
  boneAge?: true;
}

type Entry = readonly [terms: readonly string[], meaning: RegionMeaning];

/** 第三指, 手第三指, 第3指 … : a finger (or toe) by number, with or without the hand (foot) before it. */
const ORDINALS = ['一', '二', '三', '四', '五', '1', '2', '3', '4', '5'];
const FINGERS = ORDINALS.flatMap((n) => [`第${n}指`, `手第${n}指`]);
const TOES = ORDINALS.flatMap((n) => [`第${n}趾`, `足第${n}趾`]);

const r = (targets: RegionTarget | readonly RegionTarget[], extra: Omit<RegionMeaning, 'kind' | 'targets'> = {}): RegionMeaning => ({
  kind: 'region',
  targets: typeof targets === 'string' ? [targets] : targets,
  ...extra,
});
/** A word whose target depends on the modality: DR first, then CT/MR (and MG, which has only breasts). */
const byMod = (dr: RegionTarget, other: RegionTarget): RegionMeaning => ({
  kind: 'region',
  targets: [other],
  byModality: { DR: [dr] },
});

// prettier-ignore
export const ANATOMY_TERMS: readonly Entry[] = [
  // —— head ——  头颅/头部 is the skull on a radiograph and the brain on CT/MR in all three lists.
  [['头颅', '头部', '头', '颅', 'head', 'cranium', 'cranial', 'skull'], byMod('skull', 'brain')],
  [['颅脑', '脑', '脑部', '大脑', 'brain'], r('brain')],
  [['颅骨'], r('skull')],
  [['鞍区', '垂体', '蝶鞍', 'sella', 'pituitary'], r('sella')],
  [['内听道', '听神经', 'iac', 'iacs', 'internal auditory canal', 'internal auditory canals'], r('internal_auditory_canal')],
  [['内耳', 'inner ear', 'inner ears'], r('inner_ear')],
  [['颞骨', '乳突', 'temporal bone', 'temporal bones', 'mastoid', 'mastoids'], r('temporal_bone')],
  [['耳部', '中耳', '双耳', 'ear', 'ears'], r('ear')],
  [['茎突', 'styloid'], r('styloid_process')],
  [['海马', 'hippocampus', 'hippocampal'], r('hippocampus')],
  [['颅底', 'skull base'], r('skull_base')],
  // 新疆 头颈部 = brain + neck, 浙江 头颈部 = skull base + neck: a region of its own (classify.ts).
  [['头颈部', '头颈', 'head neck', 'headneck', 'head/neck', 'head & neck', 'head and neck'], r('head_and_neck')],
  // —— face ——
  [['颅面骨', '面骨', '颜面骨', '面部骨', 'facial bones', 'facial bone', 'face'], r('facial_bones')],
  [['眼眶', '眼部', '眼', '眶', 'orbit', 'orbits'], r('orbit')],
  [['鼻窦', '副鼻窦', '鼻旁窦', 'sinus', 'sinuses', 'paranasal sinus', 'paranasal sinuses'], r('paranasal_sinuses')],
  [['鼻骨', 'nasal bone', 'nasal bones'], r('nasal_bone')],
  [['鼻腔', 'nasal cavity'], r('nasal_cavity')],
  [['鼻咽', '鼻咽部', '鼻咽口咽部', 'nasopharynx'], r('nasopharynx')],
  [['鼻部', '鼻', 'nose'], r('nose')],
  [['下颌骨', '下颌', 'mandible'], r('mandible')],
  [['上颌骨', '上颌', 'maxilla'], r('maxilla')],
  [['颞下颌关节', '颞颌关节', 'tmj', 'tmjs', 'temporomandibular'], r('temporomandibular_joint')],
  [['颌面部', '颌面', '口腔颌面', 'maxillofacial'], r('maxillofacial')],
  [['口腔', 'oral cavity'], r('oral_cavity')],
  [['腮腺', 'parotid'], r('parotid')],
  // —— neck ——
  [['颈部', '颈', '颈部软组织', 'neck', 'soft tissue neck'], r('neck')],
  [['喉部', '喉', 'larynx'], r('larynx')],
  [['甲状腺', 'thyroid'], r('thyroid')],
  // —— spine ——  vendor forms: C-SPINE, CSPINE, C-SP; L-SP; T-SPINE …
  [['颈椎', 'c spine', 'cspine', 'c sp', 'c spin', 'cervical spine', 'cervical'], r('cervical_spine')],
  [['胸椎', 't spine', 'tspine', 't sp', 'thoracic spine'], r('thoracic_spine')],
  [['腰椎', 'l spine', 'lspine', 'l sp', 'lumbar spine', 'lumbar'], r('lumbar_spine')],
  [['腰椎间盘', '腰间盘', '腰椎椎间盘', 'lumbar disc', 'lumbar discs'], r('lumbar_disc')],
  [['骶椎', '骶骨', 'sacrum', 'sspine'], r('sacrum')],
  [['尾椎', '尾骨', 'coccyx'], r('coccyx')],
  [['骶尾椎', '骶尾骨', '骶尾部', 'sacrococcygeal'], r('sacrococcygeal_spine')],
  [['颈胸段', '颈胸椎', '颈胸段脊柱', 'cervicothoracic'], r('cervicothoracic_spine')],
  [['胸腰段', '胸腰椎', '胸腰段脊柱', 'thoracolumbar'], r('thoracolumbar_spine')],
  [['腰骶段', '腰骶椎', '腰骶部', '腰骶段脊柱', 'lumbosacral', 'ls spine'], r('lumbosacral_spine')],
  [['全脊柱', '全脊椎', 'whole spine', 'full spine', 'entire spine', 'total spine'], r('whole_spine')],
  // —— upper limb ——  上臂/大腿/小腿: a bone on a radiograph, a limb segment on CT/MR (新疆 lists both).
  [['肩关节', '肩部', '肩', 'shoulder', 'shoulders'], r('shoulder')],
  [['锁骨', 'clavicle', 'clavicles'], r('clavicle')],
  [['肩胛骨', '肩胛', 'scapula'], r('scapula')],
  [['肩锁关节', 'ac joint', 'ac joints', 'acromioclavicular'], r('acromioclavicular_joint')],
  [['肱骨', '肱骨头', 'humerus', 'humeral head'], r('humerus')],
  [['上臂', 'upper arm'], byMod('humerus', 'upper_arm')],
  [['肘关节', '肘', 'elbow', 'elbows'], r('elbow')],
  [['尺桡骨', '前臂', '桡骨', '尺骨', '桡骨头', 'radial head', 'forearm', 'radius ulna', 'radius/ulna'], r('forearm')],
  [['腕关节', '腕', '手腕', 'wrist', 'wrists'], r('wrist')],
  [['手', '手部', '手掌', 'hand', 'hands'], r('hand')],
  [['手指', '拇指', '指骨', '示指', '食指', '中指', '环指', '无名指', '小指', ...FINGERS, 'finger', 'fingers', 'thumb'], r('finger')],
  // —— pelvis / lower limb ——  股骨头/股骨颈 examinations are hip examinations.
  [['骨盆', 'bony pelvis'], r('bony_pelvis')],
  // English PELVIS: the bony pelvis on a radiograph, the pelvic cavity on CT/MR (CT PELVIS, MR PELVIS).
  [['pelvis', 'pelvic'], byMod('bony_pelvis', 'pelvic_cavity')],
  [['骶髂关节', 'si joint', 'si joints', 'sij', 'sacroiliac'], r('sacroiliac_joint')],
  [['髋关节', '髋', '股骨头', '股骨颈', 'hip', 'hips', 'femoral head', 'femoral heads', 'femoral neck'], r('hip')],
  [['股骨', 'femur', 'femurs'], r('femur')],
  [['大腿', 'thigh', 'thighs'], byMod('femur', 'thigh')],
  [['膝关节', '膝', 'knee', 'knees'], r('knee')],
  [['髌骨', 'patella', 'patellae'], r('patella')],
  [['胫腓骨', '胫骨', '腓骨', '腓骨头', 'tib fib', 'tib/fib', 'tibia fibula', 'tibia/fibula', 'tibia', 'fibula'], r('tibia_fibula')],
  [['小腿', 'lower leg', 'lower legs'], byMod('tibia_fibula', 'lower_leg')],
  [['踝关节', '踝', 'ankle', 'ankles'], r('ankle')],
  [['足', '足部', '脚', 'foot', 'feet'], r('foot')],
  [['跟骨', '足跟', 'calcaneus', 'calcaneum', 'heel', 'os calcis'], r('calcaneus')],
  [['足趾', '趾', '拇趾', '踇趾', ...TOES, 'toe', 'toes'], r('toe')],
  [['双下肢全长', '下肢全长', 'full leg', 'full length leg', 'long leg', 'leg length'], r('lower_limb_full_length', { side: 'bilateral', views: ['ap', 'standing'] })],
  // —— chest ——  肺 and 胸部 name the same CT range; the lists tell lung protocols apart by technique.
  [['胸部', '胸', '胸廓', '肺', '肺部', '双肺', '纵隔', 'chest', 'thorax', 'thoracic', 'lung', 'lungs', 'mediastinum'], r('chest')],
  [['肋骨', 'rib', 'ribs'], r('ribs')],
  [['胸骨', 'sternum'], r('sternum')],
  [['心脏', '心', 'heart', 'cardiac'], r('heart')],
  [['心脏三位'], r('heart', { views: ['pa', 'bilateral_oblique'] })],
  [['胸锁关节', 'sternoclavicular', 'sc joint', 'sc joints'], r('sternoclavicular_joint')],
  // —— abdomen ——  全腹部 = upper + lower abdomen + pelvic cavity (浙江's definition).
  [['全腹部', '全腹', '腹盆腔', 'ct a/p', 'ct abd/pel', '腹盆部', '腹部盆腔', '腹部及盆腔', 'abdomen pelvis', 'abdomen/pelvis', 'abdomen and pelvis', 'abd pelvis', 'abd/pelvis', 'abd pel', 'whole abdomen'], r('abdomen')],
  // Bare 腹部 / ABDOMEN: resolved in signature.ts (DR → abdomen film; CT/MR → 上腹部, or 全腹部 with 盆腔).
  [['腹部', '腹', 'abdomen', 'abd', 'abdominal'], r('abdomen_unqualified')],
  [['上腹部', '上腹', 'upper abdomen'], r('upper_abdomen')],
  [['下腹部', '下腹', 'lower abdomen'], r('lower_abdomen')],
  [['上下腹部', '上下腹', '上、下腹部'], r(['upper_abdomen', 'lower_abdomen'])],
  [['肝胆胰脾', '肝胆脾胰', '肝胆脾'], r('upper_abdomen')],
  [['肝脏', '肝', 'liver', 'hepatic'], r('liver')],
  [['胆囊', '胆道', '胆管', '胰胆管', '胆系', 'biliary', 'gallbladder'], r('biliary')],
  [['胰腺', '胰', 'pancreas', 'pancreatic'], r('pancreas')],
  [['脾脏', '脾', 'spleen'], r('spleen')],
  [['肾脏', '肾', '双肾', 'kidney', 'kidneys', 'renal'], r('kidney')],
  [['肾上腺', 'adrenal', 'adrenals'], r('adrenal')],
  [['泌尿系', '泌尿系统', '尿路', 'urinary tract', 'kub'], byMod('abdomen', 'urinary_tract')],
  [['盆腔', 'pelvic cavity'], r('pelvic_cavity')],
  [['前列腺', 'prostate'], r('prostate')],
  [['子宫附件', '子宫', '宫颈', '附件', '卵巢', 'uterus', 'ovary', 'ovaries'], r('uterus_adnexa')],
  [['直肠', 'rectum', 'rectal'], r('rectum')],
  [['小肠', 'small bowel', 'small intestine', 'enterography'], r('small_intestine')],
  // —— breast ——
  [['乳腺', '乳房', '乳', 'breast', 'breasts'], r('breast')],
  [['双乳', '双侧乳腺', '双侧乳房'], r('breast', { side: 'bilateral' })],
  // —— vessels ——  (techniques CTA/MRA/… come from vocabulary.ts; VESSEL_OF below resolves a region)
  [['冠脉', '冠状动脉', 'coronary', 'coronaries'], r('coronary_arteries')],
  [['肺动脉', 'pulmonary artery', 'pulmonary arteries', 'pulmonary angiogram'], r('pulmonary_arteries')],
  [['主动脉', '全主动脉', '胸腹主动脉', 'aorta', 'aortic', 'thoracoabdominal aorta'], r('aorta')],
  [['胸主动脉', 'thoracic aorta'], r('thoracic_aorta')],
  [['腹主动脉', 'abdominal aorta'], r('abdominal_aorta')],
  [['肾动脉', 'renal artery', 'renal arteries'], r('renal_arteries')],
  [['颈动脉', '颈部动脉', '颈部血管', 'carotid', 'carotids'], r('carotid_arteries')],
  [['头颈部动脉', '头颈动脉', '头颈部血管', '头颈血管'], r('head_neck_arteries')],
  [['颅内动脉', '脑动脉', '颅内血管', '脑血管', 'willis'], r('intracranial_arteries')],
  [['下肢动脉', '双下肢动脉', 'lower extremity arteries', 'runoff', 'run off'], r('lower_limb_arteries')],
  [['上肢动脉', 'upper extremity arteries'], r('upper_limb_arteries')],
  [['下肢静脉', 'lower extremity veins'], r('lower_limb_veins')],
  [['门静脉', '门脉系统', '门静脉系', 'portal vein'], r('portal_vein')],
  [['颅内静脉', '静脉窦', 'venous sinus', 'venous sinuses', 'dural sinus'], r('intracranial_veins')],
];

/**
 * The artery an angiography of a body region shows (头颅CTA → intracranial arteries). Regions
 * without an entry (胸部CTA: pulmonary arteries or aorta?) are not guessed: needs review.
 */
const LOWER_LIMB: readonly TargetKey[] = ['femur', 'thigh', 'knee', 'tibia_fibula', 'lower_leg', 'ankle', 'foot', 'lower_limb_full_length'];
const UPPER_LIMB: readonly TargetKey[] = ['humerus', 'upper_arm', 'elbow', 'forearm', 'wrist', 'hand'];
export const ARTERY_OF: Partial<Record<RegionTarget, TargetKey>> = {
  brain: 'intracranial_arteries',
  skull: 'intracranial_arteries',
  head_and_neck: 'head_neck_arteries',
  neck: 'carotid_arteries',
  heart: 'coronary_arteries',
  kidney: 'renal_arteries',
  ...Object.fromEntries(LOWER_LIMB.map((t) => [t, 'lower_limb_arteries'])),
  ...Object.fromEntries(UPPER_LIMB.map((t) => [t, 'upper_limb_arteries'])),
};
/** The veins a venography (CTV/MRV) of a region shows. */
export const VEIN_OF: Partial<Record<RegionTarget, TargetKey>> = {
  brain: 'intracranial_veins',
  skull: 'intracranial_veins',
  liver: 'portal_vein',
  ...Object.fromEntries(LOWER_LIMB.map((t) => [t, 'lower_limb_veins'])),
};

// prettier-ignore
export const VASCULAR: ReadonlySet<TargetKey> = new Set<TargetKey>([
  'head_neck_arteries', 'intracranial_arteries', 'intracranial_veins', 'carotid_arteries', 'coronary_arteries',
  'pulmonary_arteries', 'thoracic_aorta', 'abdominal_aorta', 'aorta', 'renal_arteries', 'upper_limb_arteries',
  'lower_limb_arteries', 'lower_limb_veins', 'portal_vein',
]);

/** Paired structures whose side matters: a left knee is not a right knee. */
// prettier-ignore
export const SIDED: ReadonlySet<TargetKey> = new Set<TargetKey>([
  'shoulder', 'clavicle', 'scapula', 'acromioclavicular_joint', 'humerus', 'upper_arm', 'elbow', 'forearm', 'wrist',
  'hand', 'finger', 'hip', 'femur', 'thigh', 'knee', 'patella', 'tibia_fibula', 'lower_leg', 'ankle', 'foot',
  'calcaneus', 'toe', 'breast', 'orbit', 'temporal_bone', 'internal_auditory_canal', 'inner_ear', 'ear',
  'sacroiliac_joint', 'sternoclavicular_joint', 'adrenal', 'kidney', 'ribs', 'temporomandibular_joint', 'parotid',
  'lower_limb_full_length', 'lower_limb_arteries', 'upper_limb_arteries', 'lower_limb_veins',
]);

/**
 * Paired structures always examined together (both orbits, both kidneys in one scan): an unstated
 * side means both, as catalogs/crosswalk.ts also reads it. 'lower_limb_*' are run-off studies.
 */
// prettier-ignore
export const TOGETHER: ReadonlySet<TargetKey> = new Set<TargetKey>([
  'orbit', 'temporal_bone', 'internal_auditory_canal', 'inner_ear', 'ear', 'sacroiliac_joint', 'sternoclavicular_joint',
  'adrenal', 'kidney', 'ribs', 'temporomandibular_joint', 'lower_limb_full_length', 'lower_limb_arteries', 'lower_limb_veins',
]);

/**
 * Targets whose frontal film is posteroanterior by convention (胸部正位 = 后前位, 浙江 项目释义),
 * so 正位 without a direction satisfies an item that asks for PA — for patients over 3 years.
 */
export const PA_BY_CONVENTION: ReadonlySet<TargetKey> = new Set<TargetKey>(['chest', 'heart', 'sternoclavicular_joint']);

/**
 * Regions that one examination covers in full, as parts (全腹部 = 上腹部 + 下腹部 + 盆腔 per 浙江's
 * definition; 主动脉 = 胸主动脉 + 腹主动脉; 头颈部动脉 = 颅内 + 颈部动脉). A study of the whole maps
 * to an item of the whole, or else to items of the parts. CT and MR only: a DR 腹部 film is one film.
 */
export const PARTS: Partial<Record<TargetKey, readonly TargetKey[]>> = {
  abdomen: ['upper_abdomen', 'lower_abdomen', 'pelvic_cavity'],
  aorta: ['thoracic_aorta', 'abdominal_aorta'],
  head_neck_arteries: ['intracranial_arteries', 'carotid_arteries'],
};

/**
 * Related targets: when a study's target has no item in a catalog, items of these targets are
 * offered to a reviewer (肝脏CT → 上腹部CT?). Never used to map.
 */
export const RELATED: Partial<Record<RegionTarget, readonly RegionTarget[]>> = {
  liver: ['upper_abdomen'],
  biliary: ['upper_abdomen'],
  pancreas: ['upper_abdomen'],
  spleen: ['upper_abdomen'],
  kidney: ['upper_abdomen', 'urinary_tract'],
  adrenal: ['upper_abdomen'],
  urinary_tract: ['kidney', 'abdomen'],
  small_intestine: ['abdomen', 'lower_abdomen'],
  prostate: ['pelvic_cavity'],
  uterus_adnexa: ['pelvic_cavity'],
  rectum: ['pelvic_cavity'],
  lumbar_disc: ['lumbar_spine'],
  lumbar_spine: ['lumbar_disc'],
  sella: ['brain'],
  hippocampus: ['brain'],
  internal_auditory_canal: ['brain', 'inner_ear', 'temporal_bone'],
  inner_ear: ['internal_auditory_canal', 'temporal_bone'],
  head_and_neck: ['brain', 'neck', 'skull_base'],
  skull_base: ['brain', 'head_and_neck'],
  cervicothoracic_spine: ['cervical_spine', 'thoracic_spine'],
  thoracolumbar_spine: ['thoracic_spine', 'lumbar_spine'],
  lumbosacral_spine: ['lumbar_spine', 'sacrum', 'sacrococcygeal_spine'],
  whole_spine: ['cervical_spine', 'thoracic_spine', 'lumbar_spine'],
  sacrum: ['sacrococcygeal_spine'],
  coccyx: ['sacrococcygeal_spine'],
  bony_pelvis: ['hip', 'sacroiliac_joint'],
  hip: ['bony_pelvis'],
  thigh: ['femur'],
  femur: ['thigh'],
  lower_leg: ['tibia_fibula'],
  tibia_fibula: ['lower_leg'],
  upper_arm: ['humerus'],
  humerus: ['upper_arm'],
  patella: ['knee'],
  calcaneus: ['foot', 'ankle'],
  toe: ['foot'],
  finger: ['hand'],
  ribs: ['chest'],
  sternum: ['chest'],
  heart: ['chest'],
  nose: ['nasal_bone', 'nasal_cavity', 'paranasal_sinuses'],
  nasal_cavity: ['nose', 'paranasal_sinuses'],
  nasal_bone: ['nose'],
  ear: ['temporal_bone'],
  temporal_bone: ['ear'],
  facial_bones: ['maxillofacial'],
  maxillofacial: ['facial_bones'],
};
