import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DicomInvalidError } from '../../../core/dicom/errors';
import * as readInstanceModule from '../../../core/dicom/read-instance';
import { readInstance, type BulkDataLocation, type ReadInstance } from '../../../core/dicom/read-instance';
import { readStoredInstance, WHOLE_READ_BELOW } from '../../../core/dicom/read-stored-instance';
import { FsObjectStore, ObjectNotFoundError, type ByteRange } from '../../../core/storage';
import { makeDataset, makeInstance, TS, writePart10, type MakeInstanceOptions } from '../../support/dicom-factory';

/**
 * readStoredInstance must return exactly what readInstance returns for the whole object. Each
 * case stores a generated instance in a real FsObjectStore and compares both, with range reads
 * forced (wholeReadBelow 0) so small test objects take the path large ones take.
 */

/** A real fs store that records the ranges read, to check what range reads cost. */
class RecordingStore extends FsObjectStore {
  reads: Array<ByteRange | 'whole'> = [];
  override async get(key: string, range?: ByteRange): Promise<Readable> {
    this.reads.push(range ?? 'whole');
    return super.get(key, range);
  }
}

/** Watched (not replaced) to tell which way readStoredInstance went. */
const omitting = jest.spyOn(readInstanceModule, 'readInstanceOmittingPixelData');

let dir: string;
let store: RecordingStore;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'huren-read-stored-'));
  store = new RecordingStore(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

type Outcome = { result: ReadInstance; json: string; bulkData: Array<[string, BulkDataLocation]> } | { error: unknown };

/** The result, its DICOM JSON serialized (key order counts), and the bulkDataUri calls in order; or the error. */
async function outcome(read: (opts: { bulkDataUri: (tagPath: string, location: BulkDataLocation) => string }) => ReadInstance | Promise<ReadInstance>) {
  const bulkData: Array<[string, BulkDataLocation]> = [];
  try {
    const result = await read({
      bulkDataUri: (tagPath, location) => {
        bulkData.push([tagPath, location]);
        return `bulk/${tagPath}`;
      },
    });
    return { result, json: JSON.stringify(result.dicomJson), bulkData } satisfies Outcome;
  } catch (error) {
    return { error } satisfies Outcome;
  }
}

async function store_(buf: Buffer): Promise<string> {
  const key = `objects/${randomUUID()}.dcm`;
  await store.put(key, Readable.from([buf]), buf.length);
  store.reads = [];
  return key;
}

/** Stores buf, reads it both ways, and expects the same outcome, read as `way` when it succeeds; returns readStoredInstance's. */
async function expectSameRead(buf: Buffer, way: 'by range' | 'whole' = 'by range'): Promise<Outcome> {
  const key = await store_(buf);
  omitting.mockClear();
  const expected = await outcome((opts) => readInstance(buf, opts));
  const actual = await outcome((opts) => readStoredInstance(store, key, { ...opts, wholeReadBelow: 0 }));
  if ('error' in expected) {
    expect('error' in actual && actual.error).toBeInstanceOf(DicomInvalidError);
    const [e, a] = [expected.error, (actual as { error: unknown }).error] as DicomInvalidError[];
    expect(a.failureReason).toBe(e.failureReason);
  } else {
    expect(actual).toEqual(expected);
    expect(omitting).toHaveBeenCalledTimes(way === 'by range' ? 1 : 0);
  }
  return actual;
}

const bytesRead = () => store.reads.reduce((n, r) => n + (r === 'whole' ? Infinity : r.end + 1 - r.start), 0);

const u64 = (values: number[]) => {
  const b = Buffer.alloc(8 * values.length);
  values.forEach((v, i) => b.writeBigUInt64LE(BigInt(v), 8 * i));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
};
const arrayBuffer = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
/** Fragments with given lengths, each opening with `head`. */
const fragment = (length: number, head: number[] = [], fill = 0x55) => Buffer.concat([Buffer.from(head), Buffer.alloc(length - head.length, fill)]);

function encapsulated(opts: MakeInstanceOptions, frames: Buffer[][], basicOffsetTable = true, extra: Record<string, unknown> = {}): Buffer {
  const { dataset } = makeDataset({ ...opts, numberOfFrames: frames.length });
  return writePart10({
    dataset: { ...dataset, ...extra },
    transferSyntaxUid: opts.transferSyntaxUid ?? TS.encapsulatedUncompressed,
    encapsulatedFrames: frames,
    basicOffsetTable,
  });
}

describe('readStoredInstance: native pixel data', () => {
  it('multi-frame explicit VR, reading only the header', async () => {
    const buf = makeInstance({ rows: 128, columns: 128, numberOfFrames: 40 }); // 1.3 MB of pixels
    const read = await expectSameRead(buf);
    expect('result' in read && read.result.frames!.frames).toHaveLength(40);
    expect(bytesRead()).toBeLessThanOrEqual(64 * 1024);
  });

  it('implicit VR little endian, 8 bits', async () => {
    await expectSameRead(makeInstance({ transferSyntaxUid: TS.implicitLittleEndian, bitsAllocated: 8, rows: 5, columns: 7, numberOfFrames: 4 }));
  });

  it('explicit VR big endian', async () => {
    const { dataset, frames } = makeDataset({ rows: 4, columns: 4, numberOfFrames: 3 });
    const pixels = Buffer.concat(frames);
    await expectSameRead(
      writePart10({ dataset: { ...dataset, PixelData: arrayBuffer(pixels), _vrMap: { PixelData: 'OW' } }, transferSyntaxUid: '1.2.840.10008.1.2.2' }),
    );
  });

  it('1-bit frames that do not end on a byte boundary', async () => {
    const { dataset } = makeDataset({ rows: 3, columns: 3, numberOfFrames: 3, extra: { BitsAllocated: 1, BitsStored: 1, HighBit: 0 } });
    const pixels = new Uint8Array([0xff, 0x01, 0xfe, 0x07]).buffer;
    const read = await expectSameRead(
      writePart10({ dataset: { ...dataset, PixelData: pixels, _vrMap: { PixelData: 'OB' } }, transferSyntaxUid: TS.explicitLittleEndian }),
    );
    expect('result' in read && read.result.frames!.firstBitOffsets).toEqual([0, 1, 2]);
  });

  it('Float Pixel Data', async () => {
    const { dataset } = makeDataset({ rows: 8, columns: 8, numberOfFrames: 2, extra: { BitsAllocated: 32 } });
    delete dataset.BitsStored;
    delete dataset.HighBit;
    delete dataset.PixelRepresentation;
    const pixels = arrayBuffer(Buffer.from(new Float32Array(128).map((_, i) => i / 3).buffer));
    await expectSameRead(
      writePart10({ dataset: { ...dataset, FloatPixelData: pixels, _vrMap: { FloatPixelData: 'OF' } }, transferSyntaxUid: TS.explicitLittleEndian }),
    );
  });

  it('an icon image with its own Pixel Data before the main one, and large values before Pixel Data', async () => {
    const icon = Buffer.alloc(32 * 32, 7);
    const buf = makeInstance({
      numberOfFrames: 3,
      extra: {
        // Past the first read: the read of the header has to grow.
        RedPaletteColorLookupTableData: arrayBuffer(Buffer.alloc(150_000, 1)),
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
            PixelData: arrayBuffer(icon),
            _vrMap: { PixelData: 'OB' },
          },
        ],
        _vrMap: { RedPaletteColorLookupTableData: 'OW' },
      },
    });
    const read = await expectSameRead(buf);
    expect('result' in read && read.bulkData.map(([tagPath]) => tagPath)).toEqual(['00281201', '00880200/0/7FE00010', '7FE00010']);
  });

  it('elements after Pixel Data: a digital signature with bulk data, and trailing padding', async () => {
    const { dataset, frames } = makeDataset({ rows: 16, columns: 16, numberOfFrames: 4 });
    const signature = {
      MACIDNumber: 1,
      DigitalSignatureUID: '1.2.3.4',
      DigitalSignatureDateTime: '20240101120000',
      CertificateType: 'X509_1993_SIG',
      CertificateOfSigner: arrayBuffer(Buffer.alloc(2000, 9)),
      Signature: arrayBuffer(Buffer.alloc(256, 3)),
      _vrMap: { CertificateOfSigner: 'OB', Signature: 'OB' },
    };
    const body = writePart10({
      dataset: { ...dataset, PixelData: arrayBuffer(Buffer.concat(frames)), DigitalSignaturesSequence: [signature], _vrMap: { PixelData: 'OW' } },
      transferSyntaxUid: TS.explicitLittleEndian,
    });
    const padding = Buffer.from([0xfc, 0xff, 0xfc, 0xff, 0x4f, 0x42, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
    const read = await expectSameRead(Buffer.concat([body, padding]));
    expect('result' in read && Object.keys(read.result.dicomJson).slice(-3)).toEqual(['7FE00010', 'FFFAFFFA', 'FFFCFFFC']);
    expect('result' in read && read.bulkData.map(([tagPath]) => tagPath)).toEqual(['7FE00010', 'FFFAFFFA/0/04000115']);
  });
});

describe('readStoredInstance: encapsulated pixel data', () => {
  const frames = (n: number, perFrame: number, length: (f: number, i: number) => number) =>
    Array.from({ length: n }, (_, f) => Array.from({ length: perFrame }, (_, i) => fragment(length(f, i), [], f)));

  it.each([
    ['one fragment a frame, with a Basic Offset Table', frames(5, 1, () => 1000), true],
    ['one fragment a frame, empty Basic Offset Table', frames(5, 1, () => 1000), false],
    ['three fragments a frame of odd lengths, with a Basic Offset Table', frames(5, 3, (f, i) => 101 + 2 * f + i), true],
    ['a single frame in three fragments, empty Basic Offset Table', frames(1, 3, () => 333), false],
  ])('%s', async (_name, pixels, bot) => {
    await expectSameRead(encapsulated({ rows: 4, columns: 4 }, pixels, bot));
  });

  it('several fragments a frame and no Basic Offset Table: frames found by JPEG start markers', async () => {
    const pixels = Array.from({ length: 4 }, () => [fragment(300, [0xff, 0xd8]), fragment(200, [0x00, 0x11]), fragment(101, [0xff, 0xd9])]);
    const read = await expectSameRead(encapsulated({ transferSyntaxUid: TS.jpegBaseline }, pixels, false));
    expect('result' in read && read.result.frames!.frames.map((f) => f.length)).toEqual([3, 3, 3, 3]);
  });

  it('an Extended Offset Table', async () => {
    const pixels = [32, 34, 36].map((n, i) => [fragment(n, [], i)]);
    const extra = {
      ExtendedOffsetTable: u64([0, 8 + 32, 8 + 32 + 8 + 34]),
      ExtendedOffsetTableLengths: u64([32, 32, 32]),
      _vrMap: { ExtendedOffsetTable: 'OV', ExtendedOffsetTableLengths: 'OV' },
    };
    await expectSameRead(encapsulated({ rows: 4, columns: 4 }, pixels, false, extra));
  });

  it('an Extended Offset Table encoded as OV (which dicom-parser misreads), with SV and UV elements', async () => {
    const pixels = [32, 34, 36].map((n, i) => [fragment(n, [], i)]);
    const { dataset } = makeDataset({ rows: 4, columns: 4, numberOfFrames: 3, extra: { RequestAttributesSequence: [{ ScheduledProcedureStepID: 'SPS1' }] } });
    const int64 = (v: bigint) => {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(v);
      return arrayBuffer(b);
    };
    const buf = writePart10({
      dataset,
      transferSyntaxUid: TS.encapsulatedUncompressed,
      encapsulatedFrames: pixels,
      basicOffsetTable: false,
      elements: {
        '00110010': { vr: 'LO', Value: ['HUREN TEST'] },
        '00111001': { vr: 'SV', Value: [int64(-(2n ** 62n))] },
        '00400275/0/00110010': { vr: 'LO', Value: ['HUREN TEST'] },
        '00400275/0/00111002': { vr: 'UV', Value: [u64([12])] },
        '7FE00001': { vr: 'OV', Value: [u64([0, 8 + 32, 8 + 32 + 8 + 34])] },
        '7FE00002': { vr: 'OV', Value: [u64([32, 32, 32])] },
        '7FE00003': { vr: 'UV', Value: [u64([8 + 8 + 32 + 8 + 34 + 8 + 36])] },
      },
    });
    const read = await expectSameRead(buf);
    if (!('result' in read)) throw read.error;
    // The fragments are longer than the table's lengths: frames of 32 bytes come from the table.
    expect(read.result.frames!.frames.map((ranges) => ranges.map(([, length]) => length))).toEqual([[32], [32], [32]]);
    const json = read.result.dicomJson;
    expect([json['7FE00001'].vr, json['7FE00002'].vr, json['7FE00003']]).toEqual(['OV', 'OV', { vr: 'UV', Value: [134] }]);
    expect(json['00111001']).toEqual({ vr: 'SV', Value: [(-(2n ** 62n)).toString()] });
    expect((json['00400275'].Value as Record<string, unknown>[])[0]['00111002']).toEqual({ vr: 'UV', Value: [12] });
  });

  it('many small fragments cost a range read per window, not per fragment', async () => {
    await expectSameRead(
      encapsulated(
        { rows: 4, columns: 4 },
        frames(999, 1, () => 400),
        true,
      ),
    );
    expect(store.reads.length).toBeLessThan(20);
  });

  it('fragments larger than the window are skipped, not read', async () => {
    const buf = encapsulated(
      { rows: 4, columns: 4 },
      frames(6, 1, () => 300_000),
      true,
    );
    await expectSameRead(buf);
    expect(bytesRead()).toBeLessThan(buf.length / 3);
  });
});

describe('readStoredInstance: everything else as readInstance', () => {
  it.each([
    ['native', () => makeInstance({ numberOfFrames: 3 })],
    ['encapsulated', () => makeInstance({ numberOfFrames: 3, transferSyntaxUid: TS.rle })],
  ])('rejects a %s file truncated inside Pixel Data as readInstance does', async (_name, make) => {
    const buf = make();
    for (const cut of [1, 7, 100]) {
      const read = await expectSameRead(buf.subarray(0, buf.length - cut));
      expect('error' in read && read.error).toBeInstanceOf(DicomInvalidError);
    }
  });

  it.each(readdirSync(path.join(__dirname, '../../fixtures')).filter((f) => f.endsWith('.dcm')))('fixture %s', async (name) => {
    await expectSameRead(readFileSync(path.join(__dirname, '../../fixtures', name)));
  });

  it('reads a document without Pixel Data whole', async () => {
    const { dataset } = makeDataset({ modality: 'SR', sopClassUid: '1.2.840.10008.5.1.4.1.1.88.11' });
    for (const tag of ['Rows', 'Columns', 'BitsAllocated', 'BitsStored', 'HighBit', 'PixelRepresentation', 'SamplesPerPixel', 'PhotometricInterpretation']) {
      delete dataset[tag];
    }
    const content = { RelationshipType: 'CONTAINS', ValueType: 'TEXT', TextValue: 'No acute findings.' };
    const read = await expectSameRead(
      writePart10({ dataset: { ...dataset, ValueType: 'CONTAINER', ContentSequence: [content] }, transferSyntaxUid: TS.explicitLittleEndian }),
      'whole',
    );
    expect('result' in read && read.result.frames).toEqual({ encapsulated: false, frames: [] });
  });

  it('reads a file with two Pixel Data elements (invalid) whole, leaving readInstance to choose', async () => {
    const { dataset, frames } = makeDataset({ rows: 4, columns: 4 });
    const floats = arrayBuffer(Buffer.from(new Float32Array(16).buffer));
    const pixels = arrayBuffer(frames[0]);
    const buf = writePart10({
      dataset: { ...dataset, FloatPixelData: floats, PixelData: pixels, _vrMap: { FloatPixelData: 'OF', PixelData: 'OW' } },
      transferSyntaxUid: TS.explicitLittleEndian,
    });
    await expectSameRead(buf, 'whole');
  });

  it('reads a deflated file whole: it has no offsets to keep', async () => {
    await expectSameRead(makeInstance({ transferSyntaxUid: TS.deflated, numberOfFrames: 2 }), 'whole');
  });

  it('reads small objects whole by default, in one request', async () => {
    const buf = makeInstance();
    const key = await store_(buf);
    const read = await readStoredInstance(store, key, { bulkDataUri: (tagPath) => tagPath });
    expect(buf.length).toBeLessThan(WHOLE_READ_BELOW);
    expect(store.reads).toEqual(['whole']);
    expect(read).toEqual(readInstance(buf, { bulkDataUri: (tagPath) => tagPath }));
  });

  it('reads an object whole without asking its size when the recorded size is small, and asks otherwise', async () => {
    const buf = makeInstance({ numberOfFrames: 2 });
    const key = await store_(buf);
    const stat = jest.spyOn(store, 'stat');
    const read = await readStoredInstance(store, key, { bulkDataUri: (tagPath) => tagPath, recordedSize: buf.length });
    expect(stat).not.toHaveBeenCalled();
    expect(store.reads).toEqual(['whole']);
    expect(read).toEqual(readInstance(buf, { bulkDataUri: (tagPath) => tagPath }));
    omitting.mockClear();
    await readStoredInstance(store, key, { bulkDataUri: (tagPath) => tagPath, recordedSize: buf.length, wholeReadBelow: buf.length });
    expect(stat).toHaveBeenCalledTimes(1);
    expect(omitting).toHaveBeenCalledTimes(1);
    stat.mockRestore();
  });

  it('rejects a missing object with ObjectNotFoundError', async () => {
    await expect(readStoredInstance(store, 'objects/missing.dcm', { bulkDataUri: () => 'x' })).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(readStoredInstance(store, 'objects/missing.dcm', { bulkDataUri: () => 'x', recordedSize: 1000 })).rejects.toBeInstanceOf(ObjectNotFoundError);
  });
});
