/**
 * Builds valid DICOM Part 10 instances in memory for tests and benchmarks.
 *
 *   const buf = makeInstance({ modality: 'CT', patientName: '张三^三', charset: 'GB18030' });
 *
 * dcmjs writes the file. It can only encode text as UTF-8, so for other character sets the
 * text is written as an ASCII placeholder of the same byte length and the encoded bytes are
 * put in its place afterwards (found with dicom-parser). Encapsulated pixel data is appended
 * by hand for exact control over fragments and the Basic Offset Table.
 */
import { randomUUID } from 'crypto';
import { deflateRawSync } from 'zlib';
import { data as dcmjsData, log as dcmjsLog } from 'dcmjs';
import type { data as DcmjsTypes } from 'dcmjs';
import { parseDicom, type DataSet } from 'dicom-parser';
import iconv from 'iconv-lite';
import { CHARSET_VRS } from '../../core/dicom/charset';
import { TRANSFER_SYNTAXES } from '../../core/dicom/part10-header';

export const TS = {
  implicitLittleEndian: '1.2.840.10008.1.2',
  explicitLittleEndian: '1.2.840.10008.1.2.1',
  deflated: '1.2.840.10008.1.2.1.99',
  encapsulatedUncompressed: '1.2.840.10008.1.2.1.98',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  rle: '1.2.840.10008.1.2.5',
} as const;

const SOP_CLASS_BY_MODALITY: Record<string, string> = {
  CT: '1.2.840.10008.5.1.4.1.1.2', // CT Image Storage
  MR: '1.2.840.10008.5.1.4.1.1.4', // MR Image Storage
  CR: '1.2.840.10008.5.1.4.1.1.1', // Computed Radiography Image Storage
  DX: '1.2.840.10008.5.1.4.1.1.1.1', // Digital X-Ray Image Storage - For Presentation
};
const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';

/** Character sets makeInstance can encode text in. */
export type Charset = 'ISO_IR 192' | 'ISO_IR 100' | 'GB18030' | 'GBK' | '\\ISO 2022 IR 58';

export interface MakeInstanceOptions {
  /** Random 2.25.<uuid> UIDs when not given. */
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
  sopInstanceUid?: string;
  /** Default: the modality's image storage class (CT, MR, CR, DX), else Secondary Capture. */
  sopClassUid?: string;
  /** Default 'CT'. */
  modality?: string;
  /** Default 'PID0001'. */
  patientId?: string;
  /** DICOM PN string, e.g. 'Zhang^San=张^三'. Default 'TEST^PATIENT'. */
  patientName?: string;
  /** YYYYMMDD. Default '20240101'. */
  studyDate?: string;
  studyDescription?: string;
  /** Default 1. */
  seriesNumber?: number;
  /** Default 1. */
  instanceNumber?: number;
  /** Default 64 × 64. */
  rows?: number;
  columns?: number;
  /** 8 or 16 (default 16, BitsStored 12). Pixel values follow framePixels(). */
  bitsAllocated?: 8 | 16;
  /** Default 1; NumberOfFrames is written when greater than 1. */
  numberOfFrames?: number;
  /**
   * Default Explicit VR Little Endian. Also Implicit VR Little Endian, Deflated, and any
   * encapsulated syntax: those get one fragment per frame and a Basic Offset Table, holding
   * the native frame bytes — decodable only for Encapsulated Uncompressed (TS.encapsulatedUncompressed).
   */
  transferSyntaxUid?: string;
  /** SpecificCharacterSet. Default: none when all text is ASCII, else 'ISO_IR 192'. */
  charset?: Charset;
  bodyPartExamined?: string;
  /** Naturalized attributes (dcmjs keywords) merged in last; they win. */
  extra?: Record<string, unknown>;
}

/** A UID under the 2.25 root (ITU-T X.667): a random UUID as one decimal integer. */
export function randomUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;
}

/** The pixel bytes makeInstance writes for frame `frame` (0-based), little endian. */
export function framePixels(rows: number, columns: number, bitsAllocated: 8 | 16, frame: number): Buffer {
  const n = rows * columns;
  if (bitsAllocated === 8) return Buffer.from(Array.from({ length: n }, (_, i) => (i + frame * 50) & 0xff));
  const out = Buffer.alloc(n * 2);
  for (let i = 0; i < n; i++) out.writeUInt16LE((i * 3 + frame * 1000) & 0x0fff, i * 2);
  return out;
}

export function makeInstance(opts: MakeInstanceOptions = {}): Buffer {
  const transferSyntaxUid = opts.transferSyntaxUid ?? TS.explicitLittleEndian;
  const ts = TRANSFER_SYNTAXES.get(transferSyntaxUid);
  if (!ts || !ts.littleEndian) throw new Error(`makeInstance cannot write transfer syntax ${transferSyntaxUid}`);
  const { dataset, frames } = makeDataset(opts);
  if (!ts.encapsulated) {
    const all = Buffer.concat(frames);
    dataset.PixelData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
    dataset._vrMap = { PixelData: dataset.BitsAllocated === 8 ? 'OB' : 'OW' };
  }
  return writePart10({
    dataset,
    transferSyntaxUid,
    charset: opts.charset,
    encapsulatedFrames: ts.encapsulated ? frames.map((p) => [p]) : undefined,
  });
}

/**
 * makeInstance's naturalized data set without Pixel Data, and the native frames it would hold
 * (framePixels), for building unusual files with writePart10.
 */
export function makeDataset(opts: MakeInstanceOptions = {}): { dataset: Record<string, unknown>; frames: Buffer[] } {
  const modality = opts.modality ?? 'CT';
  const rows = opts.rows ?? 64;
  const columns = opts.columns ?? 64;
  const bits = opts.bitsAllocated ?? 16;
  const numberOfFrames = opts.numberOfFrames ?? 1;
  const dataset: Record<string, unknown> = {
    SOPClassUID: opts.sopClassUid ?? SOP_CLASS_BY_MODALITY[modality] ?? SECONDARY_CAPTURE,
    SOPInstanceUID: opts.sopInstanceUid ?? randomUid(),
    StudyDate: opts.studyDate ?? '20240101',
    StudyTime: '120000',
    AccessionNumber: '',
    Modality: modality,
    ReferringPhysicianName: '',
    StudyDescription: opts.studyDescription,
    PatientName: opts.patientName ?? 'TEST^PATIENT',
    PatientID: opts.patientId ?? 'PID0001',
    PatientBirthDate: '',
    PatientSex: '',
    BodyPartExamined: opts.bodyPartExamined,
    StudyInstanceUID: opts.studyInstanceUid ?? randomUid(),
    SeriesInstanceUID: opts.seriesInstanceUid ?? randomUid(),
    StudyID: '1',
    SeriesNumber: opts.seriesNumber ?? 1,
    InstanceNumber: opts.instanceNumber ?? 1,
    SamplesPerPixel: 1,
    PhotometricInterpretation: 'MONOCHROME2',
    NumberOfFrames: numberOfFrames > 1 ? numberOfFrames : undefined,
    Rows: rows,
    Columns: columns,
    BitsAllocated: bits,
    BitsStored: bits === 16 ? 12 : 8,
    HighBit: bits === 16 ? 11 : 7,
    PixelRepresentation: 0,
    ...opts.extra,
  };
  for (const key of Object.keys(dataset)) if (dataset[key] === undefined) delete dataset[key];
  const frames = Array.from({ length: numberOfFrames }, (_, f) => framePixels(rows, columns, bits, f));
  return { dataset, frames };
}

export interface WritePart10Options {
  /** Naturalized data set (dcmjs keywords). */
  dataset: Record<string, unknown>;
  transferSyntaxUid: string;
  charset?: Charset;
  /** Overrides of the file meta information (naturalized), e.g. a mismatching MediaStorageSOPInstanceUID. */
  meta?: Record<string, unknown>;
  /** Appended as encapsulated Pixel Data: frames, each a list of fragments. */
  encapsulatedFrames?: Buffer[][];
  /** Fill the Basic Offset Table (default true); false leaves it empty. */
  basicOffsetTable?: boolean;
  /**
   * Elements added as dcmjs writes denaturalized ones, by tag path ("00111001", or
   * "00400275/0/00111001" into an item the data set has), in an explicit VR transfer syntax: for
   * private elements (dcmjs denaturalizes only keywords) and for OV, SV and UV, given as an
   * ArrayBuffer of their bytes. dcmjs writes OV and SV as UN, and dicom-parser (which finds them
   * afterwards) misreads UV, so those three are written as UN, laid out alike (2 reserved bytes,
   * 32-bit length; PS3.5 Table 7.1-1), and their VR bytes set afterwards.
   */
  elements?: Record<string, { vr: string; Value: unknown[] }>;
}

/** The lower-level writer behind makeInstance, for fixtures that need unusual files. */
export function writePart10(opts: WritePart10Options): Buffer {
  const dataset = { ...opts.dataset };
  const hasText = /[\u0080-\uffff]/.test(JSON.stringify(dataset)); // ArrayBuffers stringify as {}
  const charset = opts.charset ?? (hasText ? 'ISO_IR 192' : undefined);
  if (charset) dataset.SpecificCharacterSet = charset;

  // dcmjs's dictionary lacks some VRs (OV) and says "OB or OW" for Pixel Data; it complains on
  // its validation logger and then does the right thing, so that logger is quiet here.
  const validationLog = dcmjsLog.getLogger('validation.dcmjs');
  const level = validationLog.getLevel();
  validationLog.setLevel('silent', false);
  try {
    return write(dataset, charset, opts);
  } finally {
    validationLog.setLevel(level, false);
  }
}

function write(dataset: Record<string, unknown>, charset: Charset | undefined, opts: WritePart10Options): Buffer {
  const dict = dcmjsData.DicomMetaDictionary.denaturalizeDataset(dataset);
  const relabelled = opts.elements ? addElements(dict, opts.elements, opts.transferSyntaxUid) : new Map<string, string>();
  const encoded = charset && charset !== 'ISO_IR 192' ? putPlaceholders(dict, charset) : new Map<string, Buffer>();
  const meta = dcmjsData.DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    // dcmjs writes the data set uncompressed; it is deflated below.
    TransferSyntaxUID: opts.transferSyntaxUid,
    ImplementationClassUID: '2.25.248116713412358413213395720411231180277',
    ImplementationVersionName: 'HUREN_TEST',
    ...opts.meta,
  });
  const part10 = new dcmjsData.DicomDict(meta);
  part10.dict = dict;
  let buf: Buffer = Buffer.from(part10.write({ fragmentMultiframe: false }));
  if (encoded.size) buf = replacePlaceholders(buf, encoded, opts.transferSyntaxUid);
  if (relabelled.size) buf = setVrs(buf, relabelled, opts.transferSyntaxUid);
  if (opts.encapsulatedFrames) buf = Buffer.concat([buf, encapsulatedPixelData(opts.encapsulatedFrames, opts.basicOffsetTable ?? true)]);
  if (opts.transferSyntaxUid === TS.deflated) {
    const metaEnd = 132 + 12 + buf.readUInt32LE(140);
    buf = Buffer.concat([buf.subarray(0, metaEnd), deflateRawSync(buf.subarray(metaEnd))]);
  }
  return buf;
}

/** Encodes text in a DICOM character set (values joined by '\', PN groups by '='). */
export function encodeText(text: string, charset: Charset, vr: string): Buffer {
  switch (charset) {
    case 'ISO_IR 192':
      return Buffer.from(text, 'utf8');
    case 'ISO_IR 100':
      return iconv.encode(text, 'latin1');
    case 'GB18030':
      return iconv.encode(text, 'gb18030');
    case 'GBK':
      return iconv.encode(text, 'gbk');
    case '\\ISO 2022 IR 58':
      return encodeIso2022Ir58(text, vr);
  }
}

/**
 * '\ISO 2022 IR 58': ASCII in G0, GB2312 designated to G1 by ESC $ ) A before Chinese text.
 * Delimiters reset to the initial character set (PS3.5 §6.1.2.5.3), so the escape sequence is
 * repeated after each one, as in the GB2312 example of PS3.5 Annex K.
 */
function encodeIso2022Ir58(text: string, vr: string): Buffer {
  const delimiters = vr === 'PN' ? '\\^=' : '\\\r\n\t\f';
  const out: Buffer[] = [];
  let designated = false;
  for (const ch of text) {
    if (ch.charCodeAt(0) < 0x80) {
      if (delimiters.includes(ch)) designated = false;
      out.push(Buffer.from(ch, 'latin1'));
      continue;
    }
    if (!designated) out.push(Buffer.from([0x1b, 0x24, 0x29, 0x41]));
    designated = true;
    const bytes = iconv.encode(ch, 'gb2312');
    if (bytes.length !== 2 || bytes[0] < 0xa1) throw new Error(`${ch} is not in GB2312`);
    out.push(bytes);
  }
  return Buffer.concat(out);
}

const pnToString = (pn: unknown): string => {
  // dcmjs's denaturalized PN values are String objects (with a toJSON), not plain objects.
  if (typeof pn === 'string' || pn instanceof String) return String(pn);
  const p = (pn ?? {}) as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
  return [p.Alphabetic ?? '', p.Ideographic ?? '', p.Phonetic ?? ''].join('=').replace(/=+$/, '');
};

/**
 * Swaps non-ASCII text for ASCII of the same byte length and returns the real bytes, keyed by
 * tag path ("00081032/0/00080104" inside sequences).
 */
function putPlaceholders(dict: DcmjsTypes.DcmjsDataset, charset: Charset, prefix = '', encoded = new Map<string, Buffer>()): Map<string, Buffer> {
  for (const [tag, el] of Object.entries(dict)) {
    if (el.vr === 'SQ') {
      (el.Value ?? []).forEach((item, i) => putPlaceholders(item as DcmjsTypes.DcmjsDataset, charset, `${prefix}${tag}/${i}/`, encoded));
      continue;
    }
    if (!CHARSET_VRS.has(el.vr) || !el.Value?.length) continue;
    const text = el.Value.map((v) => (el.vr === 'PN' ? pnToString(v) : String(v ?? ''))).join('\\');
    if (!/[\u0080-\uffff]/.test(text)) continue;
    const bytes = encodeText(text, charset, el.vr);
    el.Value = ['X'.repeat(bytes.length)];
    encoded.set(prefix + tag, bytes);
  }
  return encoded;
}

function replacePlaceholders(buf: Buffer, encoded: Map<string, Buffer>, transferSyntaxUid: string): Buffer {
  // Parsed as a bare data set: the meta information may announce a deflate not yet applied.
  const metaEnd = 132 + 12 + buf.readUInt32LE(140);
  const written = transferSyntaxUid === TS.implicitLittleEndian ? TS.implicitLittleEndian : TS.explicitLittleEndian;
  const parsed = parseDicom(buf.subarray(metaEnd), {
    TransferSyntaxUID: written,
    untilTag: 'x7fe00010',
    vrCallback: (tag: string) =>
      dcmjsData.DicomMetaDictionary.dictionary[`(${tag.slice(1, 5)},${tag.slice(5)})`.toUpperCase()]?.vr === 'SQ' ? 'SQ' : undefined,
  });
  for (const [path, bytes] of encoded) {
    const steps = path.split('/');
    let dataSet: DataSet | undefined = parsed;
    for (let i = 0; i + 2 < steps.length; i += 2) dataSet = dataSet?.elements[`x${steps[i].toLowerCase()}`]?.items?.[Number(steps[i + 1])]?.dataSet;
    const el = dataSet?.elements[`x${steps[steps.length - 1].toLowerCase()}`];
    if (!el || el.length < bytes.length) throw new Error(`placeholder for ${path} not found`);
    bytes.copy(buf, metaEnd + el.dataOffset);
  }
  return buf;
}

/** VRs the elements option writes as UN first (see WritePart10Options.elements). */
const WRITTEN_AS_UN = new Set(['OV', 'SV', 'UV']);

/** Puts opts.elements into the denaturalized data set; returns the VRs to set afterwards, by tag path. */
function addElements(dict: DcmjsTypes.DcmjsDataset, elements: NonNullable<WritePart10Options['elements']>, transferSyntaxUid: string): Map<string, string> {
  if (!TRANSFER_SYNTAXES.get(transferSyntaxUid)?.explicitVr) throw new Error('the elements option needs an explicit VR transfer syntax');
  const relabelled = new Map<string, string>();
  for (const [path, { vr, Value }] of Object.entries(elements)) {
    const steps = path.split('/');
    let dataSet: DcmjsTypes.DcmjsDataset | undefined = dict;
    for (let i = 0; i + 2 < steps.length; i += 2) dataSet = dataSet?.[steps[i]]?.Value?.[Number(steps[i + 1])] as DcmjsTypes.DcmjsDataset | undefined;
    if (!dataSet) throw new Error(`no item for ${path}`);
    dataSet[steps[steps.length - 1]] = { vr: WRITTEN_AS_UN.has(vr) ? 'UN' : vr, Value };
    if (WRITTEN_AS_UN.has(vr)) relabelled.set(path, vr);
  }
  return relabelled;
}

/** Overwrites the VR bytes of the UN elements at the given tag paths (see WritePart10Options.elements). */
function setVrs(buf: Buffer, vrs: Map<string, string>, transferSyntaxUid: string): Buffer {
  const metaEnd = 132 + 12 + buf.readUInt32LE(140);
  // Parsed as a bare data set: the meta information may announce a deflate not yet applied.
  const parsed = parseDicom(buf.subarray(metaEnd), { TransferSyntaxUID: transferSyntaxUid === TS.deflated ? TS.explicitLittleEndian : transferSyntaxUid });
  for (const [path, vr] of vrs) {
    const steps = path.split('/');
    let dataSet: DataSet | undefined = parsed;
    for (let i = 0; i + 2 < steps.length; i += 2) dataSet = dataSet?.elements[`x${steps[i].toLowerCase()}`]?.items?.[Number(steps[i + 1])]?.dataSet;
    const el = dataSet?.elements[`x${steps[steps.length - 1].toLowerCase()}`];
    if (el?.vr !== 'UN') throw new Error(`UN element for ${path} not found`);
    buf.write(vr, metaEnd + el.dataOffset - 8, 'latin1'); // tag, VR, 2 reserved bytes, 32-bit length
  }
  return buf;
}

/**
 * Pixel Data (7FE0,0010) OB of undefined length: Basic Offset Table item, one item per
 * fragment (padded to even length), sequence delimiter (PS3.5 A.4).
 */
export function encapsulatedPixelData(frames: Buffer[][], basicOffsetTable = true): Buffer {
  const item = (payload: Buffer) => {
    const padded = payload.length % 2 ? Buffer.concat([payload, Buffer.alloc(1)]) : payload;
    const head = Buffer.alloc(8);
    head.writeUInt16LE(0xfffe, 0);
    head.writeUInt16LE(0xe000, 2);
    head.writeUInt32LE(padded.length, 4);
    return Buffer.concat([head, padded]);
  };
  const frameItems = frames.map((fragments) => Buffer.concat(fragments.map(item)));
  const offsets = Buffer.alloc(basicOffsetTable ? 4 * frames.length : 0);
  let at = 0;
  frameItems.forEach((items, i) => {
    if (basicOffsetTable) offsets.writeUInt32LE(at, 4 * i);
    at += items.length;
  });
  const head = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x42, 0, 0, 0xff, 0xff, 0xff, 0xff]); // (7FE0,0010) OB, undefined length
  const end = Buffer.from([0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
  return Buffer.concat([head, item(offsets), ...frameItems, end]);
}
