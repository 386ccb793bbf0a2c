import { mrWeightingsOf, seriesPlane } from '../classify';
import { isImage, isLocalizer, modalityGroup, num, nums, seriesModality, uidList } from '../dataset';
import type { Dataset, Finding, QualityInput, QualitySeries } from '../types';

/**
 * MR: MagneticFieldStrength, identifiable sequences (weighting) and planes, DWI b-values.
 * Which sequences an item needs is checked in checks/item-requirements.ts.
 */

/** Below this (tesla) a scanner is low/mid-field; reported for the physician's information only. */
export const LOW_FIELD_TESLA = 1.0;
/** Diffusion weighting below this (s/mm²) is too weak for diagnostic DWI (routine brain DWI uses b≈1000). */
export const MIN_DIAGNOSTIC_B_VALUE = 500;

/** MR image series without localizers, with their images. */
export function diagnosticMrSeries(input: QualityInput): Array<{ series: QualitySeries; images: Dataset[] }> {
  return input.series
    .filter((s) => modalityGroup(seriesModality(s)) === 'MR')
    .map((series) => ({ series, images: series.instances.filter((ds) => isImage(ds) && !isLocalizer(series, ds)) }))
    .filter((s) => s.images.length > 0)
    .map(({ series, images }) => ({ series: { ...series, instances: images }, images }));
}

const name = (s: QualitySeries) => s.description ?? s.seriesInstanceUid;

export function checkMr(input: QualityInput): Finding[] {
  const stacks = diagnosticMrSeries(input);
  if (stacks.length === 0) return [];
  const findings: Finding[] = [];

  const noField = stacks.filter((s) => !s.images.some((ds) => num(ds, 'MagneticFieldStrength') !== undefined));
  if (noField.length) {
    findings.push({
      code: 'QC-MR-FIELD-STRENGTH-MISSING',
      severity: 'warn',
      instances: uidList(noField.map((s) => s.images[0])),
      message: {
        zh: `${noField.length} 个MR序列缺少场强 (MagneticFieldStrength)`,
        en: `${noField.length} MR series have no field strength (MagneticFieldStrength)`,
      },
    });
  }
  const fields = stacks.flatMap((s) => s.images.map((ds) => num(ds, 'MagneticFieldStrength'))).filter((t): t is number => t !== undefined && t > 0);
  // Some scanners write gauss (15000 for 1.5 T); PS3.3 says tesla.
  const tesla = fields.map((t) => (t > 100 ? t / 10_000 : t));
  if (tesla.length && Math.max(...tesla) < LOW_FIELD_TESLA) {
    findings.push({
      code: 'QC-MR-FIELD-STRENGTH-LOW',
      severity: 'info',
      message: {
        zh: `MR场强 ${Math.max(...tesla)} T，低于 ${LOW_FIELD_TESLA} T`,
        en: `MR field strength ${Math.max(...tesla)} T is below ${LOW_FIELD_TESLA} T`,
      },
    });
  }

  const noPlane = stacks.filter((s) => !seriesPlane(s.series));
  if (noPlane.length) {
    findings.push({
      code: 'QC-MR-PLANE-UNKNOWN',
      severity: 'warn',
      instances: uidList(noPlane.map((s) => s.images[0])),
      message: {
        zh: `${noPlane.length} 个MR序列无法确定扫描方位（缺少 ImageOrientationPatient）：${noPlane.map((s) => name(s.series)).join('、')}`,
        en: `${noPlane.length} MR series have no determinable plane (no ImageOrientationPatient): ${noPlane.map((s) => name(s.series)).join(', ')}`,
      },
    });
  }

  const unidentified = stacks.filter((s) => mrWeightingsOf(s.series).length === 0);
  if (unidentified.length) {
    findings.push({
      code: 'QC-MR-SEQUENCE-UNIDENTIFIED',
      severity: 'info',
      instances: uidList(unidentified.map((s) => s.images[0])),
      message: {
        zh: `${unidentified.length} 个MR序列无法识别加权类型（序列描述与参数不足）：${unidentified.map((s) => name(s.series)).join('、')}`,
        en: `${unidentified.length} MR series could not be identified (description and parameters insufficient): ${unidentified.map((s) => name(s.series)).join(', ')}`,
      },
    });
  }

  const dwi = stacks.filter((s) => mrWeightingsOf(s.series).includes('DWI'));
  for (const s of dwi) {
    const b = [...new Set(s.images.flatMap((ds) => nums(ds, 'DiffusionBValue')))].sort((x, y) => x - y);
    if (b.length === 0) {
      findings.push({
        code: 'QC-MR-DWI-BVALUES-MISSING',
        severity: 'warn',
        instances: uidList(s.images.slice(0, 1)),
        message: {
          zh: `DWI序列 ${name(s.series)} 缺少b值 (DiffusionBValue)`,
          en: `DWI series ${name(s.series)} has no b-values (DiffusionBValue)`,
        },
      });
    } else if (b[b.length - 1] < MIN_DIAGNOSTIC_B_VALUE) {
      findings.push({
        code: 'QC-MR-DWI-BVALUE-LOW',
        severity: 'warn',
        instances: uidList(s.images.slice(0, 1)),
        message: {
          zh: `DWI序列 ${name(s.series)} 的最大b值为 ${b[b.length - 1]} s/mm²，低于 ${MIN_DIAGNOSTIC_B_VALUE}`,
          en: `DWI series ${name(s.series)} has a highest b-value of ${b[b.length - 1]} s/mm², below ${MIN_DIAGNOSTIC_B_VALUE}`,
        },
      });
    }
  }
  return findings;
}
