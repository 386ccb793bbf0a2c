import { checkConformance, pixelAttributesConsistent } from '../../../core/quality/checks/conformance';
import { byCode, codes, ctStack, image, input, item, series } from './fixtures';

const run = (images: Array<Record<string, unknown>>, extra: Parameters<typeof input>[0] = {}) =>
  checkConformance(input({ series: [series('CT', 'x', images)], ...extra }));

describe('quality: DICOM conformance, image counts, decodable pixel data', () => {
  it('finds nothing in conformant images', () => {
    expect(checkConformance(input())).toEqual([]);
  });

  it('QC-IMG-NONE: a study without images fails', () => {
    const srOnly = series('SR', null, [{ SOPClassUID: '1.2.840.10008.5.1.4.1.1.88.11', SOPInstanceUID: '1.2.3', Modality: 'SR' }]);
    expect(checkConformance(input({ series: [srOnly] }))).toEqual([expect.objectContaining({ code: 'QC-IMG-NONE', severity: 'fail' })]);
  });

  it('QC-CONF-UNREADABLE (warn) and QC-CONF-NOT-INDEXED (info) from the stored instances', () => {
    const stored = {
      '1.2.9.1': {
        seriesInstanceUid: '1.2.9',
        sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
        transferSyntaxUid: '1.2.840.10008.1.2.1',
        status: 'received' as const,
        frameCount: null,
        indexError: 'The file is truncated',
      },
      '1.2.9.2': {
        seriesInstanceUid: '1.2.9',
        sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
        transferSyntaxUid: '1.2.840.10008.1.2.1',
        status: 'received' as const,
        frameCount: null,
      },
    };
    const findings = checkConformance(input({ stored }));
    expect(byCode(findings, 'QC-CONF-UNREADABLE')).toMatchObject({ severity: 'warn', instances: ['1.2.9.1'] });
    expect(byCode(findings, 'QC-CONF-NOT-INDEXED')).toMatchObject({ severity: 'info', instances: ['1.2.9.2'] });
  });

  it.each([
    ['QC-CONF-MODALITY-MISSING', { Modality: undefined }],
    ['QC-CONF-MODALITY-MISMATCH', { Modality: 'MR' }],
    ['QC-CONF-UID-INVALID', { FrameOfReferenceUID: '1.2.03' }],
    ['QC-CONF-IMAGE-PLANE-MISSING', { PixelSpacing: undefined }],
  ])('%s (warn)', (code, extra) => {
    const bad = image('CT', extra);
    const findings = run([bad, image('CT', { ImagePositionPatient: [0, 0, 5] })]);
    expect(codes(findings)).toEqual([code]);
    expect(findings[0]).toMatchObject({ severity: 'warn', instances: [bad.SOPInstanceUID] });
  });

  it.each([
    ['QC-PIX-ATTRIBUTES-MISSING', { BitsStored: undefined }],
    ['QC-PIX-ATTRIBUTES-INCONSISTENT', { BitsStored: 16, HighBit: 11 }],
    ['QC-PIX-ATTRIBUTES-INCONSISTENT', { PhotometricInterpretation: 'RGB' }],
    ['QC-PIX-DATA-MISSING', { PixelData: undefined }],
  ])('%s (fail)', (code, extra) => {
    const findings = run([image('CT', extra)]);
    expect(codes(findings)).toEqual([code]);
    expect(findings[0].severity).toBe('fail');
  });

  it('reads frame facts from the frame index: none located, count mismatch, not locatable', () => {
    const ds = image('CT', { NumberOfFrames: 3 });
    const uid = String(ds.SOPInstanceUID);
    const facts = (frameCount: number | null, transferSyntaxUid = '1.2.840.10008.1.2.4.70') => ({
      stored: { [uid]: { seriesInstanceUid: 'x', sopClassUid: String(ds.SOPClassUID), transferSyntaxUid, status: 'indexed' as const, frameCount } },
    });
    expect(codes(run([ds], facts(3)))).toEqual([]);
    expect(codes(run([ds], facts(0)))).toEqual(['QC-PIX-DATA-MISSING']);
    expect(codes(run([ds], facts(2)))).toEqual(['QC-PIX-FRAME-COUNT-MISMATCH']);
    expect(byCode(run([ds], facts(null)), 'QC-PIX-FRAMES-UNINDEXED')?.severity).toBe('warn');
    // Deflated files have no byte-range frame index by design.
    expect(codes(run([ds], facts(null, '1.2.840.10008.1.2.1.99')))).toEqual([]);
  });

  it('QC-PIX-LOSSY from the transfer syntax or LossyImageCompression', () => {
    const ds = image('CT');
    const stored = {
      [String(ds.SOPInstanceUID)]: {
        seriesInstanceUid: 'x',
        sopClassUid: String(ds.SOPClassUID),
        transferSyntaxUid: '1.2.840.10008.1.2.4.50',
        status: 'indexed' as const,
        frameCount: 1,
      },
    };
    expect(codes(run([ds], { stored }))).toEqual(['QC-PIX-LOSSY']);
    expect(codes(run([image('CT', { LossyImageCompression: '01' })]))).toEqual(['QC-PIX-LOSSY']);
  });

  it('QC-CONF-SECONDARY-CAPTURE-ONLY: warn, fail where original DICOM is required (新疆 XJ-REQ-09)', () => {
    const sc = series('OT', 'film scan', [image('OT', { SOPClassUID: '1.2.840.10008.5.1.4.1.1.7', ImagePositionPatient: undefined })]);
    expect(byCode(checkConformance(input({ series: [sc] })), 'QC-CONF-SECONDARY-CAPTURE-ONLY')?.severity).toBe('warn');
    expect(byCode(checkConformance(input({ series: [sc], mappedItems: [item('XJHRYX-CT0603')] })), 'QC-CONF-SECONDARY-CAPTURE-ONLY')).toMatchObject({
      severity: 'fail',
      basis: ['XJ-REQ-09'],
    });
    expect(codes(checkConformance(input({ series: [sc, ctStack('Head', 3)] })))).toEqual([]);
  });

  it('QC-IMG-COUNT-SHORT when fewer images arrived than ImagesInAcquisition says', () => {
    const stack = ctStack('Head', 10, { ImagesInAcquisition: 12, AcquisitionNumber: 2 });
    const findings = checkConformance(input({ series: [stack] }));
    expect(findings).toEqual([expect.objectContaining({ code: 'QC-IMG-COUNT-SHORT', severity: 'warn' })]);
    expect(findings[0].message.en).toMatch(/should have 12 images.*10 arrived/);
    expect(checkConformance(input({ series: [ctStack('Head', 12, { ImagesInAcquisition: 12 })] }))).toEqual([]);
  });

  it('checks the Image Pixel module for consistency', () => {
    expect(pixelAttributesConsistent(image('CT'))).toBe(true);
    expect(
      pixelAttributesConsistent(image('CT', { SamplesPerPixel: 3, PhotometricInterpretation: 'YBR_FULL_422', BitsAllocated: 8, BitsStored: 8, HighBit: 7 })),
    ).toBe(true);
    expect(pixelAttributesConsistent(image('CT', { BitsAllocated: 12 }))).toBe(false);
    expect(pixelAttributesConsistent(image('CT', { Rows: 0 }))).toBe(false);
  });
});
