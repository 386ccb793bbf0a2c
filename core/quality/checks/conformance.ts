import { TRANSFER_SYNTAXES } from '../../dicom/part10-header';
import { isUid } from '../../dicom/uid';
import { CT_IMAGE, has, isImage, isSecondaryCapture, MR_IMAGE, num, sopClassOf, sopUid, str, uidList } from '../dataset';
import { severityFor } from '../requirements';
import { MAX_FINDING_INSTANCES, type Dataset, type Finding, type QualityInput, type QualitySeries, type StoredInstance } from '../types';

/**
 * Per-instance DICOM conformance, image counts, and whether pixel data is decodable as far as
 * the stored metadata and frame index tell (pixels are never decoded here): image pixel
 * attributes present and consistent (PS3.3 C.7.6.3), pixel data present, every frame located.
 */

/** Lossy transfer syntaxes (PS3.5 §8.2): JPEG baseline/extended, JPEG-LS near-lossless, JPEG 2000, HTJ2K, JPEG XL, video. */
const LOSSY_TS = new Set([
  '1.2.840.10008.1.2.4.50',
  '1.2.840.10008.1.2.4.51',
  '1.2.840.10008.1.2.4.81',
  '1.2.840.10008.1.2.4.91',
  '1.2.840.10008.1.2.4.93',
  '1.2.840.10008.1.2.4.111',
  '1.2.840.10008.1.2.4.112',
  '1.2.840.10008.1.2.4.203',
]);

/** Storage class → the Modality values its IOD allows (PS3.3 A.*); others are not checked. */
const MODALITY_OF_CLASS: Record<string, string[]> = {
  [CT_IMAGE]: ['CT'],
  [MR_IMAGE]: ['MR'],
  '1.2.840.10008.5.1.4.1.1.1': ['CR'],
  '1.2.840.10008.5.1.4.1.1.1.1': ['DX'],
  '1.2.840.10008.5.1.4.1.1.1.1.1': ['DX'],
  '1.2.840.10008.5.1.4.1.1.1.2': ['MG'],
  '1.2.840.10008.5.1.4.1.1.1.2.1': ['MG'],
};

const PIXEL_KEYS = ['Rows', 'Columns', 'BitsAllocated', 'BitsStored', 'HighBit', 'PixelRepresentation', 'SamplesPerPixel', 'PhotometricInterpretation'];
const UID_KEYS = ['SOPClassUID', 'SOPInstanceUID', 'StudyInstanceUID', 'SeriesInstanceUID', 'FrameOfReferenceUID'];

interface Collector {
  add(code: string, ds: Dataset): void;
  list(code: string): Dataset[];
}
function collector(): Collector {
  const by = new Map<string, Dataset[]>();
  return {
    add: (code, ds) => by.set(code, [...(by.get(code) ?? []), ds]),
    list: (code) => by.get(code) ?? [],
  };
}

export function checkConformance(input: QualityInput): Finding[] {
  const findings: Finding[] = [];
  const all = input.series.flatMap((s) => s.instances);
  const images = all.filter(isImage);
  const stored = input.stored ?? {};

  if (images.length === 0) {
    findings.push({
      code: 'QC-IMG-NONE',
      severity: 'fail',
      message: { zh: '检查中没有可用的图像', en: 'The study contains no images' },
    });
  }

  const unreadable = Object.entries(stored).filter(([, s]) => s.status === 'received' && s.indexError);
  if (unreadable.length) {
    findings.push({
      code: 'QC-CONF-UNREADABLE',
      severity: 'warn',
      instances: unreadable.map(([uid]) => uid).slice(0, MAX_FINDING_INSTANCES),
      message: {
        zh: `${unreadable.length} 个已接收的实例无法解析（不符合DICOM格式），未纳入检查`,
        en: `${unreadable.length} received instance(s) cannot be parsed as DICOM and are not part of the study`,
      },
    });
  }
  const pending = Object.entries(stored).filter(([, s]) => s.status === 'received' && !s.indexError);
  if (pending.length) {
    findings.push({
      code: 'QC-CONF-NOT-INDEXED',
      severity: 'info',
      instances: pending.map(([uid]) => uid).slice(0, MAX_FINDING_INSTANCES),
      message: { zh: `${pending.length} 个实例尚未完成索引，评估未包含它们`, en: `${pending.length} instance(s) are not indexed yet and were not assessed` },
    });
  }

  const c = collector();
  for (const ds of all) {
    const modality = str(ds, 'Modality');
    if (!modality) c.add('QC-CONF-MODALITY-MISSING', ds);
    const allowed = MODALITY_OF_CLASS[sopClassOf(ds)];
    if (modality && allowed && !allowed.includes(modality.toUpperCase())) c.add('QC-CONF-MODALITY-MISMATCH', ds);
    if (UID_KEYS.some((k) => str(ds, k) !== undefined && !isUid(str(ds, k)!))) c.add('QC-CONF-UID-INVALID', ds);
  }
  for (const ds of images) {
    const cls = sopClassOf(ds);
    if ((cls === CT_IMAGE || cls === MR_IMAGE) && ['ImagePositionPatient', 'ImageOrientationPatient', 'PixelSpacing'].some((k) => !has(ds, k))) {
      c.add('QC-CONF-IMAGE-PLANE-MISSING', ds);
    }
    checkPixels(ds, stored[sopUid(ds)], c);
  }

  const emit = (code: string, severity: Finding['severity'], message: (n: number) => Finding['message']) => {
    const list = c.list(code);
    if (list.length) findings.push({ code, severity, instances: uidList(list), message: message(list.length) });
  };
  emit('QC-CONF-MODALITY-MISSING', 'warn', (n) => ({ zh: `${n} 个实例缺少设备类型 (Modality)`, en: `${n} instance(s) have no Modality` }));
  emit('QC-CONF-MODALITY-MISMATCH', 'warn', (n) => ({
    zh: `${n} 个实例的设备类型 (Modality) 与其SOP类不符`,
    en: `${n} instance(s) have a Modality their SOP class does not allow`,
  }));
  emit('QC-CONF-UID-INVALID', 'warn', (n) => ({ zh: `${n} 个实例含格式无效的UID`, en: `${n} instance(s) carry a malformed UID` }));
  emit('QC-CONF-IMAGE-PLANE-MISSING', 'warn', (n) => ({
    zh: `${n} 幅CT/MR图像缺少图像平面信息（ImagePositionPatient、ImageOrientationPatient 或 PixelSpacing），无法测量与多平面重建`,
    en: `${n} CT/MR image(s) lack Image Plane attributes (ImagePositionPatient, ImageOrientationPatient or PixelSpacing): no measurement or MPR`,
  }));
  emit('QC-PIX-ATTRIBUTES-MISSING', 'fail', (n) => ({
    zh: `${n} 幅图像缺少像素描述属性（Rows、Columns、BitsAllocated 等），无法解码`,
    en: `${n} image(s) lack Image Pixel attributes (Rows, Columns, BitsAllocated, …) and cannot be decoded`,
  }));
  emit('QC-PIX-ATTRIBUTES-INCONSISTENT', 'fail', (n) => ({
    zh: `${n} 幅图像的像素描述属性相互矛盾（如 BitsStored > BitsAllocated、HighBit ≠ BitsStored−1、光度解释与样本数不符）`,
    en: `${n} image(s) have contradictory pixel attributes (BitsStored > BitsAllocated, HighBit ≠ BitsStored−1, photometric interpretation vs samples per pixel)`,
  }));
  emit('QC-PIX-DATA-MISSING', 'fail', (n) => ({ zh: `${n} 幅图像没有像素数据`, en: `${n} image(s) have no pixel data` }));
  emit('QC-PIX-FRAME-COUNT-MISMATCH', 'fail', (n) => ({
    zh: `${n} 幅图像中定位到的帧数与 NumberOfFrames 不符`,
    en: `${n} image(s) hold a number of frames different from NumberOfFrames`,
  }));
  emit('QC-PIX-FRAMES-UNINDEXED', 'warn', (n) => ({
    zh: `${n} 幅图像的各帧无法按字节定位（压缩片段无偏移表），按帧调阅可能失败`,
    en: `${n} image(s) have frames that cannot be located by byte range (fragments without offset table): frame retrieval may fail`,
  }));
  emit('QC-PIX-LOSSY', 'warn', (n) => ({
    zh: `${n} 幅图像经有损压缩，非原始影像数据`,
    en: `${n} image(s) are lossy compressed, not original image data`,
  }));

  if (images.length > 0 && images.every(isSecondaryCapture)) {
    findings.push({
      code: 'QC-CONF-SECONDARY-CAPTURE-ONLY',
      ...severityFor(input.mappedItems, 'originalDicom'),
      instances: uidList(images),
      message: {
        zh: '检查中只有二次采集图像（截图/胶片扫描），无原始DICOM影像',
        en: 'The study holds only secondary capture images (screenshots / film scans), no original DICOM images',
      },
    });
  }

  findings.push(...checkImageCounts(input.series));
  return findings;
}

function checkPixels(ds: Dataset, facts: StoredInstance | undefined, c: Collector): void {
  const floatPixels = has(ds, 'FloatPixelData') || has(ds, 'DoubleFloatPixelData');
  if (!has(ds, 'PixelData') && !floatPixels) {
    c.add('QC-PIX-DATA-MISSING', ds);
    return;
  }
  if (facts?.frameCount === 0) {
    c.add('QC-PIX-DATA-MISSING', ds);
    return;
  }
  const required = floatPixels ? ['Rows', 'Columns', 'SamplesPerPixel', 'PhotometricInterpretation'] : PIXEL_KEYS;
  if (required.some((k) => !has(ds, k))) {
    c.add('QC-PIX-ATTRIBUTES-MISSING', ds);
    return;
  }
  if (!floatPixels && !pixelAttributesConsistent(ds)) c.add('QC-PIX-ATTRIBUTES-INCONSISTENT', ds);

  const ts = facts ? TRANSFER_SYNTAXES.get(facts.transferSyntaxUid) : undefined;
  if (facts && facts.frameCount === null && !ts?.deflated) c.add('QC-PIX-FRAMES-UNINDEXED', ds);
  const declared = num(ds, 'NumberOfFrames') ?? 1;
  if (facts && typeof facts.frameCount === 'number' && facts.frameCount > 0 && !ts?.video && facts.frameCount !== declared)
    c.add('QC-PIX-FRAME-COUNT-MISMATCH', ds);
  if ((str(ds, 'LossyImageCompression') ?? '') === '01' || (facts && (LOSSY_TS.has(facts.transferSyntaxUid) || ts?.video))) c.add('QC-PIX-LOSSY', ds);
}

const MONOCHROME = ['MONOCHROME1', 'MONOCHROME2', 'PALETTE COLOR'];
const COLOUR = ['RGB', 'YBR_FULL', 'YBR_FULL_422', 'YBR_PARTIAL_420', 'YBR_ICT', 'YBR_RCT', 'HSV', 'ARGB', 'CMYK'];

/** PS3.3 C.7.6.3.1: the Image Pixel module's attributes agree with each other. */
export function pixelAttributesConsistent(ds: Dataset): boolean {
  const rows = num(ds, 'Rows')!;
  const columns = num(ds, 'Columns')!;
  const allocated = num(ds, 'BitsAllocated')!;
  const stored = num(ds, 'BitsStored')!;
  const high = num(ds, 'HighBit')!;
  const representation = num(ds, 'PixelRepresentation')!;
  const samples = num(ds, 'SamplesPerPixel')!;
  const photometric = (str(ds, 'PhotometricInterpretation') ?? '').toUpperCase();
  if (!(rows > 0 && columns > 0)) return false;
  if (![1, 8, 16, 32, 64].includes(allocated)) return false;
  if (stored < 1 || stored > allocated || high !== stored - 1) return false;
  if (representation !== 0 && representation !== 1) return false;
  if (samples === 1) return MONOCHROME.includes(photometric);
  if (samples === 3) return COLOUR.includes(photometric);
  return samples === 4 && ['ARGB', 'CMYK'].includes(photometric);
}

/** Images per acquisition versus ImagesInAcquisition (0020,1002) where the modality states it. */
function checkImageCounts(series: QualitySeries[]): Finding[] {
  const findings: Finding[] = [];
  for (const s of series) {
    const acquisitions = new Map<string, Dataset[]>();
    for (const ds of s.instances.filter(isImage)) {
      const key = str(ds, 'AcquisitionNumber') ?? '';
      acquisitions.set(key, [...(acquisitions.get(key) ?? []), ds]);
    }
    for (const [acquisition, images] of acquisitions) {
      const expected = Math.max(0, ...images.map((ds) => num(ds, 'ImagesInAcquisition') ?? 0));
      if (expected > images.length) {
        findings.push({
          code: 'QC-IMG-COUNT-SHORT',
          severity: 'warn',
          instances: uidList(images.slice(0, 1)),
          message: {
            zh: `序列 ${s.description ?? s.seriesInstanceUid}${acquisition ? ` 第 ${acquisition} 次采集` : ''} 应有 ${expected} 幅图像 (ImagesInAcquisition)，实际收到 ${images.length} 幅`,
            en: `Series ${s.description ?? s.seriesInstanceUid}${acquisition ? `, acquisition ${acquisition},` : ''} should have ${expected} images (ImagesInAcquisition); ${images.length} arrived`,
          },
        });
      }
    }
  }
  return findings;
}
