/**
 * What a PostgreSQL crash leaves behind (`npm run chaos`, postgres-kill9): the index worker
 * commits with synchronous_commit off, so a write acknowledged to it, and its BullMQ job then
 * completed, can be gone after crash recovery, the instance `received` again. No job will run
 * for it (its job id is taken by the completed job): only the reconciliation sweep can index it.
 * This checks that path end to end, with the real worker and sweep.
 */
import { enqueueIndexInstances, indexJobId } from '../../core/jobs/index-instance';
import { makeInstance, randomUid } from '../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../support/gateway';

describe('an index write lost by a PostgreSQL crash', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ env: { HUREN_RECONCILE_INTERVAL_SECONDS: '1', HUREN_RECONCILE_GRACE_SECONDS: '1' } });
  });
  afterAll(() => gw.close());

  it('is indexed again by the sweep although its job completed', async () => {
    const study = randomUid();
    const sop = randomUid();
    const { body, contentType } = multipartBody([makeInstance({ studyInstanceUid: study, sopInstanceUid: sop })]);
    const stored = await gw.fetch(`${gw.dicomweb}/studies`, {
      method: 'POST',
      headers: { 'Content-Type': contentType, Accept: 'application/dicom+json' },
      body,
    });
    expect(stored.status).toBe(200);
    await gw.waitForIndexed(study, 1);
    const job = indexJobId([{ sopInstanceUid: sop, version: 1 }]);
    expect(await gw.core.queues.indexInstance.getJobState(job)).toBe('completed');
    // Enqueueing again is a no-op while the completed job holds the id: a plain re-enqueue cannot help.
    await enqueueIndexInstances(gw.core.queues.indexInstance, [{ sopInstanceUid: sop, version: 1 }], 3);
    expect(await gw.core.queues.indexInstance.getJobState(job)).toBe('completed');

    // The row as crash recovery leaves it when the indexing transaction's commit had not reached the disk.
    await gw.core
      .db('instance')
      .where({ sop_instance_uid: sop })
      .update({ status: 'received', instance_number: null, number_of_frames: null, metadata: null, frames: null, bulkdata: null, indexed_at: null });

    await gw.waitForIndexed(study, 1, 20_000);
    const found = await gw.fetch(`${gw.dicomweb}/studies/${study}/instances`, { headers: { Accept: 'application/dicom+json' } });
    expect(found.status).toBe(200);
    const instances = (await found.json()) as Array<Record<string, { Value?: string[] }>>;
    expect(instances.map((i) => i['00080018']?.Value?.[0])).toEqual([sop]);
  });
});
