import type { z } from 'zod';
import type { Technique as TechniqueEnum } from '../../../catalogs/schema';
import type { TargetKey } from '../../../catalogs/targets';

/** Shared vocabulary of the recognition modules (lexicon, evidence, signature, classifier). */

export type Technique = z.infer<typeof TechniqueEnum>;

/** The catalogs' modalities: CR/DX/DR images are DR, mammography is MG. */
export type ModalityGroup = 'DR' | 'MG' | 'CT' | 'MR';

export type Side = 'left' | 'right' | 'bilateral';

/** What the evidence says about contrast medium for one examined region. */
export type ContrastState = 'plain' | 'contrast' | 'plain_and_contrast' | 'unknown';

/**
 * Projection words. 'frontal' is 正位 without a direction (前后位 or 后前位); 'lateral_left' /
 * 'lateral_right' are 左侧位 / 右侧位 (chest). Postures (standing …) qualify a projection.
 */
export type ViewWord =
  | 'frontal'
  | 'ap'
  | 'pa'
  | 'lateral'
  | 'lateral_left'
  | 'lateral_right'
  | 'oblique'
  | 'bilateral_oblique'
  | 'axial'
  | 'flexion_extension'
  | 'open_mouth'
  | 'cc'
  | 'mlo'
  | 'standing'
  | 'supine'
  | 'decubitus'
  | 'weight_bearing';

export type Posture = 'standing' | 'supine' | 'decubitus' | 'weight_bearing';
export const POSTURES: readonly Posture[] = ['standing', 'supine', 'decubitus', 'weight_bearing'];

/**
 * Targets of catalogs/targets.ts plus two the lexicon needs: 头颈部 as a region of its own (新疆 and
 * 浙江 define it differently, see anatomy-terms.ts) and 腹部 without 上/下/全 (resolved per modality).
 */
export type RegionTarget = TargetKey | 'head_and_neck' | 'abdomen_unqualified';

/** One piece of evidence behind a decision: the DICOM tag (or a derived source), its value, and what it decided. */
export interface EvidenceRef {
  tag: string;
  value: string;
  used_for: UsedFor;
  /** The lexicon term matched inside value, when the value is text. */
  term?: string;
}

export type UsedFor =
  'modality' | 'target' | 'laterality' | 'contrast' | 'technique' | 'view' | 'patient_group' | 'not_applicable' | 'local_mapping' | 'local_mapping_key';
