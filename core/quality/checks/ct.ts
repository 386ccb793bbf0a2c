import { ctReconstructionsOf, planeOf, type CtReconstruction } from '../classify';
import { descriptiveText, has, isImage, isLocalizer, modalityGroup, nums, seriesModality, sopClassOf, str, strs, uidList } from '../dataset';
import { RECONSTRUCTION_LABEL } from '../requirements';
import type { Dataset, Finding, QualityInput, QualitySeries } from '../types';

/**
 * CT: SliceThickness, ConvolutionKernel, CTDIvol, z-coverage and gaps in the slice stack, and —
 * for a chest CT not (yet) mapped to a CT catalog item — lung and mediastinal reconstructions
 * (once mapped, checks/item-requirements.ts checks what the item needs instead).
 */

const RADIATION_DOSE_SR = '1.2.840.10008.5.1.4.1.1.88.67';

/** Diagnostic CT series: CT images other than localizers and dose screens. */
export function diagnosticCtSeries(input: QualityInput): Array<{ series: QualitySeries; images: Dataset[] }> {
  return input.series
    .filter((s) => modalityGroup(seriesModality(s)) === 'CT')
    .map((series) => ({
      series,
      images: series.instances.filter((ds) => isImage(ds) && !isLocalizer(series, ds) && !isDoseScreen(series, ds)),
    }))
    .filter((s) => s.images.length > 0);
}

const isDoseScreen = (series: QualitySeries, ds: Dataset) =>
  /DOSE|剂量|PATIENT PROTOCOL/.test(descriptiveText(series, ds, ['SeriesDescription'])) && strs(ds, 'ImageType').some((t) => /SECONDARY|OTHER/i.test(t));

export interface ZStack {
  series: QualitySeries;
  /** Slice positions along the slice normal, ascending, duplicates removed (mm). */
  positions: number[];
  /** From the first to the last slice, plus one slice thickness when known (mm). */
  coverageMm: number;
  /** Gaps larger than 1.5 × the usual spacing: [from, to] positions. */
  gaps: Array<[number, number]>;
}

/** The axial stack of a series from ImagePositionPatient · slice normal, or undefined with fewer than 2 positioned images. */
export function zStack(series: QualitySeries, images: Dataset[]): ZStack | undefined {
  const axial = images.filter((ds) => planeOf(undefined, ds) === 'axial' || strs(ds, 'ImageType').some((t) => t.toUpperCase() === 'AXIAL'));
  const positioned = axial
    .map((ds) => {
      const p = nums(ds, 'ImagePositionPatient');
      const o = nums(ds, 'ImageOrientationPatient');
      if (p.length !== 3) return undefined;
      const n = o.length === 6 ? [o[1] * o[5] - o[2] * o[4], o[2] * o[3] - o[0] * o[5], o[0] * o[4] - o[1] * o[3]] : [0, 0, 1];
      return p[0] * n[0] + p[1] * n[1] + p[2] * n[2];
    })
    .filter((z): z is number => z !== undefined);
  const positions = [...new Set(positioned.map((z) => Math.round(z * 100) / 100))].sort((a, b) => a - b);
  if (positions.length < 2) return undefined;
  const spacings = positions.slice(1).map((z, i) => z - positions[i]);
  const usual = [...spacings].sort((a, b) => a - b)[Math.floor(spacings.length / 2)];
  const gaps: Array<[number, number]> = [];
  if (positions.length >= 3) spacings.forEach((s, i) => s > usual * 1.5 + 0.05 && gaps.push([positions[i], positions[i + 1]]));
  const thickness = nums(axial[0], 'SliceThickness')[0] ?? 0;
  return { series, positions, coverageMm: positions[positions.length - 1] - positions[0] + thickness, gaps };
}

const CHEST_PART = /CHEST|THORAX|LUNG|胸|肺/;

export function checkCt(input: QualityInput): Finding[] {
  const stacks = diagnosticCtSeries(input);
  if (stacks.length === 0) return [];
  const findings: Finding[] = [];
  const images = stacks.flatMap((s) => s.images);

  const noThickness = images.filter((ds) => !str(ds, 'SliceThickness'));
  if (noThickness.length) {
    findings.push({
      code: 'QC-CT-SLICE-THICKNESS-MISSING',
      severity: 'warn',
      instances: uidList(noThickness),
      message: {
        zh: `${noThickness.length} 幅CT图像缺少层厚 (SliceThickness)`,
        en: `${noThickness.length} CT image(s) have no slice thickness (SliceThickness)`,
      },
    });
  }

  const noKernel = stacks.filter((s) => !s.images.some((ds) => str(ds, 'ConvolutionKernel')));
  if (noKernel.length) {
    findings.push({
      code: 'QC-CT-KERNEL-MISSING',
      severity: 'warn',
      instances: uidList(noKernel.map((s) => s.images[0])),
      message: {
        zh: `${noKernel.length} 个CT序列缺少重建算法 (ConvolutionKernel)`,
        en: `${noKernel.length} CT series have no reconstruction kernel (ConvolutionKernel)`,
      },
    });
  }

  const doseReported = input.series.some((s) => s.instances.some((ds) => sopClassOf(ds) === RADIATION_DOSE_SR));
  if (!doseReported && !images.some((ds) => has(ds, 'CTDIvol'))) {
    findings.push({
      code: 'QC-CT-CTDI-MISSING',
      severity: 'info',
      message: {
        zh: 'CT图像中无CTDIvol，且检查中无辐射剂量结构化报告',
        en: 'No CTDIvol in the CT images and no radiation dose SR in the study',
      },
    });
  }

  const zStacks = stacks.map((s) => zStack(s.series, s.images)).filter((z): z is ZStack => !!z);
  if (zStacks.length === 0 && images.length > 1) {
    findings.push({
      code: 'QC-CT-Z-COVERAGE-UNKNOWN',
      severity: 'warn',
      message: {
        zh: '无法由图像位置 (ImagePositionPatient/ImageOrientationPatient) 确定扫描范围',
        en: 'The scan range cannot be determined from the image positions (ImagePositionPatient / ImageOrientationPatient)',
      },
    });
  }
  for (const z of zStacks.filter((s) => s.gaps.length)) {
    const [from, to] = z.gaps[0];
    findings.push({
      code: 'QC-CT-Z-GAP',
      severity: 'warn',
      instances: uidList(z.series.instances.slice(0, 1)),
      message: {
        zh: `序列 ${z.series.description ?? z.series.seriesInstanceUid} 的层面有 ${z.gaps.length} 处缺失（如 ${from}–${to} mm），图像可能不完整`,
        en: `Series ${z.series.description ?? z.series.seriesInstanceUid} has ${z.gaps.length} gap(s) in its slices (e.g. ${from}–${to} mm): images may be missing`,
      },
    });
  }

  // A chest CT not mapped to a CT item: are both windows there? (Mapped: item-requirements.ts.)
  const chest = images.some((ds) => CHEST_PART.test((str(ds, 'BodyPartExamined') ?? '').toUpperCase()));
  if (chest && !input.mappedItems.some((i) => i.modality === 'CT')) {
    const found = new Set(stacks.flatMap((s) => ctReconstructionsOf(s.series)));
    const missing = (['lung', 'mediastinal'] as CtReconstruction[]).filter((r) => !found.has(r));
    if (missing.length) {
      findings.push({
        code: 'QC-CT-CHEST-WINDOWS-INCOMPLETE',
        severity: 'warn',
        message: {
          zh: `胸部CT未识别到${missing.map((r) => RECONSTRUCTION_LABEL[r].zh).join('、')}序列`,
          en: `Chest CT: no ${missing.map((r) => RECONSTRUCTION_LABEL[r].en).join(' or ')} series identified`,
        },
      });
    }
  }
  return findings;
}
