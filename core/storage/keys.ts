import { isUid } from '../dicom/uid';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SAFE_CHARS = /^[A-Za-z0-9._/-]+$/;
/** S3's limit on key length; also keeps file paths well inside PATH_MAX. */
const MAX_KEY_LENGTH = 1024;

/**
 * The key prefix of the objects of one upload (one STOW-RS request): the upload's claim row
 * covers everything under it, so one row guards a whole request's writes (core/ingest/record.ts).
 * Dated (UTC) so operators can find and tier objects by arrival, as dcm4chee's default layout does.
 */
export function uploadPrefix(uploadId: string, at: Date): string {
  if (!UUID.test(uploadId)) throw new Error(`Cannot build an object key: upload id ${JSON.stringify(uploadId)} is not a lowercase UUID`);
  const day = at.toISOString().slice(0, 10).replaceAll('-', '/');
  return `objects/${day}/${uploadId}/`;
}

/**
 * One instance of an upload. Its position in the request keeps keys unique when a request
 * repeats an instance; the SOP Instance UID tells an operator which instance a file holds.
 * Keys are never reused, so a replacement never overwrites an object a reader may be streaming.
 */
export function uploadObjectKey(prefix: string, position: number, sopInstanceUid: string): string {
  if (!isUid(sopInstanceUid)) throw new Error(`Cannot build an object key: SOPInstanceUID ${JSON.stringify(sopInstanceUid)} is not a valid DICOM UID`);
  if (!Number.isSafeInteger(position) || position < 1) throw new Error(`Cannot build an object key: position ${position} is not a positive integer`);
  return `${prefix}${position}-${sopInstanceUid}.dcm`;
}

const UPLOAD_OBJECT = /\/[1-9][0-9]*-([0-9.]+)\.dcm$/;

/** The SOP Instance UID in a key made by `uploadObjectKey`; undefined for any other key. */
export function sopInstanceUidOfKey(key: string): string | undefined {
  const uid = UPLOAD_OBJECT.exec(key)?.[1];
  return uid !== undefined && isUid(uid) ? uid : undefined;
}

/**
 * Drivers call this on every key before touching storage: keys become file paths in the
 * fs driver, so anything that could escape the root or alias another key is refused.
 * Segments may not start with '.', which rules out '.', '..' and the fs driver's
 * hidden `.name.random.part` temp files.
 */
export function assertSafeKey(key: string): void {
  const reject = (why: string): never => {
    throw new Error(`Unsafe object key ${JSON.stringify(key)}: ${why}`);
  };
  if (typeof key !== 'string' || key.length === 0) reject('empty');
  if (key.length > MAX_KEY_LENGTH) reject(`longer than ${MAX_KEY_LENGTH} characters`);
  if (!SAFE_CHARS.test(key)) reject('only A-Z a-z 0-9 . _ / - are allowed');
  if (key.startsWith('/')) reject('absolute');
  for (const segment of key.split('/')) {
    if (segment === '') reject('empty path segment');
    if (segment.startsWith('.')) reject('path segment starts with "."');
  }
}
