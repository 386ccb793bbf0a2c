/**
 * Reads the identifying UIDs of a DICOM Part 10 file (PS3.10 §7) from its first bytes, so
 * STOW can accept or reject a streamed part before the rest of it arrives.
 *
 * Why not dicom-parser: on a buffer that simply ends early it throws the same errors it
 * throws for broken files ("missing required meta header attribute 0002,0010" for a file cut
 * at byte 140), or stops quietly with a warning, so 'need more bytes' cannot be told from
 * 'malformed'. The walk below is strict instead: running out of bytes anywhere is
 * 'incomplete', anything structurally wrong is a DicomInvalidError.
 */
import { inflateRawSync, constants as zlibConstants } from 'zlib';
import { DicomInvalidError } from './errors';
import { FailureReason } from './failure-reasons';
import { isUid } from './uid';

export interface Part10Header {
  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  transferSyntaxUid: string;
  /** (0002,0016) when present: the AE that wrote the file, used to attribute the sender. */
  sourceApplicationEntityTitle?: string;
}

export interface TransferSyntax {
  uid: string;
  name: string;
  explicitVr: boolean;
  littleEndian: boolean;
  /** The data set after the file meta information is one raw deflate stream. */
  deflated: boolean;
  /** Pixel Data is a sequence of fragments (PS3.5 A.4) rather than native pixels. */
  encapsulated: boolean;
  /** The fragments hold one video bitstream rather than separately addressable frames. */
  video: boolean;
}

const native = (uid: string, name: string, explicitVr = true, littleEndian = true, deflated = false): TransferSyntax => ({
  uid,
  name,
  explicitVr,
  littleEndian,
  deflated,
  encapsulated: false,
  video: false,
});
const encapsulated = (uid: string, name: string, video = false): TransferSyntax => ({
  uid,
  name,
  explicitVr: true,
  littleEndian: true,
  deflated: false,
  encapsulated: true,
  video,
});

/**
 * The transfer syntaxes huren stores (PS3.6 Table A-1). Retired JPEG processes and the JPIP
 * "referenced" syntaxes (pixel data lives elsewhere) are left out on purpose: an instance in
 * one of them is rejected with 0xC122 rather than stored unusable.
 */
export const TRANSFER_SYNTAXES: ReadonlyMap<string, TransferSyntax> = new Map(
  [
    native('1.2.840.10008.1.2', 'Implicit VR Little Endian', false),
    native('1.2.840.10008.1.2.1', 'Explicit VR Little Endian'),
    native('1.2.840.10008.1.2.1.99', 'Deflated Explicit VR Little Endian', true, true, true),
    native('1.2.840.10008.1.2.2', 'Explicit VR Big Endian (retired)', true, false),
    encapsulated('1.2.840.10008.1.2.1.98', 'Encapsulated Uncompressed Explicit VR Little Endian'),
    encapsulated('1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)'),
    encapsulated('1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 & 4)'),
    encapsulated('1.2.840.10008.1.2.4.57', 'JPEG Lossless (Process 14)'),
    encapsulated('1.2.840.10008.1.2.4.70', 'JPEG Lossless SV1 (Process 14, Selection Value 1)'),
    encapsulated('1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless'),
    encapsulated('1.2.840.10008.1.2.4.81', 'JPEG-LS Near-Lossless'),
    encapsulated('1.2.840.10008.1.2.4.90', 'JPEG 2000 (Lossless Only)'),
    encapsulated('1.2.840.10008.1.2.4.91', 'JPEG 2000'),
    encapsulated('1.2.840.10008.1.2.4.92', 'JPEG 2000 Part 2 Multi-component (Lossless Only)'),
    encapsulated('1.2.840.10008.1.2.4.93', 'JPEG 2000 Part 2 Multi-component'),
    encapsulated('1.2.840.10008.1.2.4.110', 'JPEG XL Lossless'),
    encapsulated('1.2.840.10008.1.2.4.111', 'JPEG XL JPEG Recompression'),
    encapsulated('1.2.840.10008.1.2.4.112', 'JPEG XL'),
    encapsulated('1.2.840.10008.1.2.4.201', 'High-Throughput JPEG 2000 (Lossless Only)'),
    encapsulated('1.2.840.10008.1.2.4.202', 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)'),
    encapsulated('1.2.840.10008.1.2.4.203', 'High-Throughput JPEG 2000'),
    encapsulated('1.2.840.10008.1.2.5', 'RLE Lossless'),
    ...[
      ['1.2.840.10008.1.2.4.100', 'MPEG2 Main Profile / Main Level'],
      ['1.2.840.10008.1.2.4.100.1', 'Fragmentable MPEG2 Main Profile / Main Level'],
      ['1.2.840.10008.1.2.4.101', 'MPEG2 Main Profile / High Level'],
      ['1.2.840.10008.1.2.4.101.1', 'Fragmentable MPEG2 Main Profile / High Level'],
      ['1.2.840.10008.1.2.4.102', 'MPEG-4 AVC/H.264 High Profile / Level 4.1'],
      ['1.2.840.10008.1.2.4.102.1', 'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.1'],
      ['1.2.840.10008.1.2.4.103', 'MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1'],
      ['1.2.840.10008.1.2.4.103.1', 'Fragmentable MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1'],
      ['1.2.840.10008.1.2.4.104', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video'],
      ['1.2.840.10008.1.2.4.104.1', 'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video'],
      ['1.2.840.10008.1.2.4.105', 'MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video'],
      ['1.2.840.10008.1.2.4.105.1', 'Fragmentable MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video'],
      ['1.2.840.10008.1.2.4.106', 'MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2'],
      ['1.2.840.10008.1.2.4.106.1', 'Fragmentable MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2'],
      ['1.2.840.10008.1.2.4.107', 'HEVC/H.265 Main Profile / Level 5.1'],
      ['1.2.840.10008.1.2.4.108', 'HEVC/H.265 Main 10 Profile / Level 5.1'],
    ].map(([uid, name]) => encapsulated(uid, name, true)),
  ].map((ts) => [ts.uid, ts]),
);

/** A file whose identifying UIDs are not within this many bytes is rejected rather than buffered. */
export const MAX_HEADER_BYTES = 8 * 1024 * 1024;

const UNDEFINED_LENGTH = 0xffffffff;
const MAX_NESTING = 64;
const MAX_META_VALUE = 64 * 1024;
const MAX_UID_VALUE = 256;
// Explicit VRs whose length field is 32 bits (PS3.5 Table 7.1-1); all others use 16.
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const VRS = new Set([
  ...LONG_VRS,
  'AE',
  'AS',
  'AT',
  'CS',
  'DA',
  'DS',
  'DT',
  'FD',
  'FL',
  'IS',
  'LO',
  'LT',
  'PN',
  'SH',
  'SL',
  'SS',
  'ST',
  'TM',
  'UI',
  'UL',
  'US',
]);

const ITEM = 0xfffee000;
const ITEM_DELIMITATION = 0xfffee00d;
const SEQUENCE_DELIMITATION = 0xfffee0dd;

const TAG = {
  groupLength: 0x00020000,
  mediaStorageSopClassUid: 0x00020002,
  mediaStorageSopInstanceUid: 0x00020003,
  transferSyntaxUid: 0x00020010,
  sourceApplicationEntityTitle: 0x00020016,
  sopClassUid: 0x00080016,
  sopInstanceUid: 0x00080018,
  studyInstanceUid: 0x0020000d,
  seriesInstanceUid: 0x0020000e,
} as const;
const WANTED = new Set<number>([TAG.sopClassUid, TAG.sopInstanceUid, TAG.studyInstanceUid, TAG.seriesInstanceUid]);

/** Thrown inside the walk when the buffer ends; turned into 'incomplete' at the top. */
const NEED_MORE = Symbol('need more bytes');

const invalid = (message: string) => new DicomInvalidError(FailureReason.cannotUnderstand, message);

class Cursor {
  constructor(
    readonly bytes: Buffer,
    public pos: number,
    readonly littleEndian: boolean,
  ) {}

  need(n: number): void {
    if (this.pos + n > this.bytes.length) throw NEED_MORE;
  }
  u16(): number {
    this.need(2);
    const v = this.littleEndian ? this.bytes.readUInt16LE(this.pos) : this.bytes.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.littleEndian ? this.bytes.readUInt32LE(this.pos) : this.bytes.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  tag(): number {
    const group = this.u16();
    return ((group << 16) | this.u16()) >>> 0;
  }
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
  text(n: number): string {
    this.need(n);
    const s = this.bytes.toString('latin1', this.pos, this.pos + n);
    this.pos += n;
    return s;
  }
}

interface ElementHeader {
  vr: string; // '' in implicit VR
  length: number;
}

function readElementHeader(cur: Cursor, explicitVr: boolean, tag: number): ElementHeader {
  if (!explicitVr) return { vr: '', length: cur.u32() };
  const vr = cur.text(2);
  if (!VRS.has(vr)) throw invalid(`Malformed data element ${hexTag(tag)}: "${printable(vr)}" is not a value representation`);
  if (!LONG_VRS.has(vr)) return { vr, length: cur.u16() };
  cur.skip(2);
  return { vr, length: cur.u32() };
}

/** Steps over a value, walking items when its length is undefined (sequences, UN, encapsulated pixels). */
function skipValue(cur: Cursor, explicitVr: boolean, header: ElementHeader, tag: number, depth: number): void {
  if (header.length !== UNDEFINED_LENGTH) return cur.skip(header.length);
  if (explicitVr && !['SQ', 'UN', 'OB', 'OW'].includes(header.vr)) {
    throw invalid(`Data element ${hexTag(tag)} (${header.vr}) has undefined length`);
  }
  if (depth > MAX_NESTING) throw invalid('Sequences nested too deeply');
  // A UN value of undefined length is a sequence encoded in Implicit VR Little Endian (PS3.5 §6.2.2).
  const itemsExplicit = explicitVr && header.vr !== 'UN';
  for (;;) {
    const itemTag = cur.tag();
    const itemLength = cur.u32();
    if (itemTag === SEQUENCE_DELIMITATION) return;
    if (itemTag !== ITEM) throw invalid(`Malformed sequence in ${hexTag(tag)}: found ${hexTag(itemTag)} where an item was expected`);
    if (itemLength !== UNDEFINED_LENGTH) cur.skip(itemLength);
    else skipItemDataSet(cur, itemsExplicit, depth + 1);
  }
}

function skipItemDataSet(cur: Cursor, explicitVr: boolean, depth: number): void {
  for (;;) {
    const tag = cur.tag();
    if (tag === ITEM_DELIMITATION) return void cur.u32();
    skipValue(cur, explicitVr, readElementHeader(cur, explicitVr, tag), tag, depth);
  }
}

const trimUid = (s: string) => s.replace(/[\0 ]+$/, '').trim();
const hexTag = (tag: number) => `(${(tag >>> 16).toString(16).padStart(4, '0')},${(tag & 0xffff).toString(16).padStart(4, '0')})`.toUpperCase();
const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, '?');

interface FileMeta {
  end: number;
  values: Map<number, string>;
}

/** The file meta information group (0002), always Explicit VR Little Endian after 'DICM'. */
function readFileMeta(buf: Buffer): FileMeta {
  const cur = new Cursor(buf, 132, true);
  const values = new Map<number, string>();
  let end = Infinity; // known once (0002,0000) is read; else the meta group ends at the first non-0002 tag
  while (cur.pos < end) {
    cur.need(2);
    if (end === Infinity && buf.readUInt16LE(cur.pos) !== 0x0002) break;
    const tag = cur.tag();
    if (tag >>> 16 !== 0x0002) throw invalid(`File meta information group length covers ${hexTag(tag)}, which is not in group 0002`);
    const header = readElementHeader(cur, true, tag);
    if (header.length === UNDEFINED_LENGTH || header.length > MAX_META_VALUE) {
      throw invalid(`File meta information element ${hexTag(tag)} has an implausible length ${header.length}`);
    }
    if (tag === TAG.groupLength && header.vr === 'UL' && header.length === 4) {
      end = cur.pos + 4;
      end += cur.u32();
      if (end - 132 > MAX_META_VALUE) throw invalid('File meta information group length is implausibly large');
    } else if (header.vr === 'UI' || (tag === TAG.sourceApplicationEntityTitle && header.vr === 'AE')) {
      values.set(tag, trimUid(cur.text(header.length)));
    } else {
      cur.skip(header.length);
    }
  }
  return { end: cur.pos, values };
}

/**
 * Raw-inflates as much of a deflated data set as has arrived. Output is capped at
 * MAX_HEADER_BYTES (a deflate bomb must not cost memory): when the cap is hit the input is
 * halved until it fits, and `capped` tells the caller that more input will not help.
 */
function inflatePrefix(compressed: Buffer): { bytes: Buffer; capped: boolean } {
  let n = compressed.length;
  for (;;) {
    try {
      const opts = { finishFlush: zlibConstants.Z_SYNC_FLUSH, maxOutputLength: MAX_HEADER_BYTES };
      return { bytes: inflateRawSync(compressed.subarray(0, n), opts), capped: n < compressed.length };
    } catch (err) {
      if (err instanceof RangeError && n > 1) n >>>= 1;
      else throw invalid(`Deflated data set cannot be inflated: ${(err as Error).message}`);
    }
  }
}

/**
 * Walks the top-level data set until the four identifying UIDs are known: elements come in
 * ascending tag order, so the first tag past (0020,000E) proves any missing one is absent.
 */
function readIdentifyingUids(cur: Cursor, explicitVr: boolean): Map<number, string> {
  const found = new Map<number, string>();
  for (;;) {
    const tag = cur.tag();
    if (tag > TAG.seriesInstanceUid) return found;
    if (tag >>> 16 === 0xfffe) throw invalid(`Unexpected ${hexTag(tag)} at the top level of the data set`);
    const header = readElementHeader(cur, explicitVr, tag);
    if (WANTED.has(tag) && header.length !== UNDEFINED_LENGTH) {
      if (header.length > MAX_UID_VALUE) throw invalid(`${hexTag(tag)} is ${header.length} bytes long; a UID is at most 64`);
      found.set(tag, trimUid(cur.text(header.length)));
      if (tag === TAG.seriesInstanceUid) return found;
    } else {
      skipValue(cur, explicitVr, header, tag, 0);
    }
  }
}

function checkUid(value: string | undefined, name: string): string {
  if (!value) throw invalid(`${name} is missing`);
  if (!isUid(value)) throw invalid(`${name} "${printable(value).slice(0, 80)}" is not a valid UID`);
  return value;
}

function decide(meta: Map<number, string>, found: Map<number, string>, transferSyntaxUid: string): Part10Header {
  const mediaSopClass = checkUid(meta.get(TAG.mediaStorageSopClassUid), 'MediaStorageSOPClassUID (0002,0002)');
  const mediaSopInstance = checkUid(meta.get(TAG.mediaStorageSopInstanceUid), 'MediaStorageSOPInstanceUID (0002,0003)');
  const sopClassUid = checkUid(found.get(TAG.sopClassUid), 'SOPClassUID (0008,0016)');
  const sopInstanceUid = checkUid(found.get(TAG.sopInstanceUid), 'SOPInstanceUID (0008,0018)');
  if (sopClassUid !== mediaSopClass) {
    throw new DicomInvalidError(
      FailureReason.dataSetDoesNotMatchSopClass,
      `SOPClassUID ${sopClassUid} in the data set differs from MediaStorageSOPClassUID ${mediaSopClass} in the file meta information`,
    );
  }
  if (sopInstanceUid !== mediaSopInstance) {
    throw new DicomInvalidError(
      FailureReason.dataSetDoesNotMatchSopClass,
      `SOPInstanceUID ${sopInstanceUid} in the data set differs from MediaStorageSOPInstanceUID ${mediaSopInstance} in the file meta information`,
    );
  }
  const sourceAe = meta.get(TAG.sourceApplicationEntityTitle);
  return {
    sopClassUid,
    sopInstanceUid,
    studyInstanceUid: checkUid(found.get(TAG.studyInstanceUid), 'StudyInstanceUID (0020,000D)'),
    seriesInstanceUid: checkUid(found.get(TAG.seriesInstanceUid), 'SeriesInstanceUID (0020,000E)'),
    transferSyntaxUid,
    ...(sourceAe && { sourceApplicationEntityTitle: sourceAe }),
  };
}

function readHeader(buf: Buffer): Part10Header {
  if (buf.length > 128 && !'DICM'.startsWith(buf.toString('latin1', 128, Math.min(132, buf.length)))) {
    throw invalid("Not a DICOM Part 10 file: no 'DICM' after the 128-byte preamble");
  }
  if (buf.length < 132) throw NEED_MORE;
  const meta = readFileMeta(buf);
  for (const [tag, name] of [
    [TAG.mediaStorageSopClassUid, 'MediaStorageSOPClassUID (0002,0002)'],
    [TAG.mediaStorageSopInstanceUid, 'MediaStorageSOPInstanceUID (0002,0003)'],
    [TAG.transferSyntaxUid, 'TransferSyntaxUID (0002,0010)'],
  ] as const) {
    if (!meta.values.get(tag)) throw invalid(`File meta information lacks ${name}`);
  }
  const transferSyntaxUid = meta.values.get(TAG.transferSyntaxUid)!;
  const ts = TRANSFER_SYNTAXES.get(transferSyntaxUid);
  if (!ts) {
    throw new DicomInvalidError(FailureReason.transferSyntaxNotSupported, `Transfer syntax ${printable(transferSyntaxUid).slice(0, 80)} is not supported`);
  }
  if (!ts.deflated) {
    return decide(meta.values, readIdentifyingUids(new Cursor(buf, meta.end, ts.littleEndian), ts.explicitVr), transferSyntaxUid);
  }
  const inflated = inflatePrefix(buf.subarray(meta.end));
  try {
    return decide(meta.values, readIdentifyingUids(new Cursor(inflated.bytes, 0, true), true), transferSyntaxUid);
  } catch (err) {
    if (err === NEED_MORE && inflated.capped)
      throw invalid(`No SOP, study and series UIDs within the first ${MAX_HEADER_BYTES} bytes of the inflated data set`);
    throw err;
  }
}

/**
 * Validates a Part 10 file from its first bytes and returns its identifying UIDs.
 * 'incomplete' means "call again with more bytes"; at the end of the stream it means truncated.
 * Throws DicomInvalidError (with the STOW failure reason) when the bytes cannot become a valid
 * instance, including when no decision is possible within MAX_HEADER_BYTES.
 */
export function readPart10Header(buf: Buffer): Part10Header | 'incomplete' {
  try {
    return readHeader(buf);
  } catch (err) {
    if (err !== NEED_MORE) throw err;
    if (buf.length >= MAX_HEADER_BYTES) {
      throw invalid(`No SOP, study and series UIDs within the first ${MAX_HEADER_BYTES} bytes`);
    }
    return 'incomplete';
  }
}
