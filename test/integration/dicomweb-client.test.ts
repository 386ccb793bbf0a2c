// dicomweb-client is a browser library built on XMLHttpRequest; xhr2 provides it in Node.
import XMLHttpRequest from 'xhr2';
import { api } from 'dicomweb-client';
import { makeInstance, randomUid } from '../support/dicom-factory';
import { startTestGateway, type TestGateway } from '../support/gateway';

(globalThis as unknown as { XMLHttpRequest: unknown }).XMLHttpRequest = XMLHttpRequest;

type Json = Array<Record<string, { Value: unknown[] }>>;
/** The calls used here, typed as documented (the package's generated typings mark optional options as required). */
interface Client {
  storeInstances(o: { datasets: ArrayBuffer[] }): Promise<unknown>;
  searchForStudies(o: { queryParams: Record<string, string> }): Promise<Json>;
  searchForInstances(o: { studyInstanceUID: string; seriesInstanceUID: string }): Promise<Json>;
  retrieveSeriesMetadata(o: { studyInstanceUID: string; seriesInstanceUID: string }): Promise<Json>;
  retrieveInstance(o: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string }): Promise<ArrayBuffer>;
  retrieveInstanceFrames(o: { studyInstanceUID: string; seriesInstanceUID: string; sopInstanceUID: string; frameNumbers: number[] }): Promise<ArrayBuffer[]>;
}

/** huren driven by a real, widely used DICOMweb client (the one OHIF's ecosystem uses). */
describe('with dicomweb-client', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(() => gw.close());

  it('stores, searches, and retrieves instances and metadata', async () => {
    const client = new api.DICOMwebClient({ url: gw.dicomweb, singlepart: false, headers: gw.auth }) as unknown as Client;
    const study = randomUid();
    const series = randomUid();
    const instances = [1, 2].map((n) =>
      makeInstance({ studyInstanceUid: study, seriesInstanceUid: series, instanceNumber: n, patientId: 'DWC-1', modality: 'MR' }),
    );
    const toArrayBuffer = (b: Buffer) => Uint8Array.from(b).buffer;

    await client.storeInstances({ datasets: instances.map(toArrayBuffer) });
    await gw.waitForIndexed(study, 2);

    const studies = await client.searchForStudies({ queryParams: { PatientID: 'DWC-1' } });
    expect(studies.map((s) => s['0020000D'].Value[0])).toEqual([study]);

    const found = await client.searchForInstances({ studyInstanceUID: study, seriesInstanceUID: series });
    expect(found).toHaveLength(2);

    const metadata = await client.retrieveSeriesMetadata({ studyInstanceUID: study, seriesInstanceUID: series });
    expect(metadata.map((m) => m['00200013'].Value[0]).sort()).toEqual([1, 2]);

    const sop = String(found[0]['00080018'].Value[0]);
    const retrieved = await client.retrieveInstance({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop });
    const original = instances.find((b) => b.includes(Buffer.from(sop)))!;
    expect(Buffer.compare(Buffer.from(retrieved), original)).toBe(0);

    const frames = await client.retrieveInstanceFrames({ studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop, frameNumbers: [1] });
    expect(frames).toHaveLength(1);
    expect(frames[0].byteLength).toBe(64 * 64 * 2);
  });
});
