import * as contentType from 'content-type';
import Dicer from 'dicer';
import { randomBytes } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { HurenError } from '../../core/errors';

export interface MultipartRelated {
  boundary: string;
  /** The `type` parameter: the media type of the root (here: every) body part. */
  type: string;
}

/**
 * Reads a `multipart/related; type="application/dicom"; boundary=…` Content-Type.
 * Missing or other media types → 415; a missing boundary → 400 (PS3.18 §8.6.1.2).
 */
export function parseMultipartRelatedContentType(header: string | undefined, acceptedTypes: string[]): MultipartRelated {
  if (!header) throw new HurenError(415, 'missing_content_type', 'Content-Type is required: multipart/related; type="application/dicom"; boundary=…');
  let parsed: contentType.ContentType;
  try {
    parsed = contentType.parse(header);
  } catch {
    throw new HurenError(415, 'unsupported_media_type', `Unparseable Content-Type: ${header.slice(0, 200)}`);
  }
  if (parsed.type !== 'multipart/related') {
    throw new HurenError(415, 'unsupported_media_type', `Content-Type must be multipart/related, not ${parsed.type}`);
  }
  const type = (parsed.parameters.type ?? 'application/dicom').toLowerCase();
  if (!acceptedTypes.includes(type)) {
    throw new HurenError(415, 'unsupported_media_type', `multipart/related type="${type}" is not supported; use ${acceptedTypes.join(' or ')}`);
  }
  const boundary = parsed.parameters.boundary;
  if (!boundary || boundary.length > 70) {
    throw new HurenError(400, 'malformed_multipart', 'multipart/related needs a boundary parameter of 1 to 70 characters');
  }
  return { boundary, type };
}

export interface BodyPart {
  headers: Record<string, string>;
  body: Readable;
}

/**
 * Streams the parts of a multipart body to `onPart` one after another, without holding a
 * part in memory: the next part is read only once `onPart` has consumed the current body.
 * `onPart` results are collected in order. Rejects with 400 when the framing is broken
 * (the parts handled so far have settled by then).
 */
export function readMultipart<T>(source: Readable, boundary: string, onPart: (part: BodyPart) => Promise<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const dicer = new Dicer({ boundary, maxHeaderPairs: 50 });
    const results: Promise<T>[] = [];
    let current: Readable | undefined;
    let failure: Error | undefined;
    let settled = false;

    const settle = () => {
      if (settled) return;
      settled = true;
      void Promise.allSettled(results).then((outcomes) => {
        if (failure) return reject(failure);
        const rejected = outcomes.find((o) => o.status === 'rejected');
        if (rejected) return reject((rejected as PromiseRejectedResult).reason);
        resolve(outcomes.map((o) => (o as PromiseFulfilledResult<T>).value));
      });
    };
    const fail = (err: Error) => {
      failure ??= err;
      source.unpipe(dicer);
      // A part still being read must fail too, so its partial object is cleaned up.
      if (current && !current.readableEnded) current.destroy(err);
      settle();
    };

    dicer.on('part', (part: Readable) => {
      current = part;
      part.once('header', (raw: Record<string, string[]>) => {
        const headers: Record<string, string> = {};
        for (const [name, values] of Object.entries(raw)) headers[name.toLowerCase()] = values[0] ?? '';
        results.push(onPart({ headers, body: part }));
      });
      // A part that breaks off errors its body stream: `onPart` sees that through its reads.
      part.on('error', () => undefined);
      // A part whose header block never ends (found by the generated-input test) gets no 'header':
      // unread, it would stall the parser and the request forever. Flowing, it just ends. Parts
      // that do get a header are read by `onPart` through their async iterator, whose 'readable'
      // listener takes the stream out of flowing mode before any body byte arrives.
      part.resume();
    });
    dicer.on('error', (err: Error) => fail(new HurenError(400, 'malformed_multipart', `Malformed multipart body: ${err.message}`)));
    dicer.on('finish', settle);
    source.on('error', (err) => fail(err));
    source.on('close', () => {
      if (!source.readableEnded) fail(new HurenError(400, 'client_disconnected', 'The client closed the connection before the request body was complete'));
    });
    source.pipe(dicer);
  });
}

export function newBoundary(): string {
  return `huren-${randomBytes(12).toString('hex')}`;
}

/** Writes one part of a multipart/related response; the caller streams the body after. */
export function writePartHeader(out: Writable, boundary: string, headers: Record<string, string>): void {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}`);
  out.write(`\r\n--${boundary}\r\n${lines.join('\r\n')}\r\n\r\n`);
}

export function writeClosingBoundary(out: Writable, boundary: string): void {
  out.write(`\r\n--${boundary}--\r\n`);
}
