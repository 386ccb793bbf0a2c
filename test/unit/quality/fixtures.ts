import { findItem } from '../../../catalogs/index';
import type { Dataset, Finding, MappedItem, QualityInput, QualityReport, QualitySeries, StoredInstance } from '../../../core/quality/types';
import { randomUid } from '../../support/dicom-factory';

/**
 * Builders of QualityInput for the check unit tests: a complete, clean study by default
 * (every check passes), which each test then spoils in one respect.
 */

export const NOW = new Date('2026-03-20T08:00:00Z');

export const PATIENT = {
  PatientName: [{ Alphabetic: 'ZHANG^SAN', Ideographic: '张^三' }],
  PatientID: 'P0001',
  PatientSex: 'M',
  PatientBirthDate: '19800101',
};

export const STUDY: Dataset = {
  ...PATIENT,
  StudyDate: '20260310',
  StudyTime: '101500',
  AccessionNumber: 'ACC001',
  InstitutionName: '示例医院',
  StudyInstanceUID: '1.2.3.4',
};

const SOP_CLASS: Record<string, string> = {
  CT: '1.2.840.10008.5.1.4.1.1.2',
  MR: '1.2.840.10008.5.1.4.1.1.4',
  DX: '1.2.840.10008.5.1.4.1.1.1.1',
  CR: '1.2.840.10008.5.1.4.1.1.1',
  MG: '1.2.840.10008.5.1.4.1.1.1.2',
};

const IOP = { axial: [1, 0, 0, 0, 1, 0], coronal: [1, 0, 0, 0, 0, -1], sagittal: [0, 1, 0, 0, 0, -1] };

/** A conformant image of the modality (pixel module, plane, SOP common, patient). */
export function image(modality: string, extra: Dataset = {}): Dataset {
  const projection = modality === 'CR' || modality === 'DX' || modality === 'MG';
  const ds: Dataset = {
    SOPClassUID: SOP_CLASS[modality] ?? '1.2.840.10008.5.1.4.1.1.7',
    SOPInstanceUID: randomUid(),
    StudyInstanceUID: '1.2.3.4',
    SeriesInstanceUID: '1.2.3.4.5',
    Modality: modality,
    ...PATIENT,
    ImageType: projection ? ['ORIGINAL', 'PRIMARY'] : ['ORIGINAL', 'PRIMARY', 'AXIAL'],
    Rows: 512,
    Columns: 512,
    BitsAllocated: 16,
    BitsStored: 12,
    HighBit: 11,
    PixelRepresentation: 0,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    PixelData: { BulkDataURI: 'http://x/bulk/7FE00010' },
  };
  if (!projection) Object.assign(ds, { ImagePositionPatient: [0, 0, 0], ImageOrientationPatient: IOP.axial, PixelSpacing: [0.7, 0.7] });
  if (modality === 'CT') Object.assign(ds, { SliceThickness: 1, ConvolutionKernel: 'B30f', CTDIvol: 8.2, BodyPartExamined: 'HEAD' });
  if (modality === 'MR') Object.assign(ds, { MagneticFieldStrength: 3, SliceThickness: 4 });
  if (projection) Object.assign(ds, { ViewPosition: 'AP', BodyPartExamined: 'CHEST', ImagerPixelSpacing: [0.14, 0.14] });
  return { ...ds, ...extra };
}

export function series(modality: string, description: string | null, instances: Dataset[]): QualitySeries {
  const uid = randomUid();
  return {
    seriesInstanceUid: uid,
    modality,
    description,
    instances: instances.map((i) => ({ ...i, SeriesInstanceUID: uid, SeriesDescription: description ?? undefined })),
  };
}

/** An axial CT stack of n slices `spacing` mm apart. */
export function ctStack(description: string | null, n: number, extra: Dataset = {}, spacing = 5): QualitySeries {
  return series(
    'CT',
    description,
    Array.from({ length: n }, (_, i) => image('CT', { InstanceNumber: i + 1, ImagePositionPatient: [0, 0, -i * spacing], ...extra })),
  );
}

/** An MR series in a plane (ImageOrientationPatient) with a description naming its weighting. */
export function mrSeries(description: string, plane: keyof typeof IOP | null, extra: Dataset = {}, n = 3): QualitySeries {
  return series(
    'MR',
    description,
    Array.from({ length: n }, (_, i) =>
      image('MR', { InstanceNumber: i + 1, ImageOrientationPatient: plane ? IOP[plane] : undefined, ImagePositionPatient: [0, 0, i * 5], ...extra }),
    ),
  );
}

export const SIGNED_REPORT: QualityReport = { source: 'api', author: '李医生', signedAt: '2026-03-10T15:00:00+08:00', ref: 'r1' };

/** A mapped catalog item by code, as execQuality resolves it. */
export function item(code: string): MappedItem {
  const found = findItem(code);
  if (!found) throw new Error(`no catalog item ${code}`);
  return { ...found.item, catalogId: found.catalog.id };
}

export function input(partial: Partial<QualityInput> = {}): QualityInput {
  const seriesList = partial.series ?? [ctStack('Head 5mm', 20)];
  const stored: Record<string, StoredInstance> = {};
  for (const s of seriesList) {
    for (const ds of s.instances) {
      stored[String(ds.SOPInstanceUID)] = {
        seriesInstanceUid: s.seriesInstanceUid,
        sopClassUid: String(ds.SOPClassUID),
        transferSyntaxUid: '1.2.840.10008.1.2.1',
        status: 'indexed',
        frameCount: 1,
      };
    }
  }
  return { study: STUDY, mappedItems: [], reports: [SIGNED_REPORT], now: NOW, ...partial, series: seriesList, stored: { ...stored, ...partial.stored } };
}

export const codes = (findings: Finding[]): string[] => findings.map((f) => f.code);
export const byCode = (findings: Finding[], code: string): Finding | undefined => findings.find((f) => f.code === code);
