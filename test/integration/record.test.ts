import { createHash } from 'node:crypto';
import { beginUpload, recordInstances, type InstanceToRecord } from '../../core/ingest/record';
import { readPart10Header } from '../../core/dicom/part10-header';
import { uploadObjectKey } from '../../core/storage/keys';
import { makeInstance, randomUid } from '../support/dicom-factory';
import { createTestDb, type TestDb } from '../support/services';

/** recordInstances: one transaction for many instances, and what it does with ones it has seen. */
describe('recordInstances', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb();
  });
  afterAll(() => t.drop());

  let position = 0;
  const item = (uploadId: string, prefix: string, part10: Buffer): InstanceToRecord => {
    const header = readPart10Header(part10);
    if (header === 'incomplete') throw new Error('incomplete');
    return {
      uploadId,
      identity: header,
      written: {
        objectKey: uploadObjectKey(prefix, ++position, header.sopInstanceUid),
        sizeBytes: part10.length,
        sha256: createHash('sha256').update(part10).digest('hex'),
      },
      receivedFrom: null,
    };
  };

  it('creates new instances, and settles repeats within one group: identical → duplicate, different → replaced', async () => {
    const { uploadId, prefix } = await beginUpload(t.db);
    const sop = randomUid();
    const study = randomUid();
    const a = makeInstance({ sopInstanceUid: sop, studyInstanceUid: study, instanceNumber: 1 });
    const b = makeInstance({ sopInstanceUid: sop, studyInstanceUid: study, instanceNumber: 2 });
    const other = makeInstance({ studyInstanceUid: study });
    const items = [item(uploadId, prefix, a), item(uploadId, prefix, other), item(uploadId, prefix, a), item(uploadId, prefix, b)];

    const outcomes = await recordInstances(t.db, items, 'replace');
    expect(outcomes.map((o) => o.kind)).toEqual(['created', 'created', 'duplicate', 'replaced']);
    const row = await t.db('instance').where({ sop_instance_uid: sop }).first();
    expect(row).toMatchObject({ version: 2, object_key: items[3].written.objectKey, status: 'received' });
    expect(await t.db('instance_version').where({ sop_instance_uid: sop }).pluck('object_key')).toEqual([items[0].written.objectKey]);
  });

  it('refuses different bytes under a known SOP Instance UID with the reject policy', async () => {
    const { uploadId, prefix } = await beginUpload(t.db);
    const sop = randomUid();
    const first = item(uploadId, prefix, makeInstance({ sopInstanceUid: sop, instanceNumber: 1 }));
    const second = item(uploadId, prefix, makeInstance({ sopInstanceUid: sop, instanceNumber: 2 }));
    expect(await recordInstances(t.db, [first, second], 'reject')).toEqual([{ kind: 'created', version: 1 }, { kind: 'conflict' }]);
    expect(await t.db('instance').where({ sop_instance_uid: sop }).first('object_key')).toEqual({ object_key: first.written.objectKey });
  });

  it('records the instances of live claims and reports those of a swept claim as expired', async () => {
    const live = await beginUpload(t.db);
    const swept = await beginUpload(t.db);
    await t.db('upload').where({ id: swept.uploadId }).delete();
    const items = [item(swept.uploadId, swept.prefix, makeInstance()), item(live.uploadId, live.prefix, makeInstance())];
    const outcomes = await recordInstances(t.db, items, 'replace');
    expect(outcomes.map((o) => o.kind)).toEqual(['expired', 'created']);
    expect(await t.db('instance').where({ sop_instance_uid: items[0].identity.sopInstanceUid })).toHaveLength(0);
  });

  it('keeps exactly one row when concurrent groups record the same instances in different orders', async () => {
    const parts = Array.from({ length: 30 }, () => makeInstance());
    const groups = await Promise.all(
      Array.from({ length: 6 }, async (_, g) => {
        const { uploadId, prefix } = await beginUpload(t.db);
        const ordered = g % 2 ? [...parts].reverse() : parts;
        return recordInstances(
          t.db,
          ordered.map((p) => item(uploadId, prefix, p)),
          'replace',
        );
      }),
    );
    const kinds = groups.flat().map((o) => o.kind);
    expect(kinds.filter((k) => k === 'created')).toHaveLength(30);
    expect(kinds.filter((k) => k === 'duplicate')).toHaveLength(150);
  });
});
