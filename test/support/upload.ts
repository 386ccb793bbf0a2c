import { Readable } from 'node:stream';
import type { Db } from '../../core/db';
import { createInstanceRecorder } from '../../core/ingest/recorder';
import { UploadSession, type StoreOutcome, type UploadSessionDeps } from '../../core/ingest/upload-session';
import type { ObjectStore } from '../../core/storage/object-store';

/** Session deps as the STOW handler builds them, with no index queue behind `onReceived`. */
export function uploadDeps(db: Db, store: ObjectStore, over: Partial<UploadSessionDeps> = {}): UploadSessionDeps {
  return { db, store, recorder: createInstanceRecorder(db, 'replace'), maxInstanceBytes: 1e9, onReceived: async () => undefined, ...over };
}

/** What STOW-RS does with the parts of one request, without HTTP: one session, each part received, then finished. */
export async function storeParts(deps: UploadSessionDeps, parts: Buffer[]): Promise<StoreOutcome[]> {
  const session = new UploadSession(deps);
  try {
    return await Promise.all(parts.map((part) => session.receive(Readable.from([part]))));
  } finally {
    await session.finish();
  }
}
