import { isUid } from '../dicom/uid';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SAFE_CHARS = /^[A-Za-z0-9._/-]+$/;
/** S3's limit on key length; also keeps file paths well inside PATH_MAX. */
const MAX_KEY_LENGTH = 1024;

/**
 * Where one stored upload of an instance lives. The upload id makes every upload's key
 * unique, so a replacement never overwrites the object a reader may be streaming.
 */
export function instanceObjectKey(studyUid: string, seriesUid: string, sopInstanceUid: string, uploadId: string): string {
  const uids: Array<[string, string]> = [
    ['StudyInstanceUID', studyUid],
    ['SeriesInstanceUID', seriesUid],
    ['SOPInstanceUID', sopInstanceUid],
  ];
  for (const [name, value] of uids) {
    if (!isUid(value)) throw new Error(`Cannot build an object key: ${name} ${JSON.stringify(value)} is not a valid DICOM UID`);
  }
  if (!UUID.test(uploadId)) throw new Error(`Cannot build an object key: upload id ${JSON.stringify(uploadId)} is not a lowercase UUID`);
  return `studies/${studyUid}/series/${seriesUid}/instances/${sopInstanceUid}/${uploadId}.dcm`;
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
