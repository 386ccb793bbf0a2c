/**
 * readInstance of a stored object without holding its pixel data in memory.
 *
 * Reading a large object whole costs several times its size: the buffer, then the copies dcmjs
 * and dicom-parser make, so a 1 GiB multi-frame instance needs about 4 GiB. Here a large object
 * is read by range reads instead: everything before Pixel Data, Pixel Data's element header
 * (and for encapsulated pixel data only its item headers, to locate fragments), and whatever
 * follows it at the top level. readInstanceOmittingPixelData then parses those bytes exactly as
 * readInstance parses the whole file, so metadata, bulk data locations and the frame index are
 * the same. Stored objects are immutable (a unique key per upload), so the reads are consistent.
 */
import type { Readable } from 'node:stream';
import type { Element, Fragment } from 'dicom-parser';
import type { ObjectStore } from '../storage/object-store';
import { DicomInvalidError } from './errors';
import { FailureReason } from './failure-reasons';
import { readPart10Header, TRANSFER_SYNTAXES, type TransferSyntax } from './part10-header';
import {
  FRAGMENT_START_BYTES,
  readInstance,
  readInstanceOmittingPixelData,
  type OmittedPixelData,
  type ReadInstance,
  type ReadInstanceOptions,
} from './read-instance';

/**
 * Objects smaller than this are read whole, in one request: CT and MR slices (0.1–0.6 MB), whose
 * header is a fair part of them anyway. Larger ones, radiographs (5–30 MB) and multi-frame
 * objects, are read by range: their header, Pixel Data's element header and what follows it, a
 * few requests of tens of KB, so the worker neither reads nor holds pixels it does not parse (a
 * 10 MB DR was read whole below 16 MiB before: docs/benchmarks.md, fourth round).
 */
export const WHOLE_READ_BELOW = 1024 * 1024;
/** The first read; enough for the header of all but large enhanced multi-frame objects, which double it. */
const FIRST_READ_BYTES = 64 * 1024;
/** Encapsulated pixel data's item headers are read this much at a time, so small fragments cost no request each. */
const ITEM_WINDOW_BYTES = 64 * 1024;

export interface ReadStoredInstanceOptions extends ReadInstanceOptions {
  /** Read objects smaller than this whole; default WHOLE_READ_BELOW (0 takes range reads for all). */
  wholeReadBelow?: number;
  /**
   * The object's size as the caller recorded it (the instance row's size_bytes): when it is below
   * wholeReadBelow the object is read whole without asking the store its size first.
   */
  recordedSize?: number;
}

/**
 * Resolves to what readInstance(the whole object, opts) returns. Throws what it throws too: a
 * DicomInvalidError with the same failure reason, though a truncation inside Pixel Data may be
 * worded differently; and the store's ObjectNotFoundError for a missing object.
 */
export async function readStoredInstance(store: ObjectStore, key: string, opts: ReadStoredInstanceOptions): Promise<ReadInstance> {
  const wholeReadBelow = opts.wholeReadBelow ?? WHOLE_READ_BELOW;
  // A whole read does not depend on the size, so a recorded one saves the store a request; range
  // reads use the store's own figure.
  const info = opts.recordedSize !== undefined && opts.recordedSize < wholeReadBelow ? undefined : await store.stat(key);
  // A missing object takes the whole read too, so that get rejects with the store's ObjectNotFoundError.
  if (!info || info.size < wholeReadBelow) return readInstance(await readAll(await store.get(key)), opts);
  const object = new StoredObject(store, key, info.size);
  const readWhole = async () => readInstance(await object.read(0, object.size), opts);
  const located = await locatePixelData(object);
  if (Buffer.isBuffer(located)) return readInstance(located, opts);
  const pixelData = await readPixelDataElement(object, located);
  if (!pixelData) return readWhole();
  const tail = await object.read(pixelData.element.dataOffset + pixelData.element.length, object.size);
  // Which of several Pixel Data elements (an invalid file) to index is left to readInstance.
  if (startsPixelData(tail, located.ts)) return readWhole();
  return readInstanceOmittingPixelData(withoutPixelValue(located, tail), pixelData, opts);
}

/**
 * A stream's bytes. Not node:stream/consumers' buffer(), which gathers them in a Blob and copies
 * them twice, once of them asynchronously: an object usually arrives as one chunk
 * (FsObjectStore reads it in one read), which is returned as it is.
 */
async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
}

class StoredObject {
  constructor(
    private readonly store: ObjectStore,
    private readonly key: string,
    readonly size: number,
  ) {}

  /** Bytes [start, end) of the object; end is clamped to its size. */
  async read(start: number, end: number): Promise<Buffer> {
    const last = Math.min(end, this.size) - 1;
    if (last < start) return Buffer.alloc(0);
    const bytes = await readAll(await this.store.get(this.key, { start, end: last }));
    if (bytes.length !== last + 1 - start) throw new Error(`Object ${this.key}: read ${bytes.length} bytes at ${start}, expected ${last + 1 - start}`);
    return bytes;
  }
}

const invalid = (message: string) => new DicomInvalidError(FailureReason.cannotUnderstand, message);
const truncatedInside = (tag: number) => invalid(`The file is truncated inside ${tag.toString(16).toUpperCase().padStart(8, '0')}`);

// ---------------------------------------------------------------------------------------------
// Finding Pixel Data: a walk over element headers, as dicom-parser reads them

const UNDEFINED_LENGTH = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_DELIMITATION = 0xfffee00d;
const SEQUENCE_DELIMITATION = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
const PIXEL_DATA_TAGS = new Set([PIXEL_DATA, 0x7fe00008, 0x7fe00009]); // Pixel Data, Float, Double Float
/** Explicit VRs with a 32-bit length (PS3.5 Table 7.1-1); the others have 16 bits. */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);
const MAX_NESTING = 64;
/**
 * How much of Pixel Data's value the parsed buffer keeps: in implicit VR dicom-parser peeks at
 * a value's first 4 bytes to tell a sequence, so they must be the file's.
 */
const STAND_IN_BYTES = 4;
const standInLength = (header: ElementHeader) => Math.min(header.length, STAND_IN_BYTES);

/** The walk ran out of bytes: read more of the object. */
const NEED_MORE = Symbol('need more bytes');
/** A layout the walk does not follow as dicom-parser would (malformed files): readInstance reads it whole. */
const UNSUPPORTED = Symbol('unsupported layout');

class Cursor {
  constructor(
    readonly bytes: Buffer,
    public pos: number,
    public littleEndian: boolean,
  ) {}

  need(n: number): void {
    if (this.pos + n > this.bytes.length) throw NEED_MORE;
  }
  u16(): number {
    this.need(2);
    this.pos += 2;
    return this.littleEndian ? this.bytes.readUInt16LE(this.pos - 2) : this.bytes.readUInt16BE(this.pos - 2);
  }
  u32(): number {
    this.need(4);
    this.pos += 4;
    return this.littleEndian ? this.bytes.readUInt32LE(this.pos - 4) : this.bytes.readUInt32BE(this.pos - 4);
  }
  tag(): number {
    return ((this.u16() << 16) | this.u16()) >>> 0;
  }
  vr(): string {
    this.need(2);
    this.pos += 2;
    return this.bytes.toString('latin1', this.pos - 2, this.pos);
  }
  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }
}

interface ElementHeader {
  tag: number;
  /** '' in implicit VR. */
  vr: string;
  length: number;
  /** Where the value starts. */
  dataOffset: number;
  /** Bytes of the header's length field, the last ones before the value. */
  lengthSize: 2 | 4;
}

function readElementHeader(cur: Cursor, explicitVr: boolean): ElementHeader {
  const tag = cur.tag();
  if (!explicitVr) return { tag, vr: '', length: cur.u32(), dataOffset: cur.pos, lengthSize: 4 };
  const vr = cur.vr();
  if (!LONG_VRS.has(vr)) return { tag, vr, length: cur.u16(), dataOffset: cur.pos, lengthSize: 2 };
  cur.skip(2);
  return { tag, vr, length: cur.u32(), dataOffset: cur.pos, lengthSize: 4 };
}

function skipValue(cur: Cursor, explicitVr: boolean, header: ElementHeader, depth: number): void {
  if (header.length !== UNDEFINED_LENGTH) return cur.skip(header.length);
  // Undefined length: a sequence, or UN holding one in Implicit VR Little Endian (PS3.5 §6.2.2).
  // dicom-parser scans other values of undefined length for a delimiter instead.
  if (explicitVr && header.vr !== 'SQ' && header.vr !== 'UN') throw UNSUPPORTED;
  if (depth >= MAX_NESTING) throw UNSUPPORTED;
  const itemsExplicit = explicitVr && header.vr === 'SQ';
  for (;;) {
    const tag = cur.tag();
    const length = cur.u32();
    if (tag === SEQUENCE_DELIMITATION) return;
    if (tag !== ITEM) throw UNSUPPORTED;
    if (length !== UNDEFINED_LENGTH) cur.skip(length);
    else skipItemElements(cur, itemsExplicit, depth + 1);
  }
}

function skipItemElements(cur: Cursor, explicitVr: boolean, depth: number): void {
  for (;;) {
    cur.need(4);
    if (cur.tag() === ITEM_DELIMITATION) return void cur.u32();
    cur.pos -= 4;
    skipValue(cur, explicitVr, readElementHeader(cur, explicitVr), depth);
  }
}

/** The file meta information: Explicit VR Little Endian, up to the first tag past group 0002 (as dicom-parser ends it). */
function skipFileMeta(cur: Cursor): void {
  for (;;) {
    cur.need(2);
    if (cur.bytes.readUInt16LE(cur.pos) > 0x0002) return;
    skipValue(cur, true, readElementHeader(cur, true), 0);
  }
}

/** The header of the first top-level Pixel Data element from cur.pos; undefined if the bytes end first. */
function findPixelData(cur: Cursor, explicitVr: boolean, complete: boolean): ElementHeader | undefined {
  for (;;) {
    if (complete && cur.pos === cur.bytes.length) return undefined;
    const header = readElementHeader(cur, explicitVr);
    if (PIXEL_DATA_TAGS.has(header.tag)) return header;
    skipValue(cur, explicitVr, header, 0);
  }
}

interface Located {
  ts: TransferSyntax;
  /** The object from its start, at least to Pixel Data's value. */
  prefix: Buffer;
  header: ElementHeader;
}

/**
 * Reads the object from its start, doubling the read until it holds Pixel Data's element
 * header. Resolves to the whole object instead when the range reads cannot stand in for it: a
 * deflated data set (no offsets to keep), no Pixel Data, or a layout the walk does not follow.
 */
async function locatePixelData(object: StoredObject): Promise<Located | Buffer> {
  let prefix = await object.read(0, FIRST_READ_BYTES);
  for (;;) {
    const complete = prefix.length === object.size;
    const found = locateIn(prefix, complete);
    if (found === NEED_MORE && !complete) prefix = Buffer.concat([prefix, await object.read(prefix.length, 2 * prefix.length)]);
    else if (typeof found === 'object') return found;
    else return complete ? prefix : object.read(0, object.size);
  }
}

function locateIn(prefix: Buffer, complete: boolean): Located | typeof NEED_MORE | typeof UNSUPPORTED {
  // Throws as readInstance would on the whole object: it reads the same first bytes.
  const part10 = readPart10Header(prefix);
  if (part10 === 'incomplete') return NEED_MORE;
  const ts = TRANSFER_SYNTAXES.get(part10.transferSyntaxUid)!;
  if (ts.deflated) return UNSUPPORTED;
  try {
    const cur = new Cursor(prefix, 132, true);
    skipFileMeta(cur);
    cur.littleEndian = ts.littleEndian;
    const header = findPixelData(cur, ts.explicitVr, complete);
    if (!header) return UNSUPPORTED;
    cur.need(standInLength(header));
    return { ts, prefix, header };
  } catch (err) {
    if (err === NEED_MORE || err === UNSUPPORTED) return err;
    throw err;
  }
}

/** Whether the bytes after Pixel Data hold another Pixel Data element (a walk that fails says no: the parsers will judge them). */
function startsPixelData(tail: Buffer, ts: TransferSyntax): boolean {
  try {
    return findPixelData(new Cursor(tail, 0, ts.littleEndian), ts.explicitVr, true) !== undefined;
  } catch (err) {
    if (err === NEED_MORE || err === UNSUPPORTED) return false;
    throw err;
  }
}

/** The object's bytes up to Pixel Data's stand-in (see OmittedPixelData), then those after its value. */
function withoutPixelValue({ ts, prefix, header }: Located, tail: Buffer): Buffer {
  const length = standInLength(header);
  const buf = Buffer.concat([prefix.subarray(0, header.dataOffset + length), tail]);
  const at = header.dataOffset - header.lengthSize;
  if (ts.littleEndian) buf.writeUIntLE(length, at, header.lengthSize);
  else buf.writeUIntBE(length, at, header.lengthSize);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Pixel Data's element, as dicom-parser would read it from the whole file

/** Undefined when dicom-parser would not read it as Pixel Data (malformed files): readInstance then reads the object whole. */
async function readPixelDataElement(object: StoredObject, { ts, header }: Located): Promise<OmittedPixelData | undefined> {
  const element: Element = {
    tag: `x${header.tag.toString(16).padStart(8, '0')}`,
    vr: header.vr || undefined,
    length: header.length,
    dataOffset: header.dataOffset,
  };
  if (header.length !== UNDEFINED_LENGTH) {
    if (header.dataOffset + header.length > object.size) throw truncatedInside(header.tag);
    return { element, fragmentStarts: new Map() };
  }
  // dicom-parser reads fragments only for (7FE0,0010) in explicit VR; it reads the rest as sequences.
  if (!ts.explicitVr || header.tag !== PIXEL_DATA || header.vr === 'SQ') return undefined;
  return readFragments(new ItemReader(object, ts.littleEndian), element);
}

/**
 * Encapsulated pixel data (PS3.5 A.4): the Basic Offset Table item, then one item per fragment,
 * then the sequence delimiter. Only the item headers and each fragment's first bytes are read.
 */
async function readFragments(items: ItemReader, element: Element): Promise<OmittedPixelData | undefined> {
  const table = await items.item(element.dataOffset);
  if (!table) throw truncatedInside(PIXEL_DATA);
  if (table.tag !== ITEM) throw invalid('Malformed data set: encapsulated Pixel Data does not start with a Basic Offset Table item');
  // dicom-parser reads whole 32-bit offsets, and past the item when its length is not a multiple of 4.
  if (table.length % 4 !== 0) return undefined;
  const offsets = await items.bytes(element.dataOffset + 8, table.length);
  if (offsets.length < table.length) throw truncatedInside(PIXEL_DATA);
  const cur = new Cursor(offsets, 0, items.littleEndian);
  const basicOffsetTable = Array.from({ length: table.length / 4 }, () => cur.u32());

  const first = element.dataOffset + 8 + table.length;
  const fragments: Fragment[] = [];
  const fragmentStarts = new Map<number, Uint8Array>();
  for (let pos = first; ;) {
    const item = await items.item(pos);
    if (!item) throw truncatedInside(PIXEL_DATA);
    if (item.tag === SEQUENCE_DELIMITATION) {
      const length = pos + 8 + item.length - element.dataOffset;
      if (element.dataOffset + length > items.size) throw truncatedInside(PIXEL_DATA);
      return { element: { ...element, length, hadUndefinedLength: true, encapsulatedPixelData: true, basicOffsetTable, fragments }, fragmentStarts };
    }
    if (item.tag !== ITEM) return undefined;
    fragments.push({ offset: pos - first, position: pos + 8, length: item.length });
    // A copy: a view would keep its whole window in memory.
    fragmentStarts.set(pos + 8, Uint8Array.from(item.start.subarray(0, item.length)));
    pos += 8 + item.length;
  }
}

/** Item headers of encapsulated pixel data, read ITEM_WINDOW_BYTES at a time and past fragments larger than that. */
class ItemReader {
  private window: Buffer = Buffer.alloc(0);
  private windowStart = 0;

  constructor(
    private readonly object: StoredObject,
    readonly littleEndian: boolean,
  ) {}

  get size(): number {
    return this.object.size;
  }

  /** The n bytes at pos, fewer where the object ends. */
  async bytes(pos: number, n: number): Promise<Buffer> {
    const end = Math.min(pos + n, this.object.size);
    if (end <= pos) return Buffer.alloc(0);
    if (pos < this.windowStart || end > this.windowStart + this.window.length) {
      this.window = await this.object.read(pos, pos + Math.max(n, ITEM_WINDOW_BYTES));
      this.windowStart = pos;
    }
    return this.window.subarray(pos - this.windowStart, end - this.windowStart);
  }

  /** The item tag and length at pos and the fragment's first bytes; undefined where the object ends before 8 bytes. */
  async item(pos: number): Promise<{ tag: number; length: number; start: Buffer } | undefined> {
    const bytes = await this.bytes(pos, 8 + FRAGMENT_START_BYTES);
    if (bytes.length < 8) return undefined;
    const cur = new Cursor(bytes, 0, this.littleEndian);
    return { tag: cur.tag(), length: cur.u32(), start: bytes.subarray(8) };
  }
}
