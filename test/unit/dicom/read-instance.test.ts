import { readFileSync } from 'fs';
import { join } from 'path';
import { parseDicom, readEncapsulatedPixelDataFromFragments } from 'dicom-parser';
import { DicomInvalidError } from '../../../core/dicom/errors';
import { FailureReason } from '../../../core/dicom/failure-reasons';
import { readInstance, type BulkDataLocation, type ByteRange, type FrameIndex } from '../../../core/dicom/read-instance';
import { framePixels, makeDataset, makeInstance, TS, writePart10 } from '../../support/dicom-factory';

const fixture = (name: string) => readFileSync(join(__dirname, '../../fixtures', name));

function readWithLocations(buf: Buffer) {
  const locations = new Map<string, BulkDataLocation>();
  const result = readInstance(buf, {
    bulkDataUri: (tagPath, location) => {
      locations.set(tagPath, location);
      return `https://pacs.example/bulk/${tagPath}`;
    },
  });
  return { ...result, locations };
}

const frameBytes = (buf: Buffer, ranges: ByteRange[]) => Buffer.concat(ranges.map(([offset, length]) => buf.subarray(offset, offset + length)));

function failureOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof DicomInvalidError) return err.failureReason;
    throw err;
  }
  return undefined;
}

describe('readInstance: DICOM JSON', () => {
  const buf = fixture('ct-explicit-le.dcm');
  const { dicomJson, naturalized, header, locations } = readWithLocations(buf);

  it('holds the data set without the file meta group or group lengths', () => {
    const tags = Object.keys(dicomJson);
    expect(tags.length).toBeGreaterThan(20);
    expect(tags.filter((t) => t.startsWith('0002') || t.endsWith('0000'))).toEqual([]);
    expect(tags).toEqual([...tags].sort());
  });

  it('replaces Pixel Data by a BulkDataURI pointing at its bytes', () => {
    expect(dicomJson['7FE00010']).toEqual({ vr: 'OW', BulkDataURI: 'https://pacs.example/bulk/7FE00010' });
    const { offset, length } = locations.get('7FE00010')!;
    expect(buf.subarray(offset!, offset! + length)).toEqual(framePixels(64, 64, 16, 0));
  });

  it('uses DICOM JSON value types', () => {
    expect(dicomJson['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Zhang^San' }] });
    expect(dicomJson['0020000D']).toEqual({ vr: 'UI', Value: [header.studyInstanceUid] });
    expect(dicomJson['00280010']).toEqual({ vr: 'US', Value: [64] });
    expect(dicomJson['00200013']).toEqual({ vr: 'IS', Value: [1] });
    expect(dicomJson['00080050']).toEqual({ vr: 'SH' }); // empty AccessionNumber: no Value
    expect(dicomJson['00080090']).toEqual({ vr: 'PN' });
    expect(JSON.stringify(dicomJson)).not.toContain('_rawValue');
  });

  it('writes AT as "GGGGEEEE", empty DS and CS values as null', () => {
    const json = readWithLocations(
      makeInstance({
        numberOfFrames: 2,
        extra: { FrameIncrementPointer: 0x00181063, WindowCenter: '40\\', ImageType: ['ORIGINAL', '', 'AXIAL'], SliceThickness: '' },
      }),
    ).dicomJson;
    expect(json['00280009']).toEqual({ vr: 'AT', Value: ['00181063'] });
    expect(json['00281050']).toEqual({ vr: 'DS', Value: [40, null] });
    expect(json['00080008']).toEqual({ vr: 'CS', Value: ['ORIGINAL', null, 'AXIAL'] });
    expect(json['00180050']).toEqual({ vr: 'DS' });
  });

  it('gives the naturalized form too', () => {
    expect(naturalized).toMatchObject({
      PatientName: [{ Alphabetic: 'Zhang^San' }],
      Rows: 64,
      Modality: 'CT',
      StudyInstanceUID: header.studyInstanceUid,
      PixelData: { BulkDataURI: 'https://pacs.example/bulk/7FE00010' },
    });
  });

  it('inlines small binary values and moves large ones, nested ones by tag path', () => {
    const palette = (n: number) => new Uint16Array(n).map((_, i) => i).buffer;
    const icon = Buffer.alloc(32 * 32, 7);
    const { dicomJson: json, locations: where } = readWithLocations(
      makeInstance({
        extra: {
          RedPaletteColorLookupTableData: palette(4),
          GreenPaletteColorLookupTableData: palette(1024),
          IconImageSequence: [
            {
              Rows: 32,
              Columns: 32,
              SamplesPerPixel: 1,
              PhotometricInterpretation: 'MONOCHROME2',
              BitsAllocated: 8,
              BitsStored: 8,
              HighBit: 7,
              PixelRepresentation: 0,
              PixelData: icon.buffer.slice(icon.byteOffset, icon.byteOffset + icon.length),
              _vrMap: { PixelData: 'OB' },
            },
          ],
          _vrMap: { RedPaletteColorLookupTableData: 'OW', GreenPaletteColorLookupTableData: 'OW' },
        },
      }),
    );
    expect(json['00281201']).toEqual({ vr: 'OW', InlineBinary: Buffer.from([0, 0, 1, 0, 2, 0, 3, 0]).toString('base64') });
    expect(json['00281202']).toEqual({ vr: 'OW', BulkDataURI: 'https://pacs.example/bulk/00281202' });
    expect(where.get('00281202')!.length).toBe(2048);
    const item = (json['00880200'].Value as Record<string, unknown>[])[0];
    expect(item['7FE00010']).toEqual({ vr: 'OB', BulkDataURI: 'https://pacs.example/bulk/00880200/0/7FE00010' });
    expect(where.get('00880200/0/7FE00010')!.length).toBe(1024);
  });

  it('has no bulk data locations for a deflated file, and no frame index', () => {
    const { frames, locations: where, dicomJson: json } = readWithLocations(makeInstance({ transferSyntaxUid: TS.deflated }));
    expect(frames).toBeNull();
    expect(where.get('7FE00010')).toEqual({ offset: null, length: 64 * 64 * 2 });
    expect(json['7FE00010'].BulkDataURI).toBeDefined();
  });
});

describe('readInstance: frame index', () => {
  it('single-frame native pixel data', () => {
    const buf = fixture('ct-explicit-le.dcm');
    const frames = readWithLocations(buf).frames!;
    expect(frames.encapsulated).toBe(false);
    expect(frames.frames).toHaveLength(1);
    expect(frameBytes(buf, frames.frames[0])).toEqual(framePixels(64, 64, 16, 0));
  });

  it('multi-frame native pixel data (mf-native-3f.dcm)', () => {
    const buf = fixture('mf-native-3f.dcm');
    const frames = readWithLocations(buf).frames!;
    expect(frames.frames).toHaveLength(3);
    frames.frames.forEach((ranges, i) => {
      expect(ranges).toHaveLength(1);
      expect(frameBytes(buf, ranges)).toEqual(framePixels(32, 32, 16, i));
    });
  });

  it('implicit VR, 8-bit native frames', () => {
    const buf = makeInstance({ transferSyntaxUid: TS.implicitLittleEndian, bitsAllocated: 8, rows: 5, columns: 7, numberOfFrames: 4 });
    const frames = readWithLocations(buf).frames!;
    expect(frames.frames.map((r) => frameBytes(buf, r))).toEqual([0, 1, 2, 3].map((f) => framePixels(5, 7, 8, f)));
  });

  it('1-bit frames that do not end on a byte boundary', () => {
    const { dataset } = makeDataset({ rows: 3, columns: 3, numberOfFrames: 3, extra: { BitsAllocated: 1, BitsStored: 1, HighBit: 0 } });
    const buf = writePart10({
      dataset: { ...dataset, PixelData: new Uint8Array([0xff, 0x01, 0xfe, 0x07]).buffer, _vrMap: { PixelData: 'OB' } },
      transferSyntaxUid: TS.explicitLittleEndian,
    });
    const frames = readWithLocations(buf).frames!;
    const start = frames.frames[0][0][0];
    // 9 bits a frame: bits 0-8, 9-17, 18-26.
    expect(frames.frames.map((r) => [r[0][0] - start, r[0][1]])).toEqual([
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
    expect(frames.firstBitOffsets).toEqual([0, 1, 2]);
  });

  it.each(['jpeg-2f-2frag-bot.dcm', 'jpeg-2f-2frag-nobot.dcm'])('JPEG with two fragments per frame (%s)', (name) => {
    const buf = fixture(name);
    const frames = readWithLocations(buf).frames!;
    expect(frames.encapsulated).toBe(true);
    expect(frames.frames).toHaveLength(2);
    const ds = parseDicom(buf);
    frames.frames.forEach((ranges, i) => {
      expect(ranges).toHaveLength(2);
      const bytes = frameBytes(buf, ranges);
      expect(bytes).toEqual(Buffer.from(readEncapsulatedPixelDataFromFragments(ds, ds.elements.x7fe00010, 2 * i, 2)));
      expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xd8]); // SOI
      expect([...bytes.subarray(-2)]).toEqual([0xff, 0xd9]); // EOI
    });
  });

  it('RLE, one fragment per frame with a Basic Offset Table (rle-3f-bot.dcm)', () => {
    const buf = fixture('rle-3f-bot.dcm');
    const frames = readWithLocations(buf).frames!;
    const ds = parseDicom(buf);
    expect(frames.frames).toHaveLength(3);
    frames.frames.forEach((ranges, i) => {
      expect(ranges).toHaveLength(1);
      expect(frameBytes(buf, ranges)).toEqual(Buffer.from(readEncapsulatedPixelDataFromFragments(ds, ds.elements.x7fe00010, i, 1)));
      expect(frameBytes(buf, ranges).readUInt32LE(0)).toBe(2); // two RLE segments: high and low bytes
    });
  });

  it('uses an Extended Offset Table', () => {
    const { dataset, frames: pixels } = makeDataset({ rows: 4, columns: 4, numberOfFrames: 3 });
    const fragments = pixels.map((p, i) => Buffer.concat([p, Buffer.alloc(i * 2)])); // unequal lengths
    const u64 = (values: number[]) => {
      const b = Buffer.alloc(8 * values.length);
      values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 8 * i));
      return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
    };
    const offsets = [0, 8 + 32, 8 + 32 + 8 + 34];
    const buf = writePart10({
      dataset: {
        ...dataset,
        ExtendedOffsetTable: u64(offsets),
        ExtendedOffsetTableLengths: u64([32, 32, 32]),
        _vrMap: { ExtendedOffsetTable: 'OV', ExtendedOffsetTableLengths: 'OV' },
      },
      transferSyntaxUid: TS.encapsulatedUncompressed,
      encapsulatedFrames: fragments.map((f) => [f]),
      basicOffsetTable: false,
    });
    const frames = readWithLocations(buf).frames as FrameIndex;
    expect(frames.frames.map((r) => frameBytes(buf, r))).toEqual(pixels);
  });
});

describe('readInstance: OV, SV and UV (2 reserved bytes and a 32-bit length, which dicom-parser reads as a 16-bit one)', () => {
  const u64 = (values: number[]) => {
    const b = Buffer.alloc(8 * values.length);
    values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 8 * i));
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
  };
  const int64s = (values: bigint[], signed: boolean, littleEndian = true) => {
    const b = Buffer.alloc(8 * values.length);
    values.forEach((v, i) =>
      signed
        ? littleEndian
          ? b.writeBigInt64LE(v, 8 * i)
          : b.writeBigInt64BE(v, 8 * i)
        : littleEndian
          ? b.writeBigUInt64LE(v, 8 * i)
          : b.writeBigUInt64BE(v, 8 * i),
    );
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
  };
  const BIG_SV = -(2n ** 60n);
  const BIG_UV = 2n ** 64n - 1n;
  /** Private SV and UV elements at the top level and in a sequence item, and a private OV one. */
  const veryLongs = (littleEndian = true) => ({
    '00110010': { vr: 'LO', Value: ['HUREN TEST'] },
    '00111001': { vr: 'SV', Value: [int64s([-5n, BIG_SV], true, littleEndian)] },
    '00111002': { vr: 'UV', Value: [int64s([7n, BIG_UV], false, littleEndian)] },
    '00111003': { vr: 'OV', Value: [int64s([1n, 2n], false, littleEndian)] },
    '00400275/0/00110010': { vr: 'LO', Value: ['HUREN TEST'] },
    '00400275/0/00111001': { vr: 'SV', Value: [int64s([-1n], true, littleEndian)] },
  });
  const itemWithPrivates = { RequestAttributesSequence: [{ ScheduledProcedureStepID: 'SPS1' }] };

  /** 3 frames, a fragment each, longer than the frame: only the Extended Offset Table's lengths give the frames exactly. */
  function withExtendedOffsetTable() {
    const { dataset, frames: pixels } = makeDataset({ rows: 4, columns: 4, numberOfFrames: 3, extra: itemWithPrivates });
    const fragments = pixels.map((p, i) => Buffer.concat([p, Buffer.alloc(i * 2)]));
    const buf = writePart10({
      dataset,
      transferSyntaxUid: TS.encapsulatedUncompressed,
      encapsulatedFrames: fragments.map((f) => [f]),
      basicOffsetTable: false,
      elements: {
        ...veryLongs(),
        '7FE00001': { vr: 'OV', Value: [u64([0, 8 + 32, 8 + 32 + 8 + 34])] },
        '7FE00002': { vr: 'OV', Value: [u64([32, 32, 32])] },
        '7FE00003': { vr: 'UV', Value: [u64([fragments.reduce((n, f) => n + 8 + f.length, 8)])] },
      },
    });
    return { buf, pixels };
  }

  it('the test file has them, and dicom-parser alone cannot read it', () => {
    const { buf } = withExtendedOffsetTable();
    const vrOf = (tag: number[]) => buf.toString('latin1', buf.indexOf(Buffer.from(tag)) + 4, buf.indexOf(Buffer.from(tag)) + 6);
    expect([vrOf([0xe0, 0x7f, 0x01, 0x00]), vrOf([0xe0, 0x7f, 0x02, 0x00]), vrOf([0xe0, 0x7f, 0x03, 0x00])]).toEqual(['OV', 'OV', 'UV']);
    expect(() => parseDicom(buf)).toThrow();
  });

  it('reads frames by an Extended Offset Table encoded as OV, leaving the file as it was', () => {
    const { buf, pixels } = withExtendedOffsetTable();
    const before = Buffer.from(buf);
    const { frames, dicomJson, naturalized } = readWithLocations(buf);
    expect(frames!.frames.map((r) => frameBytes(buf, r))).toEqual(pixels);
    expect(buf).toEqual(before);
    expect(dicomJson['7FE00001']).toEqual({ vr: 'OV', InlineBinary: Buffer.from(u64([0, 40, 82])).toString('base64') });
    expect(dicomJson['7FE00002']).toEqual({ vr: 'OV', InlineBinary: Buffer.from(u64([32, 32, 32])).toString('base64') });
    expect(dicomJson['7FE00003']).toEqual({ vr: 'UV', Value: [8 + 40 + 42 + 44] });
    expect(naturalized.EncapsulatedPixelDataValueTotalLength).toBe(8 + 40 + 42 + 44);
  });

  it.each([
    ['encapsulated, with an Extended Offset Table', () => withExtendedOffsetTable().buf, true],
    [
      'native',
      () => writePart10({ dataset: makeDataset({ extra: itemWithPrivates }).dataset, transferSyntaxUid: TS.explicitLittleEndian, elements: veryLongs() }),
      true,
    ],
    ['deflated', () => writePart10({ dataset: makeDataset({ extra: itemWithPrivates }).dataset, transferSyntaxUid: TS.deflated, elements: veryLongs() }), true],
    [
      'big endian',
      () => writePart10({ dataset: makeDataset({ extra: itemWithPrivates }).dataset, transferSyntaxUid: '1.2.840.10008.1.2.2', elements: veryLongs(false) }),
      false,
    ],
  ])('gives SV and UV values as JSON Numbers, or strings beyond 2^53, and OV as binary (%s)', (_name, make) => {
    const { dicomJson } = readWithLocations(make());
    expect(dicomJson['00111001']).toEqual({ vr: 'SV', Value: [-5, BIG_SV.toString()] });
    expect(dicomJson['00111002']).toEqual({ vr: 'UV', Value: [7, BIG_UV.toString()] });
    expect(dicomJson['00111003'].vr).toBe('OV');
    expect(dicomJson['00111003'].InlineBinary).toHaveLength(24); // 16 bytes in base64
    const item = (dicomJson['00400275'].Value as Record<string, unknown>[])[0];
    expect(item['00111001']).toEqual({ vr: 'SV', Value: [-1] });
    expect(item['00400009']).toEqual({ vr: 'SH', Value: ['SPS1'] });
    expect(() => JSON.stringify(dicomJson)).not.toThrow();
  });
});

describe('readInstance: invalid input', () => {
  const bulkDataUri = () => 'x';
  it.each([
    ['bad-not-dicom.dcm', FailureReason.cannotUnderstand],
    ['bad-truncated.dcm', FailureReason.cannotUnderstand],
    ['bad-no-meta.dcm', FailureReason.cannotUnderstand],
    ['bad-unknown-ts.dcm', FailureReason.transferSyntaxNotSupported],
    ['bad-uid-mismatch.dcm', FailureReason.dataSetDoesNotMatchSopClass],
  ])('%s → %#x', (name, reason) => {
    expect(failureOf(() => readInstance(fixture(name), { bulkDataUri }))).toBe(reason);
  });

  it.each(['ct-explicit-le.dcm', 'cr-gb18030-implicit.dcm', 'rle-3f-bot.dcm'])('rejects %s cut short inside the pixel data', (name) => {
    const buf = fixture(name);
    expect(failureOf(() => readInstance(buf.subarray(0, buf.length - 100), { bulkDataUri }))).toBe(FailureReason.cannotUnderstand);
  });
});
