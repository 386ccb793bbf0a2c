import { imagesOf, items, num, str, uidList } from '../dataset';
import type { Dataset, Finding, QualityInput } from '../types';

/**
 * Projection radiography (CR/DX, and MG): ViewPosition, laterality (ImageLaterality / Laterality,
 * the DICOM form of the 左右标记), BodyPartExamined, and the exposure deviation index where the
 * modality reports one.
 */

/** BodyPartExamined terms (PS3.16 Annex L, plus common Chinese spellings) of paired parts, where the side matters. */
const PAIRED_PART =
  /SHOULDER|ELBOW|WRIST|HAND|FINGER|THUMB|HIP|KNEE|ANKLE|FOOT|TOE|HEEL|FEMUR|TIBIA|FIBULA|LEG|ARM|HUMERUS|RADIUS|ULNA|CLAVICLE|SCAPULA|PATELLA|CALCANEUS|BREAST|EXTREMITY|LIMB|肩|肘|腕|手|指|髋|膝|踝|足|趾|跟|股骨|胫|腓|肱|尺|桡|锁骨|肩胛|髌|乳/;

/**
 * |DI| above 3 (a factor of 2 from the target exposure) is the usual action level for
 * investigating over- or under-exposure (IEC 62494-1 exposure index; AAPM TG-116).
 */
export const DEVIATION_INDEX_LIMIT = 3;

const hasLaterality = (ds: Dataset) => ['ImageLaterality', 'Laterality', 'FrameLaterality'].some((k) => !!str(ds, k));

export function checkDr(input: QualityInput): Finding[] {
  const images = [...imagesOf(input, 'DR'), ...imagesOf(input, 'MG')];
  if (images.length === 0) return [];
  const findings: Finding[] = [];
  const all = images.map((i) => i.ds);

  const noView = all.filter((ds) => !str(ds, 'ViewPosition') && items(ds, 'ViewCodeSequence').length === 0);
  if (noView.length) {
    findings.push({
      code: 'QC-DR-VIEW-MISSING',
      severity: 'warn',
      instances: uidList(noView),
      message: {
        zh: `${noView.length} 幅X线图像缺少投照体位 (ViewPosition)`,
        en: `${noView.length} radiograph(s) have no projection (ViewPosition)`,
      },
    });
  }

  const noBodyPart = all.filter((ds) => !str(ds, 'BodyPartExamined'));
  if (noBodyPart.length) {
    findings.push({
      code: 'QC-DR-BODYPART-MISSING',
      severity: 'warn',
      instances: uidList(noBodyPart),
      message: {
        zh: `${noBodyPart.length} 幅X线图像缺少检查部位 (BodyPartExamined)`,
        en: `${noBodyPart.length} radiograph(s) have no body part (BodyPartExamined)`,
      },
    });
  }

  // A side is needed for paired parts, for mammography, and whenever the mapped item names a side.
  const itemNeedsSide = input.mappedItems.some((i) => (i.modality === 'DR' || i.modality === 'MG') && i.laterality !== 'none');
  const noSide = images
    .filter(
      ({ series, ds }) =>
        itemNeedsSide || series.modality === 'MG' || PAIRED_PART.test((str(ds, 'BodyPartExamined') ?? series.description ?? '').toUpperCase()),
    )
    .map(({ ds }) => ds)
    .filter((ds) => !hasLaterality(ds));
  if (noSide.length) {
    findings.push({
      code: 'QC-DR-LATERALITY-MISSING',
      severity: 'warn',
      instances: uidList(noSide),
      message: {
        zh: `${noSide.length} 幅成对部位的X线图像未标明左右 (ImageLaterality/Laterality)`,
        en: `${noSide.length} radiograph(s) of a paired body part do not state the side (ImageLaterality / Laterality)`,
      },
    });
  }

  const deviating = all.filter((ds) => {
    const di = deviationIndex(ds);
    return di !== undefined && Math.abs(di) > DEVIATION_INDEX_LIMIT;
  });
  if (deviating.length) {
    const values = deviating.map((ds) => deviationIndex(ds)!.toFixed(1)).slice(0, 5);
    findings.push({
      code: 'QC-DR-EXPOSURE-DEVIATION',
      severity: 'warn',
      instances: uidList(deviating),
      message: {
        zh: `${deviating.length} 幅图像的曝光偏差指数 (DI) 超出 ±${DEVIATION_INDEX_LIMIT}（${values.join(', ')}），可能曝光过度或不足`,
        en: `${deviating.length} image(s) have a deviation index beyond ±${DEVIATION_INDEX_LIMIT} (${values.join(', ')}): possible over- or under-exposure`,
      },
    });
  }
  return findings;
}

/** DeviationIndex, or 10·log10(EI / target EI) when only the exposure indices are given (IEC 62494-1). */
export function deviationIndex(ds: Dataset): number | undefined {
  const di = num(ds, 'DeviationIndex');
  if (di !== undefined) return di;
  const ei = num(ds, 'ExposureIndex');
  const target = num(ds, 'TargetExposureIndex');
  return ei !== undefined && target !== undefined && ei > 0 && target > 0 ? 10 * Math.log10(ei / target) : undefined;
}
