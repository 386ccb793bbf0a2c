import { createHash } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import { buffer } from 'node:stream/consumers';
import type { Readable } from 'node:stream';
import dcmjs from 'dcmjs';
import { HurenError } from '../../core/errors';
import { absolutizeBulkDataUris } from '../../core/dicom/bulkdata';
import { isUid } from '../../core/dicom/uid';
import { StoredObjectStream } from '../../core/storage/fs-store';
import type { ObjectStore } from '../../core/storage/object-store';
import type { GatewayDeps } from '../deps';
import { acceptsDicomJson, negotiateMultipart } from './accept';
import { newBoundary, writeClosingBoundary, writePartHeader } from './multipart';
import { dicomwebBase } from './urls';
import { assertStudyChecked } from '../security/principal';

const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const IMPLICIT_LE = '1.2.840.10008.1.2';
/**
 * Objects of a multipart retrieve opened (and read into) beyond the part being sent. 4 rather
 * than 1: their opens, stats, reads and closes reach the thread pool together and their
 * completions wake the event loop together. Measured on the series of 50 CT slices of
 * scripts/bench/peer.ts, alternating with Orthanc: 328–373 → 381–441 MB/s at 1 client, and
 * 1.6–1.9 → 1.4–1.6 ms of gateway CPU per MB. It costs up to 5 open files and 5 MiB of
 * buffered reads per response instead of 2.
 */
const OPEN_AHEAD = 4;
/** Size of a recycled read buffer: the most a stored object's stream reads at a time. */
const READ_BUFFER_BYTES = 1024 * 1024;
/** Recycled read buffers kept for the next parts (32 MiB); any more in flight are left to the garbage collector. */
const READ_BUFFERS_KEPT = 32;

/** Media type of one frame of each encapsulated transfer syntax (PS3.18 §8.7.3.3.2). */
const FRAME_MEDIA_TYPE: Record<string, string> = {
  '1.2.840.10008.1.2.4.50': 'image/jpeg',
  '1.2.840.10008.1.2.4.51': 'image/jpeg',
  '1.2.840.10008.1.2.4.57': 'image/jpeg',
  '1.2.840.10008.1.2.4.70': 'image/jpeg',
  '1.2.840.10008.1.2.4.80': 'image/jls',
  '1.2.840.10008.1.2.4.81': 'image/jls',
  '1.2.840.10008.1.2.4.90': 'image/jp2',
  '1.2.840.10008.1.2.4.91': 'image/jp2',
  '1.2.840.10008.1.2.4.201': 'image/jphc',
  '1.2.840.10008.1.2.4.202': 'image/jphc',
  '1.2.840.10008.1.2.4.203': 'image/jphc',
  '1.2.840.10008.1.2.5': 'image/dicom-rle',
};

interface Scope {
  study: string;
  series?: string;
  sop?: string;
}

interface InstanceRow {
  sop_instance_uid: string;
  transfer_syntax_uid: string;
  object_key: string;
  version: number;
}

function scopeOf(req: Request): Scope {
  const { study, series, sop } = req.params as Record<string, string | undefined>;
  for (const [name, uid] of [
    ['StudyInstanceUID', study],
    ['SeriesInstanceUID', series],
    ['SOPInstanceUID', sop],
  ] as const) {
    if (uid !== undefined && !isUid(uid)) throw new HurenError(400, 'invalid_uid', `Not a valid ${name}: ${uid.slice(0, 80)}`);
  }
  // The access policy admitted this study (gateway/security/access.ts); fail closed otherwise.
  assertStudyChecked(req, study!);
  return { study: study!, series, sop };
}

/** Only indexed instances are visible to retrieval, as to search. */
async function instancesIn(deps: GatewayDeps, scope: Scope, columns: string[]): Promise<Record<string, unknown>[]> {
  const q = deps.db('instance').select(columns).where({ study_instance_uid: scope.study, status: 'indexed' });
  if (scope.series) q.andWhere({ series_instance_uid: scope.series });
  if (scope.sop) q.andWhere({ sop_instance_uid: scope.sop });
  const rows = await q.orderBy([{ column: 'series_instance_uid' }, { column: 'instance_number' }, { column: 'sop_instance_uid' }]);
  if (rows.length === 0)
    throw new HurenError(404, 'not_found', `No ${scope.sop ? 'instance' : scope.series ? 'series' : 'study'} ${scope.sop ?? scope.series ?? scope.study} here`);
  return rows;
}

/**
 * PS3.18 §10.4 Retrieve Study / Series / Instance: multipart/related; type="application/dicom",
 * streamed from storage. transfer-syntax=* returns the stored bytes; no parameter asks for the
 * default (Explicit VR Little Endian): served as stored, transcoded from Implicit VR Little
 * Endian, or 406 where it would need decompression.
 */
export function retrieveInstances(deps: GatewayDeps): RequestHandler {
  return async (req, res) => {
    const scope = scopeOf(req);
    const { transferSyntax } = negotiateMultipart(req.get('accept'), ['application/dicom']);
    const rows = (await instancesIn(deps, scope, ['sop_instance_uid', 'transfer_syntax_uid', 'object_key', 'version'])) as unknown as InstanceRow[];
    const wanted = transferSyntax ?? EXPLICIT_LE;
    for (const row of rows) {
      if (wanted !== '*' && !canServe(row.transfer_syntax_uid, wanted)) {
        throw new HurenError(
          406,
          'transcoding_unavailable',
          `Instance ${row.sop_instance_uid} is stored as ${row.transfer_syntax_uid}; ask with transfer-syntax=* (or ${row.transfer_syntax_uid}) until transcoding is available`,
        );
      }
    }
    const boundary = newBoundary();
    res.status(200).type(`multipart/related; type="application/dicom"; boundary=${boundary}`);
    const ahead = new OpenAhead(
      deps.store,
      rows.map((r) => r.object_key),
    );
    try {
      for (const row of rows) {
        const servedAs = wanted === '*' ? row.transfer_syntax_uid : wanted;
        writePartHeader(res, boundary, { 'Content-Type': `application/dicom; transfer-syntax=${servedAs}` });
        const source = await ahead.take();
        if (servedAs === row.transfer_syntax_uid) {
          await copyInto(res, source);
        } else {
          res.write(toExplicitLittleEndian(await buffer(source)));
        }
      }
    } finally {
      ahead.close();
    }
    writeClosingBoundary(res, boundary);
    res.end();
  };
}

/**
 * Opens the objects of the next parts while the current one streams, and starts their first
 * read (one stream buffer each: up to its highWaterMark, never more), so opening (a file open
 * and stat, or an S3 request) and reading overlap sending instead of stalling the response
 * between parts. At most OPEN_AHEAD objects are open beyond the one being sent.
 */
class OpenAhead {
  private readonly opening: Array<Promise<Readable>> = [];
  private opened = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly keys: string[],
  ) {}

  /** The object of the next part (parts are taken in order). */
  take(): Promise<Readable> {
    while (this.opening.length <= OPEN_AHEAD && this.opened < this.keys.length) this.opening.push(this.open(this.keys[this.opened++]));
    const next = this.opening.shift();
    if (!next) throw new Error('Every part has been taken');
    return next;
  }

  /** Releases the objects opened ahead but never taken (the response failed or the client left). */
  close(): void {
    for (const left of this.opening.splice(0)) {
      left.then(
        (source) => source.destroy(),
        () => undefined,
      );
    }
  }

  private open(key: string): Promise<Readable> {
    const opening = this.store.get(key).then((source) => {
      // Until the part is sent nothing else listens: a read error stays on the stream (the
      // sender's iterator rethrows it) rather than being an uncaught 'error' event.
      source.on('error', () => undefined);
      readIntoRecycled(source);
      source.read(0);
      return source;
    });
    // A failure is reported when the part is taken (or dropped by close), never unhandled.
    opening.catch(() => undefined);
    return opening;
  }
}

function canServe(stored: string, wanted: string): boolean {
  return stored === wanted || (stored === IMPLICIT_LE && wanted === EXPLICIT_LE);
}

function toExplicitLittleEndian(part10: Buffer): Buffer {
  const file = dcmjs.data.DicomMessage.readFile(part10.buffer.slice(part10.byteOffset, part10.byteOffset + part10.length) as ArrayBuffer);
  file.meta['00020010'] = { vr: 'UI', Value: [EXPLICIT_LE] };
  return Buffer.from(file.write());
}

/** PS3.18 §10.4 Retrieve {Study,Series,Instance} Metadata: DICOM JSON, with ETag / If-None-Match. */
export function retrieveMetadata(deps: GatewayDeps): RequestHandler {
  return async (req, res) => {
    const scope = scopeOf(req);
    if (!acceptsDicomJson(req.get('accept'))) throw new HurenError(406, 'not_acceptable', 'Metadata is served as application/dicom+json');
    const versions = await instancesIn(deps, scope, ['sop_instance_uid', 'version']);
    const etag = `"${createHash('sha1')
      .update(versions.map((r) => `${r.sop_instance_uid}:${r.version}`).join('|'))
      .digest('base64url')}"`;
    res.setHeader('ETag', etag);
    if (
      req
        .get('if-none-match')
        ?.split(/\s*,\s*/)
        .includes(etag)
    ) {
      res.status(304).end();
      return;
    }
    const rows = await instancesIn(deps, scope, ['metadata']);
    const base = dicomwebBase(deps.config, req);
    const body = rows.map((r) => absolutizeBulkDataUris(r.metadata as Record<string, unknown>, base));
    res.status(200).type('application/dicom+json').send(JSON.stringify(body));
  };
}

interface FrameIndex {
  encapsulated: boolean;
  frames: Array<Array<[number, number]>>;
}

/** PS3.18 §10.4 Retrieve Frames, from the byte ranges recorded at ingest (no re-parse). */
export function retrieveFrames(deps: GatewayDeps): RequestHandler {
  return async (req, res) => {
    const scope = scopeOf(req);
    if (!scope.series || !scope.sop) throw new HurenError(400, 'invalid_path', 'Frames belong to an instance');
    const numbers = parseFrameList(req.params.frames as string);
    const [row] = await instancesIn(deps, scope, ['transfer_syntax_uid', 'object_key', 'frames']);
    const index = row.frames as FrameIndex | null;
    if (!index)
      throw new HurenError(
        406,
        'frames_unavailable',
        'This instance has no frame index (no pixel data, or a deflated transfer syntax); retrieve the instance instead',
      );
    for (const n of numbers) {
      if (n > index.frames.length) throw new HurenError(404, 'frame_not_found', `Frame ${n} does not exist; the instance has ${index.frames.length}`);
    }
    const ts = row.transfer_syntax_uid as string;
    const partType = index.encapsulated ? (FRAME_MEDIA_TYPE[ts] ?? 'application/octet-stream') : 'application/octet-stream';
    const choice = negotiateMultipart(req.get('accept'), [partType]);
    if (index.encapsulated && choice.transferSyntax && choice.transferSyntax !== '*' && choice.transferSyntax !== ts) {
      throw new HurenError(406, 'transcoding_unavailable', `Frames are stored as ${ts}; ask with transfer-syntax=* or ${ts}`);
    }
    await sendFrames(
      deps,
      res,
      row.object_key as string,
      numbers.map((n) => index.frames[n - 1]),
      partType,
      index.encapsulated ? ts : EXPLICIT_LE,
    );
  };
}

export function parseFrameList(list: string): number[] {
  const numbers = list.split(/\s*,\s*/).map((s) => (/^\d+$/.test(s) ? Number(s) : NaN));
  if (numbers.length === 0 || numbers.some((n) => !Number.isSafeInteger(n) || n < 1)) {
    throw new HurenError(400, 'invalid_frame_list', `Frame numbers are positive integers separated by commas, not "${list.slice(0, 80)}"`);
  }
  return numbers;
}

async function sendFrames(
  deps: GatewayDeps,
  res: Response,
  objectKey: string,
  frames: Array<Array<[number, number]>>,
  partType: string,
  ts: string,
): Promise<void> {
  const boundary = newBoundary();
  res.status(200).type(`multipart/related; type="${partType}"; boundary=${boundary}`);
  for (const ranges of frames) {
    writePartHeader(res, boundary, { 'Content-Type': `${partType}; transfer-syntax=${ts}` });
    for (const [offset, length] of ranges) {
      if (length === 0) continue;
      await copyInto(res, readIntoRecycled(await deps.store.get(objectKey, { start: offset, end: offset + length - 1 })));
    }
  }
  writeClosingBoundary(res, boundary);
  res.end();
}

/**
 * PS3.18 §10.4 Retrieve Bulkdata for the BulkDataURIs in metadata, by the byte ranges recorded
 * at ingest. Pixel Data is answered frame by frame (one part per frame) where frames are indexed.
 */
export function retrieveBulkdata(deps: GatewayDeps): RequestHandler {
  return async (req, res) => {
    const scope = scopeOf(req);
    const segments = req.params.tagPath as unknown as string[];
    const tagPath = segments.join('/').toUpperCase();
    if (!/^[0-9A-F]{8}(\/\d+\/[0-9A-F]{8})*$/.test(tagPath)) {
      throw new HurenError(400, 'invalid_tag', `Bulk data is addressed by a tag path like 7FE00010, not "${tagPath.slice(0, 40)}"`);
    }
    negotiateMultipart(req.get('accept'), ['application/octet-stream']);
    const [row] = await instancesIn(deps, scope, ['transfer_syntax_uid', 'object_key', 'frames', 'bulkdata']);
    const index = row.frames as FrameIndex | null;
    if (tagPath === '7FE00010' && index) {
      await sendFrames(
        deps,
        res,
        row.object_key as string,
        index.frames,
        'application/octet-stream',
        index.encapsulated ? (row.transfer_syntax_uid as string) : EXPLICIT_LE,
      );
      return;
    }
    const range = (row.bulkdata as Record<string, [number, number]> | null)?.[tagPath];
    if (!range) throw new HurenError(404, 'bulkdata_not_found', `Instance has no bulk data at ${tagPath}`);
    await sendFrames(deps, res, row.object_key as string, [[range]], 'application/octet-stream', row.transfer_syntax_uid as string);
  };
}

/**
 * Streams one stored object into a multipart response that stays open for the next part.
 * Not `pipeline(source, res, { end: false })`: each pipeline leaves its close/error/end
 * listeners on `res`, so a series of 50 instances piled up 150 of them and Node printed three
 * MaxListenersExceededWarning lines per response (docs/benchmarks.md, "Making it faster").
 */
async function copyInto(res: Response, source: Readable): Promise<void> {
  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (res.destroyed) throw new Error('The client went away');
      // The callback runs once the socket has handed the bytes to the kernel (never, or with an
      // error, if the response broke off first): only then may the buffer be read into again.
      const flowing = res.write(chunk, (err) => {
        if (!err) readBuffers.giveBack(chunk);
      });
      if (!flowing) await drained(res);
    }
  } finally {
    source.destroy();
  }
}

/** Resolves on 'drain', rejects when the response closes first; leaves no listener behind. */
function drained(res: Response): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) return reject(new Error('The client went away'));
    const done = (err?: Error) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      if (err) reject(err);
      else resolve();
    };
    const onDrain = () => done();
    const onClose = () => done(new Error('The client went away'));
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/**
 * Read buffers for the parts of multipart retrieves, recycled once a part's bytes have been
 * sent. A series of 50 CT slices is 26 MB of reads; read into new buffers, that much memory
 * outside the JavaScript heap per response set off scavenges and runs of major collections
 * (up to 26 of 15–60 ms each in 6 s, on the main thread). Recycled, the gateway spends
 * 1.4–2.2 instead of 1.7–4.0 ms of CPU per MB sent (series of scripts/bench/peer.ts).
 */
class ReadBuffers {
  private readonly kept: Buffer[] = [];
  /** The memory of the buffers lent out: only those are taken back. */
  private readonly lent = new WeakSet<ArrayBufferLike>();

  readonly take = (size: number): Buffer => {
    if (size > READ_BUFFER_BYTES) return Buffer.allocUnsafeSlow(size);
    const buffer = this.kept.pop() ?? Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
    this.lent.add(buffer.buffer);
    return buffer.subarray(0, size);
  };

  /** Takes back a chunk read into a lent buffer, once nothing uses it any more; ignores any other. */
  giveBack(chunk: Buffer): void {
    if (!this.lent.delete(chunk.buffer)) return;
    if (this.kept.length < READ_BUFFERS_KEPT) this.kept.push(Buffer.from(chunk.buffer, 0, READ_BUFFER_BYTES));
  }
}

const readBuffers = new ReadBuffers();

/** Has a stored object's stream read into recycled buffers where the store allows it (the fs driver's; S3 streams are socket reads). */
function readIntoRecycled(source: Readable): Readable {
  if (source instanceof StoredObjectStream) source.readInto(readBuffers.take);
  return source;
}
