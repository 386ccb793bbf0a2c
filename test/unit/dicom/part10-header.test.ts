import { readFileSync } from 'fs';
import { join } from 'path';
import { parseDicom } from 'dicom-parser';
import { DicomInvalidError } from '../../../core/dicom/errors';
import { FailureReason } from '../../../core/dicom/failure-reasons';
import { MAX_HEADER_BYTES, readPart10Header, type Part10Header } from '../../../core/dicom/part10-header';
import { makeInstance, TS } from '../../support/dicom-factory';

const fixture = (name: string) => readFileSync(join(__dirname, '../../fixtures', name));

/** What STOW does: feed growing prefixes until the reader decides. */
function feed(buf: Buffer, chunk: number): { result: Part10Header | 'incomplete'; bytesUsed: number } {
  for (let n = Math.min(chunk, buf.length); ; n = Math.min(n + chunk, buf.length)) {
    const result = readPart10Header(buf.subarray(0, n));
    if (result !== 'incomplete' || n === buf.length) return { result, bytesUsed: n };
  }
}

function failureOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof DicomInvalidError) return err.failureReason;
    throw err;
  }
  return undefined;
}

/** The UIDs as dicom-parser reads them from the whole file, for an independent expectation. */
function expected(buf: Buffer): Part10Header {
  const ds = parseDicom(buf);
  return {
    sopClassUid: ds.string('x00080016')!,
    sopInstanceUid: ds.string('x00080018')!,
    studyInstanceUid: ds.string('x0020000d')!,
    seriesInstanceUid: ds.string('x0020000e')!,
    transferSyntaxUid: ds.string('x00020010')!,
  };
}

describe('readPart10Header', () => {
  const good = [
    'ct-explicit-le.dcm',
    'ct-iso2022-ir58.dcm',
    'cr-gb18030-implicit.dcm',
    'mr-utf8.dcm',
    'dx-gbk.dcm',
    'mf-native-3f.dcm',
    'rle-3f-bot.dcm',
    'jpeg-2f-2frag-bot.dcm',
  ];

  describe.each(good)('%s', (name) => {
    const buf = fixture(name);
    it.each([1, 100, buf.length])('decides from chunks of %i bytes, before the pixel data', (chunk) => {
      const { result, bytesUsed } = feed(buf, chunk);
      expect(result).toEqual(expected(buf));
      if (chunk < buf.length) expect(bytesUsed).toBeLessThan(buf.length);
    });
  });

  it('answers incomplete for anything shorter than the preamble and prefix', () => {
    const buf = fixture('ct-explicit-le.dcm');
    for (const n of [0, 1, 127, 128, 131]) expect(readPart10Header(buf.subarray(0, n))).toBe('incomplete');
  });

  it.each([
    ['bad-not-dicom.dcm', FailureReason.cannotUnderstand],
    ['bad-no-meta.dcm', FailureReason.cannotUnderstand],
    ['bad-unknown-ts.dcm', FailureReason.transferSyntaxNotSupported],
    ['bad-uid-mismatch.dcm', FailureReason.dataSetDoesNotMatchSopClass],
  ])('%s fails with %#x whole or fed in pieces', (name, reason) => {
    const buf = fixture(name);
    expect(failureOf(() => readPart10Header(buf))).toBe(reason);
    for (const chunk of [1, 100]) expect(failureOf(() => feed(buf, chunk))).toBe(reason);
  });

  it('bad-not-dicom.dcm is rejected as soon as the prefix is wrong', () => {
    expect(failureOf(() => readPart10Header(fixture('bad-not-dicom.dcm').subarray(0, 129)))).toBe(FailureReason.cannotUnderstand);
  });

  it('bad-truncated.dcm stays incomplete: at the end of the stream that means truncated', () => {
    expect(readPart10Header(fixture('bad-truncated.dcm'))).toBe('incomplete');
  });

  it('rejects a SOPClassUID that differs from MediaStorageSOPClassUID with 0xA900', () => {
    const buf = makeInstance({ modality: 'CT' });
    const at = buf.indexOf('1.2.840.10008.5.1.4.1.1.2\0', 200); // SOPClassUID in the data set, not the meta
    buf.write('1.2.840.10008.5.1.4.1.1.4\0', at, 'latin1'); // MR: same length
    expect(failureOf(() => readPart10Header(buf))).toBe(FailureReason.dataSetDoesNotMatchSopClass);
  });

  it('rejects a missing SeriesInstanceUID and an invalid StudyInstanceUID with 0xC000', () => {
    expect(failureOf(() => readPart10Header(makeInstance({ extra: { SeriesInstanceUID: undefined } })))).toBe(FailureReason.cannotUnderstand);
    expect(failureOf(() => readPart10Header(makeInstance({ studyInstanceUid: '1.2.03' })))).toBe(FailureReason.cannotUnderstand);
  });

  it.each([TS.explicitLittleEndian, TS.implicitLittleEndian])('walks over sequences before the UIDs (%s)', (transferSyntaxUid) => {
    const buf = makeInstance({
      transferSyntaxUid,
      extra: {
        // (0008,1140) and (0008,1032) lie between SOPInstanceUID and StudyInstanceUID.
        ReferencedImageSequence: [
          { ReferencedSOPClassUID: '1.2.3', ReferencedSOPInstanceUID: '1.2.3.4' },
          { ReferencedSOPClassUID: '1.2.3', ReferencedSOPInstanceUID: '1.2.3.5' },
        ],
        ProcedureCodeSequence: [{ CodeValue: 'X', CodingSchemeDesignator: 'L', CodeMeaning: 'Chest', ConceptCodeSequence: [{ CodeValue: 'Y' }] }],
      },
    });
    expect(feed(buf, 7).result).toEqual(expected(buf));
  });

  it('inflates a deflated data set, also from a partial stream', () => {
    const buf = makeInstance({ transferSyntaxUid: TS.deflated, patientName: '张三' });
    const result = feed(buf, 50);
    expect(result.result).toMatchObject({ transferSyntaxUid: TS.deflated });
    expect((result.result as Part10Header).sopInstanceUid).toMatch(/^2\.25\./);
    expect(result.bytesUsed).toBeLessThan(buf.length);
  });

  it(`gives up with 0xC000 when no decision is possible within ${MAX_HEADER_BYTES} bytes`, () => {
    const head = makeInstance();
    const metaEnd = 132 + 12 + head.readUInt32LE(140);
    // (0008,0001) OB of 16 MB before any UID.
    const element = Buffer.from([0x08, 0x00, 0x01, 0x00, 0x4f, 0x42, 0, 0, 0, 0, 0, 0x01]);
    const buf = Buffer.concat([head.subarray(0, metaEnd), element, Buffer.alloc(MAX_HEADER_BYTES)]);
    expect(readPart10Header(buf.subarray(0, MAX_HEADER_BYTES - 1))).toBe('incomplete');
    expect(failureOf(() => readPart10Header(buf))).toBe(FailureReason.cannotUnderstand);
  });

  it('carries a readable message', () => {
    expect(() => readPart10Header(fixture('bad-unknown-ts.dcm'))).toThrow(/1\.2\.840\.10008\.1\.2\.4\.52 is not supported/);
    expect(() => readPart10Header(fixture('bad-uid-mismatch.dcm'))).toThrow(/differs from MediaStorageSOPInstanceUID/);
  });
});
