/**
 * Controlled vocabulary of anatomic targets shared by all catalogs, so that items of
 * different regions can be compared (crosswalk) and matched by the classifier.
 * key → Chinese term (the usual one), English name.
 */
export const TARGETS = {
  // head / brain
  skull: ['头颅', 'skull'],
  brain: ['颅脑', 'brain'],
  sella: ['鞍区/垂体', 'sella / pituitary'],
  internal_auditory_canal: ['内听道', 'internal auditory canal'],
  inner_ear: ['内耳', 'inner ear'],
  temporal_bone: ['颞骨', 'temporal bone'],
  ear: ['耳部', 'ear'],
  styloid_process: ['茎突', 'styloid process'],
  // face
  facial_bones: ['颅面骨', 'facial bones'],
  orbit: ['眼眶', 'orbit'],
  paranasal_sinuses: ['鼻窦', 'paranasal sinuses'],
  nasal_bone: ['鼻骨', 'nasal bone'],
  nasal_cavity: ['鼻腔', 'nasal cavity'],
  nasopharynx: ['鼻咽', 'nasopharynx'],
  mandible: ['下颌骨', 'mandible'],
  maxilla: ['上颌骨', 'maxilla'],
  temporomandibular_joint: ['颞下颌关节', 'temporomandibular joint'],
  maxillofacial: ['颌面部', 'maxillofacial region'],
  oral_cavity: ['口腔', 'oral cavity'],
  parotid: ['腮腺', 'parotid gland'],
  // neck
  neck: ['颈部', 'neck (soft tissue)'],
  larynx: ['喉部', 'larynx'],
  thyroid: ['甲状腺', 'thyroid'],
  // spine
  cervical_spine: ['颈椎', 'cervical spine'],
  thoracic_spine: ['胸椎', 'thoracic spine'],
  lumbar_spine: ['腰椎', 'lumbar spine'],
  sacrum: ['骶椎', 'sacrum'],
  coccyx: ['尾骨', 'coccyx'],
  sacrococcygeal_spine: ['骶尾椎', 'sacrococcygeal spine'],
  cervicothoracic_spine: ['颈胸段脊柱', 'cervicothoracic spine'],
  thoracolumbar_spine: ['胸腰段脊柱', 'thoracolumbar spine'],
  lumbosacral_spine: ['腰骶段脊柱', 'lumbosacral spine'],
  whole_spine: ['全脊柱', 'whole spine'],
  // shoulder girdle / upper limb
  shoulder: ['肩关节', 'shoulder'],
  clavicle: ['锁骨', 'clavicle'],
  scapula: ['肩胛骨', 'scapula'],
  acromioclavicular_joint: ['肩锁关节', 'acromioclavicular joint'],
  humerus: ['肱骨', 'humerus'],
  elbow: ['肘关节', 'elbow'],
  forearm: ['尺桡骨', 'forearm (radius and ulna)'],
  wrist: ['腕关节', 'wrist'],
  hand: ['手', 'hand'],
  finger: ['手指', 'finger'],
  // pelvis / lower limb
  bony_pelvis: ['骨盆', 'bony pelvis'],
  sacroiliac_joint: ['骶髂关节', 'sacroiliac joint'],
  hip: ['髋关节', 'hip'],
  femur: ['股骨', 'femur'],
  knee: ['膝关节', 'knee'],
  patella: ['髌骨', 'patella'],
  tibia_fibula: ['胫腓骨', 'tibia and fibula'],
  ankle: ['踝关节', 'ankle'],
  foot: ['足', 'foot'],
  calcaneus: ['跟骨', 'calcaneus'],
  toe: ['足趾', 'toe'],
  // chest
  chest: ['胸部', 'chest'],
  lung: ['肺', 'lung'],
  ribs: ['肋骨', 'ribs'],
  sternum: ['胸骨', 'sternum'],
  heart: ['心脏', 'heart'],
  mediastinum: ['纵隔', 'mediastinum'],
  // abdomen / pelvis
  abdomen: ['全腹部', 'abdomen (whole)'],
  upper_abdomen: ['上腹部', 'upper abdomen'],
  lower_abdomen: ['下腹部', 'lower abdomen'],
  liver: ['肝脏', 'liver'],
  biliary: ['胆道/胆囊', 'biliary tract / gallbladder'],
  pancreas: ['胰腺', 'pancreas'],
  spleen: ['脾脏', 'spleen'],
  kidney: ['肾脏', 'kidney'],
  adrenal: ['肾上腺', 'adrenal gland'],
  urinary_tract: ['泌尿系', 'urinary tract'],
  pelvic_cavity: ['盆腔', 'pelvic cavity'],
  prostate: ['前列腺', 'prostate'],
  uterus_adnexa: ['子宫附件', 'uterus and adnexa'],
  rectum: ['直肠', 'rectum'],
  // breast
  breast: ['乳腺', 'breast'],
  // vessels
  head_neck_arteries: ['头颈部动脉', 'head and neck arteries'],
  intracranial_arteries: ['颅内动脉', 'intracranial arteries'],
  intracranial_veins: ['颅内静脉', 'intracranial veins / sinuses'],
  carotid_arteries: ['颈部动脉', 'carotid / neck arteries'],
  coronary_arteries: ['冠状动脉', 'coronary arteries'],
  pulmonary_arteries: ['肺动脉', 'pulmonary arteries'],
  thoracic_aorta: ['胸主动脉', 'thoracic aorta'],
  abdominal_aorta: ['腹主动脉', 'abdominal aorta'],
  aorta: ['主动脉', 'aorta (whole)'],
  renal_arteries: ['肾动脉', 'renal arteries'],
  upper_limb_arteries: ['上肢动脉', 'upper limb arteries'],
  lower_limb_arteries: ['下肢动脉', 'lower limb arteries'],
  lower_limb_veins: ['下肢静脉', 'lower limb veins'],
  // END TARGETS (helpers: insert new keys just above this line)
} as const satisfies Record<string, readonly [string, string]>;

export type TargetKey = keyof typeof TARGETS;
export const isTargetKey = (k: string): k is TargetKey => Object.hasOwn(TARGETS, k);
