/**
 * Full read of a stored Part 10 instance for the index worker: its DICOM JSON metadata
 * (PS3.18 Annex F) without bulk data, the dcmjs naturalized form, and where every frame's
 * bytes lie in the file so WADO-RS can serve frames by byte range without parsing again.
 *
 * Two parsers, each for what it does well:
 * - dcmjs (DicomMessage.readFile) gives the values: VRs from its dictionary in implicit VR,
 *   numbers, dates, sequences, binary values.
 * - dicom-parser gives byte offsets: of every element, every sequence item, every
 *   pixel data fragment.
 * dcmjs decodes text with only the first Specific Character Set value and no ISO 2022 escape
 * sequences (it refuses multi-valued ones outright unless told to ignore errors), so every
 * charset-dependent text value (SH, LO, ST, LT, PN, UC, UT) is decoded again from its raw
 * bytes, found through dicom-parser's offsets, by core/dicom/charset.ts. Re-decoding from the
 * source bytes, rather than undoing dcmjs's decoding, is exact whatever dcmjs did to them.
 *
 * readInstanceOmittingPixelData is the same read of a file whose Pixel Data value was left out
 * of the buffer (core/dicom/read-stored-instance.ts reads large objects that way).
 */
import { data as dcmjsData, log as dcmjsLog } from 'dcmjs';
import type { data as DcmjsTypes } from 'dcmjs';
import { inflateRawSync } from 'zlib';
import { parseDicom, type DataSet, type Element } from 'dicom-parser';
import { CHARSET_VRS, decodeTextValues } from './charset';
import { DicomInvalidError } from './errors';
import { FailureReason } from './failure-reasons';
import { readPart10Header, TRANSFER_SYNTAXES, type Part10Header, type TransferSyntax } from './part10-header';

/** An element of DICOM JSON (PS3.18 F.2.2). */
export interface DicomJsonElement {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}
export type DicomJsonDataset = Record<string, DicomJsonElement>;
export type NaturalizedDataset = DcmjsTypes.NaturalizedDataset;

/** A byte range [offset, length] in the stored Part 10 file. */
export type ByteRange = [offset: number, length: number];

/**
 * Where each frame's bytes are in the file. frames[i] is frame i+1 as the list of ranges to
 * concatenate: one range for native pixel data, the frame's fragments for encapsulated.
 * For video transfer syntaxes (MPEG-2, H.264, HEVC) the frames are not separately
 * addressable: frames has one entry, the whole bitstream.
 */
export interface FrameIndex {
  encapsulated: boolean;
  frames: ByteRange[][];
  /**
   * Only for BitsAllocated 1 when a frame's size is not a whole number of bytes: the bit in
   * its first byte where each frame starts (PS3.5 §8.1.1 packs frames without padding).
   */
  firstBitOffsets?: number[];
}

/** Where a bulk data value lies; offset is null when the file is deflated. */
export interface BulkDataLocation {
  offset: number | null;
  length: number;
}

export interface ReadInstanceOptions {
  /**
   * Builds the BulkDataURI of a value left out of the metadata. `tagPath` is the tag
   * ("7FE00010") at the top level, and "sequence tag/item index/tag" inside sequences
   * ("00880200/0/7FE00010", the icon image), so URIs made from it alone are unique.
   */
  bulkDataUri: (tagPath: string, location: BulkDataLocation) => string;
}

export interface ReadInstance {
  header: Part10Header;
  dicomJson: DicomJsonDataset;
  naturalized: NaturalizedDataset;
  /** null when frames cannot be located by byte range: deflated files, undelimited fragments. */
  frames: FrameIndex | null;
}

/** Binary values longer than this go to a BulkDataURI; shorter ones are inlined in base64. */
export const BULK_DATA_THRESHOLD = 1024;

const PIXEL_DATA_TAGS = ['7FE00010', '7FE00008', '7FE00009']; // Pixel Data, Float, Double Float
const BINARY_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'UN', 'ox']);
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';
/** A deflated data set inflating past this is treated as a deflate bomb. */
const MAX_INFLATED_BYTES = 1024 ** 3;

const invalid = (message: string) => new DicomInvalidError(FailureReason.cannotUnderstand, message);

/**
 * Pixel Data that readStoredInstance found by range reads and left out of the buffer it parses.
 * The buffer keeps a stand-in: the element's header and the first few bytes of its value, its
 * length made that short. Both parsers then see the same elements as in the file, and
 * everything up to the stand-in's end is at its offset in the file; what follows is as much
 * further on in the file as the value is longer than the stand-in's.
 */
export interface OmittedPixelData {
  /** As dicom-parser reads it from the whole file: offsets into the file, fragments when encapsulated. */
  element: Element;
  /** The first FRAGMENT_START_BYTES bytes of each fragment (fewer if it is shorter), by position. */
  fragmentStarts: ReadonlyMap<number, Uint8Array>;
}

export function readInstance(buf: Buffer, opts: ReadInstanceOptions): ReadInstance {
  return read(buf, opts, undefined);
}

/** readInstance of the file `buf` stands for, Pixel Data's value left out (see OmittedPixelData). */
export function readInstanceOmittingPixelData(buf: Buffer, pixelData: OmittedPixelData, opts: ReadInstanceOptions): ReadInstance {
  return read(buf, opts, pixelData);
}

function read(buf: Buffer, opts: ReadInstanceOptions, omitted: OmittedPixelData | undefined): ReadInstance {
  const header = readPart10Header(buf);
  if (header === 'incomplete') throw invalid('The file is truncated: it ends before its identifying UIDs');
  const ts = TRANSFER_SYNTAXES.get(header.transferSyntaxUid)!;

  const offsets = parseOffsets(buf, ts);
  const dcmjsDict = parseValues(ts.deflated ? buf : withoutPixelDataValue(buf, offsets, ts));
  checkSameElements(offsets, dcmjsDict);

  const ctx: WalkContext = {
    offsetsInFile: !ts.deflated,
    byteArray: offsets.byteArray,
    littleEndian: ts.littleEndian,
    opts,
    inFile: inFileLocator(offsets, omitted),
  };
  const dicomJson = toDicomJson(dcmjsDict, offsets, readCharset(offsets), '', ctx);
  const naturalized = dcmjsData.DicomMetaDictionary.naturalizeDataset(dicomJson as DcmjsTypes.DcmjsDataset);
  return { header, dicomJson, naturalized, frames: ts.deflated ? null : indexFrames(offsets, naturalized, ts, omitted) };
}

/** Where a parsed element's value lies in the file; see OmittedPixelData for why it may differ from the buffer. */
type InFile = (raw: Element) => Pick<Element, 'dataOffset' | 'length'>;

function inFileLocator(offsets: DataSet, omitted: OmittedPixelData | undefined): InFile {
  if (!omitted) return (raw) => raw;
  const standIn = offsets.elements[omitted.element.tag];
  const cut = standIn.dataOffset + standIn.length;
  const shift = omitted.element.length - standIn.length;
  return (raw) => (raw === standIn ? omitted.element : raw.dataOffset >= cut ? { dataOffset: raw.dataOffset + shift, length: raw.length } : raw);
}

// ---------------------------------------------------------------------------------------------
// Parsing

function parseOffsets(buf: Buffer, ts: TransferSyntax): DataSet {
  let dataSet: DataSet;
  try {
    dataSet = ts.deflated ? parseInflated(buf) : parseShowingUn(buf, findMisreadVrs(buf, ts), () => parseDicom(buf, { vrCallback: dictionaryVr }));
  } catch (err) {
    throw invalid(`Malformed data set: ${describe(err)}`);
  }
  // dicom-parser stops quietly at the end of the buffer, noting it only in warnings.
  const eof = dataSet.warnings.find((w) => /eof|missing sequence delimiter/i.test(w));
  if (eof) throw invalid(`The file is truncated: ${eof}`);
  for (const el of Object.values(dataSet.elements)) {
    if (el.dataOffset + el.length > dataSet.byteArray.length) {
      throw invalid(`The file is truncated inside ${el.tag.slice(1).toUpperCase()}`);
    }
  }
  return dataSet;
}

/**
 * dicom-parser's own deflate support parses the inflated copy from byte 0, reading the
 * preamble and file meta information as data set elements. So the data set is inflated
 * here and parsed as a bare Explicit VR Little Endian data set.
 */
function parseInflated(buf: Buffer): DataSet {
  // The deflate stream starts where (0002,0000) FileMetaInformationGroupLength says the meta ends.
  if (buf.readUInt32LE(132) !== 0x00000002 || buf.toString('latin1', 136, 138) !== 'UL') {
    throw new Error('a deflated file needs FileMetaInformationGroupLength (0002,0000) to find its data set');
  }
  const metaEnd = 132 + 12 + buf.readUInt32LE(140);
  const dataSet = inflateRawSync(buf.subarray(metaEnd), { maxOutputLength: MAX_INFLATED_BYTES });
  if (dataSet.length > 132 && dataSet.toString('latin1', 128, 132) === 'DICM') throw new Error('inflated data set looks like a Part 10 file');
  return parseShowingUn(dataSet, findMisreadVrs(dataSet, undefined), () => parseDicom(dataSet, { TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN }));
}

// ---------------------------------------------------------------------------------------------
// OV, SV and UV, which dicom-parser misreads

/**
 * Explicit VRs with 2 reserved bytes and a 32-bit length (PS3.5 Table 7.1-1), as UN has, that
 * dicom-parser 1.8.21 reads with a 16-bit length: it loses its place in the data set at the
 * first one (an Extended Offset Table is OV). It reads UN right, so it is shown UN in their place.
 */
const MISREAD_VRS = new Set(['OV', 'SV', 'UV']);
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const UNDEFINED_LENGTH = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIMITATION = 0xfffee00d;
const SEQUENCE_DELIMITATION = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
const MAX_NESTING = 64;
/** The walk ran past the end, or into a layout it does not follow as dicom-parser would (malformed data). */
const ASTRAY = Symbol('walk astray');

/**
 * parse(), with the VR bytes at `positions` (OV, SV, UV) reading UN, and then as they were; the
 * elements parsed there get their VR back. The bytes are changed in place: a copy would double
 * what a whole read of a large object costs, and nothing else sees them while dicom-parser,
 * synchronous, parses. Nothing moves: the two VRs are laid out alike.
 */
function parseShowingUn(bytes: Buffer, positions: number[], parse: () => DataSet): DataSet {
  if (positions.length === 0) return parse();
  const vrs = positions.map((p) => bytes.toString('latin1', p, p + 2));
  let dataSet: DataSet;
  try {
    positions.forEach((p) => bytes.write('UN', p, 'latin1'));
    dataSet = parse();
  } finally {
    positions.forEach((p, i) => bytes.write(vrs[i], p, 'latin1'));
  }
  // An element's value starts 8 bytes after its VR: the VR, 2 reserved bytes, a 32-bit length.
  const vrAt = new Map(positions.map((p, i) => [p + 8, vrs[i]]));
  const restore = (ds: DataSet): void =>
    Object.values(ds.elements).forEach((el) => {
      if (el.vr === 'UN' && vrAt.has(el.dataOffset)) el.vr = vrAt.get(el.dataOffset);
      el.items?.forEach((item) => item.dataSet && restore(item.dataSet));
    });
  restore(dataSet);
  return dataSet;
}

/**
 * Where the VRs in MISREAD_VRS are: a walk over element headers as dicom-parser reads them, into
 * every sequence item. `ts` undefined is a bare Explicit VR Little Endian data set (inflated);
 * otherwise a Part 10 file. A walk that goes astray keeps what it found before: up to there it
 * agrees with dicom-parser, which judges the rest as it would have anyway.
 */
function findMisreadVrs(bytes: Buffer, ts: TransferSyntax | undefined): number[] {
  const walk = new VrWalk(bytes);
  try {
    if (!ts) {
      walk.elements(0, bytes.length, true, 0);
      return walk.found;
    }
    if (!ts.explicitVr) return [];
    // The file meta information: Explicit VR Little Endian, up to the first tag past group 0002 (where dicom-parser ends it).
    let pos = 132;
    while (pos + 2 <= bytes.length && bytes.readUInt16LE(pos) <= 0x0002) pos = walk.element(pos, true, 0);
    walk.littleEndian = ts.littleEndian;
    walk.elements(pos, bytes.length, true, 0);
  } catch (err) {
    if (err !== ASTRAY) throw err;
  }
  return walk.found;
}

class VrWalk {
  /** Where each VR in MISREAD_VRS is. */
  readonly found: number[] = [];
  littleEndian = true;

  constructor(private readonly bytes: Buffer) {}

  private u16(pos: number): number {
    if (pos + 2 > this.bytes.length) throw ASTRAY;
    return this.littleEndian ? this.bytes.readUInt16LE(pos) : this.bytes.readUInt16BE(pos);
  }
  private u32(pos: number): number {
    if (pos + 4 > this.bytes.length) throw ASTRAY;
    return this.littleEndian ? this.bytes.readUInt32LE(pos) : this.bytes.readUInt32BE(pos);
  }
  private tag(pos: number): number {
    return ((this.u16(pos) << 16) | this.u16(pos + 2)) >>> 0;
  }

  /** The elements from pos to end, or to an item delimiter when end is undefined; returns where they end. */
  elements(pos: number, end: number | undefined, explicitVr: boolean, depth: number): number {
    while (end === undefined || pos < end) {
      if (end === undefined && this.tag(pos) === ITEM_DELIMITATION) return pos + 8;
      pos = this.element(pos, explicitVr, depth);
    }
    if (pos !== end) throw ASTRAY; // dicom-parser throws on an item overrun
    return pos;
  }

  /** The element at pos; returns where it ends. */
  element(pos: number, explicitVr: boolean, depth: number): number {
    const tag = this.tag(pos);
    if (!explicitVr) return this.value(tag, '', this.u32(pos + 4), pos + 8, false, depth);
    const vr = this.bytes.toString('latin1', pos + 4, pos + 6);
    if (!LONG_VRS.has(vr)) return this.value(tag, vr, this.u16(pos + 6), pos + 8, true, depth);
    if (MISREAD_VRS.has(vr)) this.found.push(pos + 4);
    return this.value(tag, vr, this.u32(pos + 8), pos + 12, true, depth);
  }

  private value(tag: number, vr: string, length: number, pos: number, explicitVr: boolean, depth: number): number {
    if (depth >= MAX_NESTING) throw ASTRAY;
    // Sequences' items hold elements with VRs; dicom-parser reads them whatever the length.
    if (vr === 'SQ') return this.items(pos, length, true, depth + 1);
    if (length !== UNDEFINED_LENGTH) return pos + length;
    if (explicitVr && tag === PIXEL_DATA) return this.fragments(pos);
    // Implicit VR, and UN in explicit VR, of undefined length: items in Implicit VR Little Endian
    // (PS3.5 §6.2.2). dicom-parser scans other values of undefined length for a delimiter instead.
    if (!explicitVr || vr === 'UN') return this.items(pos, length, false, depth + 1);
    throw ASTRAY;
  }

  private items(pos: number, length: number, explicitVr: boolean, depth: number): number {
    const end = length === UNDEFINED_LENGTH ? undefined : pos + length;
    while (end === undefined || pos < end) {
      const tag = this.tag(pos);
      const itemLength = this.u32(pos + 4);
      pos += 8;
      if (end === undefined && tag === SEQUENCE_DELIMITATION) return pos;
      if (tag !== ITEM) throw ASTRAY;
      pos = this.elements(pos, itemLength === UNDEFINED_LENGTH ? undefined : pos + itemLength, explicitVr, depth);
    }
    if (pos !== end) throw ASTRAY;
    return pos;
  }

  /** Encapsulated Pixel Data (PS3.5 A.4): items of defined length up to the sequence delimiter. */
  private fragments(pos: number): number {
    for (;;) {
      const tag = this.tag(pos);
      const length = this.u32(pos + 4);
      pos += 8;
      if (tag === SEQUENCE_DELIMITATION) return pos + length;
      if (tag !== ITEM || length === UNDEFINED_LENGTH) throw ASTRAY;
      pos += length;
    }
  }
}

/** dicom-parser needs VRs in implicit VR files to recognise sequences; dcmjs's dictionary has them. */
function dictionaryVr(tag: string): string | undefined {
  const group = tag.slice(1, 5).toUpperCase();
  const element = tag.slice(5, 9).toUpperCase();
  const dictionary = dcmjsData.DicomMetaDictionary.dictionary;
  const entry = dictionary[`(${group},${element})`] ?? dictionary[`(${group.slice(0, 2)}xx,${element})`];
  return entry && /^[A-Z]{2}$/.test(entry.vr) ? entry.vr : undefined;
}

/**
 * What dcmjs is given to read: the file with the value of a top-level Pixel Data of defined
 * length left out (its length field made 0). dcmjs copies the binary values it reads (Pixel
 * Data's was a quarter of its time on a 130 KB MR slice), and nothing takes that value from
 * dcmjs: toBinary and indexFrames locate it with dicom-parser's offsets. All other bytes are the
 * file's, so dcmjs reads the same elements and values.
 */
function withoutPixelDataValue(buf: Buffer, offsets: DataSet, ts: TransferSyntax): Uint8Array {
  const el = offsets.elements.x7fe00010;
  // The length field is the 4 bytes before the value unless an explicit VR says it has 2.
  if (!el || el.hadUndefinedLength || el.length === 0 || (ts.explicitVr && !LONG_VRS.has(el.vr ?? ''))) return buf;
  const bytes = new Uint8Array(buf.length - el.length);
  bytes.set(buf.subarray(0, el.dataOffset));
  bytes.set(buf.subarray(el.dataOffset + el.length), el.dataOffset);
  new DataView(bytes.buffer).setUint32(el.dataOffset - 4, 0, ts.littleEndian);
  return bytes;
}

function parseValues(buf: Uint8Array): DcmjsTypes.DcmjsDataset {
  const arrayBuffer =
    buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength
      ? (buf.buffer as ArrayBuffer)
      : buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  // ignoreErrors only so that dcmjs accepts multi-valued and non-standard character sets
  // (whose text is re-decoded anyway); anything else it skipped is caught by
  // checkSameElements. Its warning about them is expected, so it is silenced for this call.
  // Its complaint that Pixel Data's dictionary VR is "OB or OW" in implicit VR is noise too.
  const loggers = [dcmjsLog, dcmjsLog.getLogger('validation.dcmjs')];
  const levels = loggers.map((l) => l.getLevel());
  loggers.forEach((l) => l.setLevel('silent', false));
  try {
    return dcmjsData.DicomMessage.readFile(arrayBuffer as ArrayBuffer, { ignoreErrors: true, noCopy: true }).dict;
  } catch (err) {
    throw invalid(`Malformed data set: ${describe(err)}`);
  } finally {
    loggers.forEach((l, i) => l.setLevel(levels[i], false));
  }
}

/** With ignoreErrors dcmjs returns what it read before an error: make sure that is everything. */
function checkSameElements(offsets: DataSet, dict: DcmjsTypes.DcmjsDataset): void {
  for (const tag of Object.keys(offsets.elements)) {
    if (tag.startsWith('x0002')) continue;
    if (!dict[tag.slice(1).toUpperCase()]) {
      throw invalid(`Malformed data set: the element ${tag.slice(1).toUpperCase()} and what follows could not be read`);
    }
  }
}

const describe = (err: unknown): string =>
  err instanceof Error ? err.message : typeof err === 'string' ? err : String((err as { exception?: unknown })?.exception ?? err);

// ---------------------------------------------------------------------------------------------
// DICOM JSON

interface WalkContext {
  /** False when dicom-parser's offsets are into an inflated copy, not the stored file. */
  offsetsInFile: boolean;
  byteArray: Uint8Array;
  /** The byte order of the data set's values. */
  littleEndian: boolean;
  opts: ReadInstanceOptions;
  inFile: InFile;
}

/** The raw Specific Character Set of a data set; dcmjs overwrites it with 'ISO_IR 192'. */
function readCharset(dataSet: DataSet | undefined): string | undefined {
  const el = dataSet?.elements.x00080005;
  if (!el || el.length === 0) return undefined;
  return Buffer.from(dataSet!.byteArray.buffer, dataSet!.byteArray.byteOffset + el.dataOffset, el.length).toString('latin1');
}

/**
 * Converts dcmjs's data set to DICOM JSON. The file meta group (0002) is left out, as in
 * dcm4chee-arc's and Orthanc's metadata responses: WADO-RS metadata describes the data set,
 * and the transfer syntax a client gets is the one it negotiates, not the stored file's.
 * Group lengths (gggg,0000) are left out too; they are retired and meaningless in JSON.
 * SpecificCharacterSet keeps the stored value (what the instance says about itself), though
 * text in the JSON is Unicode: whoever writes naturalized text back to Part 10 with dcmjs must
 * set it to 'ISO_IR 192'.
 */
function toDicomJson(
  dict: DcmjsTypes.DcmjsDataset,
  offsets: DataSet | undefined,
  charset: string | undefined,
  pathPrefix: string,
  ctx: WalkContext,
): DicomJsonDataset {
  const json: DicomJsonDataset = {};
  for (const tag of Object.keys(dict).sort()) {
    if (tag.startsWith('0002') || tag.endsWith('0000')) continue;
    const raw = offsets?.elements[`x${tag.toLowerCase()}`];
    // dcmjs 0.51 knows neither OV nor SV: it reads them as UN, with the right length.
    const el = raw?.vr && MISREAD_VRS.has(raw.vr) ? { ...dict[tag], vr: raw.vr } : dict[tag];
    const path = pathPrefix + tag;
    if (tag === '00080005') {
      const value = charset?.split('\\').map((v) => v.replace(/[\0 ]+$/, '').trim());
      json[tag] = value ? { vr: 'CS', Value: value.map((v) => v || null) } : { vr: 'CS' };
    } else if (el.vr === 'SQ') {
      json[tag] = toSequence(el, raw, charset, path, ctx);
    } else if (CHARSET_VRS.has(el.vr) && raw && offsets) {
      json[tag] = toText(el.vr, raw, offsets, charset);
    } else if (el.vr === 'SV' || el.vr === 'UV') {
      json[tag] = withValue(el.vr, veryLongValues(el, raw, ctx).map(jsonInteger));
    } else if (BINARY_VRS.has(el.vr)) {
      json[tag] = toBinary(el, raw, tag, path, ctx);
    } else if (el.vr === 'AT') {
      // dcmjs reads AT as a number; DICOM JSON has "GGGGEEEE" (PS3.18 F.2.3).
      json[tag] = withValue(
        'AT',
        (el.Value ?? []).map((v) => (typeof v === 'number' ? v.toString(16).toUpperCase().padStart(8, '0') : cleanValue(v))),
      );
    } else {
      json[tag] = withValue(el.vr, (el.Value ?? []).map(cleanValue));
    }
  }
  return json;
}

function toSequence(el: DcmjsTypes.DcmjsElement, raw: Element | undefined, charset: string | undefined, path: string, ctx: WalkContext): DicomJsonElement {
  const items = (el.Value ?? []) as DcmjsTypes.DcmjsDataset[];
  const value = items.map((item, i) => {
    // dicom-parser drops the items of private sequences in implicit VR; their text then
    // stays as dcmjs decoded it.
    const itemOffsets = raw?.items?.[i]?.dataSet;
    // A Specific Character Set inside an item applies to that item (PS3.5 §7.5.3).
    const itemCharset = itemOffsets?.elements.x00080005 ? readCharset(itemOffsets) : charset;
    return toDicomJson(item, itemOffsets, itemCharset, `${path}/${i}/`, ctx);
  });
  return value.length ? { vr: 'SQ', Value: value } : { vr: 'SQ' };
}

function toText(vr: string, raw: Element, offsets: DataSet, charset: string | undefined): DicomJsonElement {
  if (raw.length === 0 || raw.length === 0xffffffff) return { vr };
  const bytes = offsets.byteArray.subarray(raw.dataOffset, raw.dataOffset + raw.length);
  const values = decodeTextValues(bytes, charset, vr);
  if (vr === 'PN') return withValue(vr, values.map(personName));
  return withValue(
    vr,
    values.map((v) => v || null),
  );
}

/** A PN value as its component groups (PS3.18 F.2.2): alphabetic=ideographic=phonetic. */
function personName(value: string): Record<string, string> | null {
  const [alphabetic, ideographic, phonetic] = value.split('=').map((g) => g.trim());
  const pn: Record<string, string> = {};
  if (alphabetic) pn.Alphabetic = alphabetic;
  if (ideographic) pn.Ideographic = ideographic;
  if (phonetic) pn.Phonetic = phonetic;
  return Object.keys(pn).length ? pn : null;
}

function toBinary(el: DcmjsTypes.DcmjsElement, raw: Element | undefined, tag: string, path: string, ctx: WalkContext): DicomJsonElement {
  const vr = el.vr === 'ox' ? 'OW' : el.vr;
  const parts = (el.Value ?? []).filter((v): v is ArrayBuffer | ArrayBufferView => v instanceof ArrayBuffer || ArrayBuffer.isView(v));
  const inFile = raw && ctx.inFile(raw);
  const length = inFile ? inFile.length : parts.reduce((n, p) => n + p.byteLength, 0);
  if (length === 0) return { vr };
  if (PIXEL_DATA_TAGS.includes(tag) || length > BULK_DATA_THRESHOLD) {
    const offset = ctx.offsetsInFile && inFile ? inFile.dataOffset : null;
    return { vr, BulkDataURI: ctx.opts.bulkDataUri(path, { offset, length }) };
  }
  const bytes = raw
    ? Buffer.from(ctx.byteArray.buffer, ctx.byteArray.byteOffset + raw.dataOffset, raw.length)
    : Buffer.concat(parts.map((p) => (p instanceof ArrayBuffer ? Buffer.from(p) : Buffer.from(p.buffer, p.byteOffset, p.byteLength))));
  return { vr, InlineBinary: bytes.toString('base64') };
}

/**
 * The 64-bit integers of an SV or UV value, from the file's bytes: dcmjs reads SV as UN (raw
 * bytes) and UV as BigInt. Its values stand in only where dicom-parser has no offsets.
 */
function veryLongValues(el: DcmjsTypes.DcmjsElement, raw: Element | undefined, ctx: WalkContext): bigint[] {
  if (!raw) return (el.Value ?? []).flatMap((v) => (typeof v === 'bigint' ? [v] : typeof v === 'number' ? [BigInt(v)] : []));
  const bytes = Buffer.from(ctx.byteArray.buffer, ctx.byteArray.byteOffset + raw.dataOffset, raw.length);
  const read =
    el.vr === 'SV'
      ? (at: number) => (ctx.littleEndian ? bytes.readBigInt64LE(at) : bytes.readBigInt64BE(at))
      : (at: number) => (ctx.littleEndian ? bytes.readBigUInt64LE(at) : bytes.readBigUInt64BE(at));
  return Array.from({ length: Math.floor(raw.length / 8) }, (_, i) => read(8 * i));
}

/** A JSON Number when it holds the integer exactly, else its decimal string (PS3.18 F.2.3.1); BigInts do not serialize at all. */
const jsonInteger = (v: bigint): number | string => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString());

/** DICOM JSON has null for an empty value among several, and numbers for IS/DS. */
function cleanValue(v: unknown): unknown {
  if (v === '' || v === undefined || (typeof v === 'number' && Number.isNaN(v))) return null;
  return v;
}

/** An element with no values, or only one empty value, has no Value (PS3.18 F.2.5). */
function withValue(vr: string, values: unknown[]): DicomJsonElement {
  return values.length === 0 || values.every((v) => v === null) ? { vr } : { vr, Value: values };
}

// ---------------------------------------------------------------------------------------------
// Frame index

function indexFrames(offsets: DataSet, ds: NaturalizedDataset, ts: TransferSyntax, omitted: OmittedPixelData | undefined): FrameIndex | null {
  const pixelTag = PIXEL_DATA_TAGS.find((t) => offsets.elements[`x${t.toLowerCase()}`]);
  if (!pixelTag) return { encapsulated: false, frames: [] };
  // readStoredInstance omits a file's only Pixel Data element (it reads the whole file when there are several).
  const el = omitted?.element ?? offsets.elements[`x${pixelTag.toLowerCase()}`];
  const numberOfFrames = positiveInt(ds.NumberOfFrames) ?? 1;
  if (el.encapsulatedPixelData) {
    const startOf: FragmentStart = omitted
      ? (f) => omitted.fragmentStarts.get(f.position) ?? new Uint8Array()
      : (f) => offsets.byteArray.subarray(f.position, f.position + Math.min(f.length, FRAGMENT_START_BYTES));
    return indexEncapsulated(offsets, el, numberOfFrames, ts, startOf);
  }
  if (ts.encapsulated) throw invalid(`Pixel Data is not encapsulated, though ${ts.name} requires it`);
  return indexNative(el, ds, pixelTag, numberOfFrames);
}

const positiveInt = (v: unknown): number | undefined => {
  const n = Array.isArray(v) ? v[0] : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : undefined;
};

function indexNative(el: Element, ds: NaturalizedDataset, pixelTag: string, numberOfFrames: number): FrameIndex {
  const rows = positiveInt(ds.Rows);
  const columns = positiveInt(ds.Columns);
  const samples = positiveInt(ds.SamplesPerPixel) ?? 1;
  const bits = pixelTag === '7FE00008' ? 32 : pixelTag === '7FE00009' ? 64 : positiveInt(ds.BitsAllocated);
  if (!rows || !columns || !bits) throw invalid('Pixel Data without valid Rows, Columns and BitsAllocated');
  // YBR_FULL_422 keeps two samples per pixel natively, not three (PS3.3 C.7.6.3.1.2).
  const samplesStored = ds.PhotometricInterpretation === 'YBR_FULL_422' ? 2 : samples;
  const frameBits = rows * columns * samplesStored * bits;
  const needed = Math.ceil((frameBits * numberOfFrames) / 8);
  if (el.length < needed) {
    throw invalid(`Pixel Data holds ${el.length} bytes; ${numberOfFrames} frame(s) of ${rows}×${columns}×${samplesStored}×${bits} bits need ${needed}`);
  }
  const frames: ByteRange[][] = [];
  const firstBitOffsets: number[] = [];
  for (let i = 0; i < numberOfFrames; i++) {
    const startBit = i * frameBits;
    const start = Math.floor(startBit / 8);
    frames.push([[el.dataOffset + start, Math.ceil((startBit + frameBits) / 8) - start]]);
    firstBitOffsets.push(startBit % 8);
  }
  return frameBits % 8 === 0 ? { encapsulated: false, frames } : { encapsulated: false, frames, firstBitOffsets };
}

type Fragment = NonNullable<Element['fragments']>[number];
const range = (f: Fragment): ByteRange => [f.position, f.length];
/** The first bytes of a fragment, up to FRAGMENT_START_BYTES. */
type FragmentStart = (f: Fragment) => Uint8Array;

function indexEncapsulated(offsets: DataSet, el: Element, numberOfFrames: number, ts: TransferSyntax, startOf: FragmentStart): FrameIndex | null {
  const fragments = el.fragments ?? [];
  if (fragments.length === 0) throw invalid('Encapsulated Pixel Data has no fragments');
  const frames = (groups: Fragment[][]): FrameIndex => ({ encapsulated: true, frames: groups.map((g) => g.map(range)) });

  if (ts.video || numberOfFrames === 1) return frames([fragments]);
  const eot = extendedOffsetTable(offsets, fragments, numberOfFrames);
  if (eot) return { encapsulated: true, frames: eot };
  const bot = groupByOffsets(fragments, el.basicOffsetTable ?? [], numberOfFrames);
  if (bot) return frames(bot);
  if (fragments.length === numberOfFrames) return frames(fragments.map((f) => [f]));
  // No usable offset table and several fragments per frame: a frame starts at each fragment
  // that opens with the codec's start-of-codestream marker.
  const byMarker = groupByStartMarker(fragments, ts, startOf);
  return byMarker && byMarker.length === numberOfFrames ? frames(byMarker) : null;
}

/** Basic Offset Table: frame i is the fragments from offset bot[i] up to bot[i+1]. */
function groupByOffsets(fragments: Fragment[], bot: number[], numberOfFrames: number): Fragment[][] | null {
  if (bot.length !== numberOfFrames || bot[0] !== 0) return null;
  const starts = bot.map((offset) => fragments.findIndex((f) => f.offset === offset));
  if (starts.some((s, i) => s < 0 || (i > 0 && s <= starts[i - 1]))) return null; // a corrupt table is ignored
  return starts.map((s, i) => fragments.slice(s, i + 1 < starts.length ? starts[i + 1] : fragments.length));
}

/**
 * Extended Offset Table (7FE0,0001) with its lengths (7FE0,0002), 64-bit little endian
 * (PS3.3 C.7.6.3.1.8): one fragment per frame, offsets from the first fragment item.
 */
function extendedOffsetTable(offsets: DataSet, fragments: Fragment[], numberOfFrames: number): ByteRange[][] | null {
  const table = offsets.elements.x7fe00001;
  const lengths = offsets.elements.x7fe00002;
  if (!table || !lengths || table.length !== numberOfFrames * 8 || lengths.length !== numberOfFrames * 8) return null;
  const bytes = Buffer.from(offsets.byteArray.buffer, offsets.byteArray.byteOffset, offsets.byteArray.byteLength);
  const result: ByteRange[][] = [];
  for (let i = 0; i < numberOfFrames; i++) {
    const offset = Number(bytes.readBigUInt64LE(table.dataOffset + 8 * i));
    const length = Number(bytes.readBigUInt64LE(lengths.dataOffset + 8 * i));
    const fragment = fragments.find((f) => f.offset === offset);
    if (!fragment || length > fragment.length) return null;
    result.push([[fragment.position, length]]);
  }
  return result;
}

const JPEG_SOI = [0xff, 0xd8];
const J2K_SOC_SIZ = [0xff, 0x4f, 0xff, 0x51];
const START_MARKERS: Record<string, number[][]> = {
  '1.2.840.10008.1.2.4.50': [JPEG_SOI],
  '1.2.840.10008.1.2.4.51': [JPEG_SOI],
  '1.2.840.10008.1.2.4.57': [JPEG_SOI],
  '1.2.840.10008.1.2.4.70': [JPEG_SOI],
  '1.2.840.10008.1.2.4.80': [JPEG_SOI],
  '1.2.840.10008.1.2.4.81': [JPEG_SOI],
  '1.2.840.10008.1.2.4.90': [J2K_SOC_SIZ],
  '1.2.840.10008.1.2.4.91': [J2K_SOC_SIZ],
  '1.2.840.10008.1.2.4.92': [J2K_SOC_SIZ],
  '1.2.840.10008.1.2.4.93': [J2K_SOC_SIZ],
  '1.2.840.10008.1.2.4.201': [J2K_SOC_SIZ],
  '1.2.840.10008.1.2.4.202': [J2K_SOC_SIZ],
  '1.2.840.10008.1.2.4.203': [J2K_SOC_SIZ],
};
/** How much of a fragment's start finding frames by marker looks at: readStoredInstance reads that much of each. */
export const FRAGMENT_START_BYTES = Math.max(...Object.values(START_MARKERS).flatMap((markers) => markers.map((m) => m.length)));

function groupByStartMarker(fragments: Fragment[], ts: TransferSyntax, startOf: FragmentStart): Fragment[][] | null {
  const markers = START_MARKERS[ts.uid];
  if (!markers) return null;
  const opensFrame = (f: Fragment) => {
    const start = startOf(f);
    return markers.some((m) => m.every((b, i) => start[i] === b));
  };
  if (!opensFrame(fragments[0])) return null;
  const groups: Fragment[][] = [];
  for (const f of fragments) {
    if (opensFrame(f)) groups.push([f]);
    else groups[groups.length - 1].push(f);
  }
  return groups;
}
