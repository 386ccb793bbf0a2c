import express from 'express';
import request from 'supertest';
import { loadConfig } from '../../../core/config';
import { createLogger } from '../../../core/logger';
import { WITHOUT_NATIONAL_IDS } from '../../../core/recognition/at-index';
import { upsertIndexedInstance } from '../../../core/index-store/upsert';
import type { GatewayDeps } from '../../../gateway/deps';
import { qidoRoutes } from '../../../gateway/dicomweb/qido';
import { buildQidoSql, parseQidoQuery } from '../../../gateway/dicomweb/qido-query';
import { problemHandler } from '../../../gateway/middleware/problem';
import type { Db } from '../../../core/db';
import { createTestDb, type TestDb } from '../../support/services';
import { asPlatformViewer } from '../../support/principals';

// dcmjs ships no type declarations; its dictionary turns keywords into DICOM JSON tags and VRs.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nameMap = require('dcmjs').data.DicomMetaDictionary.nameMap as Record<string, { tag: string; vr: string }>;

type Dataset = Record<string, unknown>;
type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

/** A naturalized dataset (as dcmjs gives the index worker) → its DICOM JSON. */
function dicomJsonOf(ds: Dataset): DicomJson {
  const out: DicomJson = {};
  for (const [keyword, value] of Object.entries(ds)) {
    const { tag, vr } = nameMap[keyword];
    out[tag.replace(/[(),]/g, '')] = { vr, Value: Array.isArray(value) ? value : [value] };
  }
  return out;
}

const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';
const SR_DOC = '1.2.840.10008.5.1.4.1.1.88.22';

/** Stores an instance as STOW records it, then indexes it through the real write path. */
async function seed(db: Db, ds: Dataset, opts: { indexed?: boolean } = {}): Promise<void> {
  const row = {
    sop_instance_uid: ds.SOPInstanceUID as string,
    study_instance_uid: ds.StudyInstanceUID as string,
    series_instance_uid: ds.SeriesInstanceUID as string,
    version: 1,
  };
  await db('instance').insert({
    ...row,
    sop_class_uid: ds.SOPClassUID,
    transfer_syntax_uid: '1.2.840.10008.1.2.1',
    status: 'received',
    object_key: `test/${row.sop_instance_uid}`,
    size_bytes: 1024,
    sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  });
  if (opts.indexed === false) return;
  await db.transaction((trx) => upsertIndexedInstance(trx, row, { dicomJson: dicomJsonOf(ds), naturalized: ds, frames: null }, WITHOUT_NATIONAL_IDS));
}

const S1 = '1.2.840.99.1';
const S2 = '1.2.840.99.2';
const S3 = '1.2.840.99.3';
const S4 = '1.2.840.99.4';
const S5 = '1.2.840.99.5';
const SE1 = `${S1}.1`;
const SE2 = `${S1}.2`;

interface StudyOpts {
  study: string;
  patientId: string;
  name: { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
  date?: string;
  time?: string;
  accession?: string;
  description?: string;
}
interface InstanceOpts {
  series: string;
  sop: string;
  modality: string;
  seriesNumber?: number;
  instanceNumber?: number;
  sopClass?: string;
  seriesDescription?: string;
}

const instance = (s: StudyOpts, i: InstanceOpts): Dataset => ({
  SpecificCharacterSet: 'GB18030',
  SOPClassUID: i.sopClass ?? CT_IMAGE,
  SOPInstanceUID: i.sop,
  StudyInstanceUID: s.study,
  SeriesInstanceUID: i.series,
  PatientID: s.patientId,
  PatientName: [s.name],
  PatientBirthDate: '19800101',
  PatientSex: 'F',
  PatientAge: '044Y',
  ...(s.date && { StudyDate: s.date }),
  ...(s.time && { StudyTime: s.time }),
  ...(s.accession && { AccessionNumber: s.accession }),
  ...(s.description && { StudyDescription: s.description }),
  ReferringPhysicianName: [{ Alphabetic: 'Chen^Yi' }],
  StudyID: '1',
  Modality: i.modality,
  SeriesNumber: i.seriesNumber ?? 1,
  SeriesDate: s.date ?? '20200101',
  ...(i.seriesDescription && { SeriesDescription: i.seriesDescription }),
  InstanceNumber: i.instanceNumber ?? 1,
  Rows: 512,
  Columns: 512,
  BitsAllocated: 16,
  NumberOfFrames: 1,
  ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
});

const study1: StudyOpts = {
  study: S1,
  patientId: 'P001',
  name: { Alphabetic: 'Li^Lei' },
  date: '20240105',
  time: '083000',
  accession: 'ACC001',
  description: 'CT CHEST',
};
const study2: StudyOpts = {
  study: S2,
  patientId: 'P002',
  name: { Alphabetic: 'Zhang^San', Ideographic: '张^三' },
  date: '20240120',
  time: '141500',
  accession: 'ACC002',
  description: 'MR Brain',
};
// Sent in GB18030 with the Chinese name in the Alphabetic group, as many Chinese modalities do.
const study3: StudyOpts = { study: S3, patientId: 'P003', name: { Alphabetic: '王^丽' }, date: '20240215', accession: 'X-3', description: 'Chest PA' };
const study4: StudyOpts = { study: S4, patientId: 'P001', name: { Alphabetic: 'Li^Lei' }, date: '20231231', accession: 'ACC004' };
const study5: StudyOpts = { study: S5, patientId: 'P005', name: { Alphabetic: 'Ali^Baba' } };
const PAGE_STUDIES = Array.from({ length: 12 }, (_, i) => `1.2.840.99.100.${i + 1}`);

describe('QIDO-RS against PostgreSQL', () => {
  let t: TestDb;
  let app: express.Express;
  let publicApp: express.Express;

  const appFor = (env: Record<string, string>) => {
    const deps = { config: loadConfig({ LOG_LEVEL: 'silent', ...env }), db: t.db, logger: createLogger('silent', 'test') } as unknown as GatewayDeps;
    // Mounted without the security middleware: the caller is a platform viewer (sees every study).
    return express().use(asPlatformViewer).use('/dicomweb', qidoRoutes(deps)).use(problemHandler);
  };
  const get = (path: string) => request(app).get(`/dicomweb${path}`);
  const uids = (body: DicomJson[], tag = '0020000D') => body.map((r) => r[tag].Value![0] as string);

  beforeAll(async () => {
    t = await createTestDb();
    app = appFor({});
    publicApp = appFor({ HUREN_PUBLIC_URL: 'https://pacs.example.org/huren/' });
    await seed(t.db, instance(study1, { series: SE1, sop: `${SE1}.1`, modality: 'CT', seriesNumber: 1, instanceNumber: 2, seriesDescription: 'Axial 5mm' }));
    await seed(t.db, instance(study1, { series: SE1, sop: `${SE1}.2`, modality: 'CT', seriesNumber: 1, instanceNumber: 1, seriesDescription: 'Axial 5mm' }));
    await seed(t.db, instance(study1, { series: SE2, sop: `${SE2}.1`, modality: 'SR', seriesNumber: 2, sopClass: SR_DOC }));
    // Stored but not yet indexed: invisible to search.
    await seed(t.db, instance(study1, { series: SE1, sop: `${SE1}.3`, modality: 'CT', instanceNumber: 3 }), { indexed: false });
    await seed(t.db, instance(study2, { series: `${S2}.1`, sop: `${S2}.1.1`, modality: 'MR' }));
    await seed(t.db, instance(study3, { series: `${S3}.1`, sop: `${S3}.1.1`, modality: 'DX' }));
    await seed(t.db, instance(study4, { series: `${S4}.1`, sop: `${S4}.1.1`, modality: 'CT' }));
    await seed(t.db, instance(study5, { series: `${S5}.1`, sop: `${S5}.1.1`, modality: 'DX' }));
    for (const [i, uid] of PAGE_STUDIES.entries()) {
      // Same date, no time: the order falls back on the UID, which must keep pages stable.
      const s: StudyOpts = { study: uid, patientId: 'PAGEPAT', name: { Alphabetic: 'Page^Test' }, date: '20220101' };
      await seed(t.db, instance(s, { series: `${uid}.1`, sop: `${uid}.1.${i}`, modality: 'CR' }));
    }
  });
  afterAll(() => t.drop());

  describe('SearchForStudies', () => {
    it('returns every study, newest first, undated last, with the default attributes', async () => {
      const res = await get('/studies?limit=1000').expect(200);
      expect(res.headers['content-type']).toMatch(/^application\/dicom\+json/);
      expect(res.headers.warning).toBeUndefined();
      expect(uids(res.body)).toEqual([S3, S2, S1, S4, ...[...PAGE_STUDIES].sort(), S5]);
      const s1 = res.body.find((r: DicomJson) => r['0020000D'].Value![0] === S1);
      expect(s1).toEqual({
        '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
        '00080020': { vr: 'DA', Value: ['20240105'] },
        '00080030': { vr: 'TM', Value: ['083000'] },
        '00080050': { vr: 'SH', Value: ['ACC001'] },
        '00080056': { vr: 'CS', Value: ['ONLINE'] },
        '00080061': { vr: 'CS', Value: ['CT', 'SR'] },
        '00080090': { vr: 'PN', Value: [{ Alphabetic: 'Chen^Yi' }] },
        '00080201': { vr: 'SH' },
        '00081190': { vr: 'UR', Value: [expect.stringMatching(new RegExp(`^http://127\\.0\\.0\\.1:\\d+/dicomweb/studies/${S1}$`))] },
        '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Li^Lei' }] },
        '00100020': { vr: 'LO', Value: ['P001'] },
        '00100030': { vr: 'DA', Value: ['19800101'] },
        '00100040': { vr: 'CS', Value: ['F'] },
        '0020000D': { vr: 'UI', Value: [S1] },
        '00200010': { vr: 'SH', Value: ['1'] },
        '00201206': { vr: 'IS', Value: [2] },
        '00201208': { vr: 'IS', Value: [3] },
        // huren's recognition block (gateway/dicomweb/qido-recognition.ts): not classified here.
        '00110010': { vr: 'LO', Value: ['HUREN RECOGNITION 1'] },
        '00111010': { vr: 'LO' },
        '00111013': { vr: 'CS' },
        '00111014': { vr: 'UR', Value: [expect.stringMatching(new RegExp(`/recognition/studies/${S1}/classification$`))] },
      });
    });

    it('builds RetrieveURL from HUREN_PUBLIC_URL when set', async () => {
      const res = await request(publicApp).get(`/dicomweb/studies?StudyInstanceUID=${S2}`).expect(200);
      expect(res.body[0]['00081190'].Value).toEqual([`https://pacs.example.org/huren/dicomweb/studies/${S2}`]);
    });

    it('matches PatientID exactly (by keyword or tag) and with wildcards', async () => {
      expect(uids((await get('/studies?PatientID=P001').expect(200)).body)).toEqual([S1, S4]);
      expect(uids((await get('/studies?00100020=P001').expect(200)).body)).toEqual([S1, S4]);
      expect(uids((await get('/studies?PatientID=p001').expect(200)).body)).toEqual([]);
      expect(uids((await get('/studies?PatientID=*00?').expect(200)).body)).toEqual([S3, S2, S1, S4, S5]);
    });

    it('matches PatientName *x* in any group, case-insensitively', async () => {
      expect(uids((await get('/studies?PatientName=*li*').expect(200)).body)).toEqual([S1, S4, S5]);
      expect(uids((await get('/studies?PatientName=LI%5ELEI').expect(200)).body)).toEqual([S1, S4]);
      expect(uids((await get('/studies?PatientName=zhang*').expect(200)).body)).toEqual([S2]);
    });

    it('matches Chinese names in the Ideographic group and in the Alphabetic group', async () => {
      expect(uids((await get(`/studies?PatientName=${encodeURIComponent('张*')}`).expect(200)).body)).toEqual([S2]);
      expect(uids((await get(`/studies?PatientName=${encodeURIComponent('张^三')}`).expect(200)).body)).toEqual([S2]);
      expect(uids((await get(`/studies?PatientName=${encodeURIComponent('王^丽')}`).expect(200)).body)).toEqual([S3]);
      expect(uids((await get(`/studies?PatientName=${encodeURIComponent('*丽*')}`).expect(200)).body)).toEqual([S3]);
      const res = await get(`/studies?PatientName=${encodeURIComponent('*三')}`).expect(200);
      expect(res.body[0]['00100010']).toEqual({ vr: 'PN', Value: [{ Alphabetic: 'Zhang^San', Ideographic: '张^三' }] });
    });

    it('fuzzymatching=true ignores separators and matches name starts', async () => {
      expect(uids((await get('/studies?PatientName=zhangsan&fuzzymatching=true').expect(200)).body)).toEqual([S2]);
      expect(uids((await get(`/studies?PatientName=${encodeURIComponent('张三')}&fuzzymatching=true`).expect(200)).body)).toEqual([S2]);
      expect(uids((await get(`/studies?PatientName=${encodeURIComponent('张三')}&fuzzymatching=false`).expect(200)).body)).toEqual([]);
    });

    it('matches StudyDate single values and ranges', async () => {
      expect(uids((await get('/studies?StudyDate=20240120').expect(200)).body)).toEqual([S2]);
      expect(uids((await get('/studies?StudyDate=20240101-20240131').expect(200)).body)).toEqual([S2, S1]);
      expect(uids((await get('/studies?StudyDate=20240201-').expect(200)).body)).toEqual([S3]);
      expect(uids((await get('/studies?StudyDate=-20231231&PatientID=P001').expect(200)).body)).toEqual([S4]);
    });

    it('matches StudyTime ranges and other study keys', async () => {
      expect(uids((await get('/studies?StudyTime=08-1200').expect(200)).body)).toEqual([S1]);
      expect(uids((await get('/studies?AccessionNumber=ACC002').expect(200)).body)).toEqual([S2]);
      expect(uids((await get('/studies?StudyDescription=*chest*').expect(200)).body)).toEqual([S3, S1]);
      expect(uids((await get('/studies?ReferringPhysicianName=chen*&PatientID=P002').expect(200)).body)).toEqual([S2]);
    });

    it('matches ModalitiesInStudy against any modality of the study', async () => {
      expect(uids((await get('/studies?ModalitiesInStudy=CT').expect(200)).body)).toEqual([S1, S4]);
      expect(uids((await get('/studies?ModalitiesInStudy=SR%5CMR').expect(200)).body)).toEqual([S2, S1]);
      expect(uids((await get('/studies?ModalitiesInStudy=S*').expect(200)).body)).toEqual([S1]);
    });

    it('matches UID lists separated by backslash or comma', async () => {
      expect(uids((await get(`/studies?StudyInstanceUID=${S1}%5C${S3}`).expect(200)).body)).toEqual([S3, S1]);
      expect(uids((await get(`/studies?StudyInstanceUID=${S1},${S3}`).expect(200)).body)).toEqual([S3, S1]);
    });

    it('adds includefield attributes, and all stored study attributes for includefield=all', async () => {
      const plain = (await get(`/studies?StudyInstanceUID=${S1}`).expect(200)).body[0];
      expect(plain['00081030']).toBeUndefined();
      expect(plain['00101010']).toBeUndefined();
      const some = (await get(`/studies?StudyInstanceUID=${S1}&includefield=StudyDescription,00101010&includefield=ImageType`).expect(200)).body[0];
      expect(some['00081030']).toEqual({ vr: 'LO', Value: ['CT CHEST'] });
      expect(some['00101010']).toEqual({ vr: 'AS', Value: ['044Y'] });
      expect(some['00080008']).toBeUndefined(); // an instance attribute: not stored at study level
      const all = (await get(`/studies?StudyInstanceUID=${S1}&includefield=all`).expect(200)).body[0];
      expect(all).toMatchObject({ '00081030': { Value: ['CT CHEST'] }, '00101010': { Value: ['044Y'] }, '00080005': { Value: ['ISO_IR 192'] } });
    });

    it('pages with limit/offset without repeats, warning while more remain', async () => {
      const seen: string[] = [];
      const warnings: (string | undefined)[] = [];
      for (let offset = 0; offset < 15; offset += 5) {
        const res = await get(`/studies?PatientID=PAGEPAT&limit=5&offset=${offset}`).expect(200);
        seen.push(...uids(res.body));
        warnings.push(res.headers.warning);
      }
      expect(seen).toEqual([...PAGE_STUDIES].sort());
      expect(new Set(seen).size).toBe(12);
      expect(warnings[0]).toMatch(/^299 http:\/\/127\.0\.0\.1:\d+\/dicomweb: "There are additional results that can be requested"$/);
      expect(warnings[1]).toBeDefined();
      expect(warnings[2]).toBeUndefined();
    });

    it('answers 200 [] when nothing matches', async () => {
      const res = await get('/studies?PatientID=NOBODY').expect(200);
      expect(res.body).toEqual([]);
      expect(res.headers['content-type']).toMatch(/^application\/dicom\+json/);
      expect(res.headers.warning).toBeUndefined();
      expect((await get('/studies?offset=900').expect(200)).body).toEqual([]);
    });
  });

  describe('SearchForSeries', () => {
    it("lists a study's series in series-number order, without patient attributes", async () => {
      const res = await get(`/studies/${S1}/series`).expect(200);
      expect(uids(res.body, '0020000E')).toEqual([SE1, SE2]);
      const [ct, sr] = res.body;
      expect(ct).toMatchObject({
        '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
        '00080060': { vr: 'CS', Value: ['CT'] },
        '0008103E': { vr: 'LO', Value: ['Axial 5mm'] },
        '00081190': { vr: 'UR', Value: [expect.stringMatching(new RegExp(`/dicomweb/studies/${S1}/series/${SE1}$`))] },
        '0020000D': { vr: 'UI', Value: [S1] },
        '00200011': { vr: 'IS', Value: [1] },
        '00201209': { vr: 'IS', Value: [2] },
      });
      expect(sr['00201209'].Value).toEqual([1]);
      expect(ct['00100010']).toBeUndefined();
    });

    it('searches all series, with the study attributes, by study and series keys', async () => {
      const res = await get('/series?PatientID=P001&Modality=CT').expect(200);
      expect(uids(res.body, '0020000E')).toEqual([SE1, `${S4}.1`]);
      expect(res.body[0]).toMatchObject({ '00100010': { Value: [{ Alphabetic: 'Li^Lei' }] }, '00080061': { Value: ['CT', 'SR'] }, '00201208': { Value: [3] } });
      expect(uids((await get('/series?Modality=SR').expect(200)).body, '0020000E')).toEqual([SE2]);
      expect(uids((await get(`/studies/${S1}/series?SeriesNumber=2`).expect(200)).body, '0020000E')).toEqual([SE2]);
      expect(uids((await get(`/studies/${S1}/series?SeriesInstanceUID=${SE1}`).expect(200)).body, '0020000E')).toEqual([SE1]);
    });

    it('answers [] for an unknown study', async () => {
      expect((await get('/studies/1.2.3.4.5/series').expect(200)).body).toEqual([]);
    });
  });

  describe('SearchForInstances', () => {
    it('lists the indexed instances of a series by instance number', async () => {
      const res = await get(`/studies/${S1}/series/${SE1}/instances`).expect(200);
      expect(uids(res.body, '00080018')).toEqual([`${SE1}.2`, `${SE1}.1`]);
      expect(res.body[0]).toMatchObject({
        '00080005': { Value: ['ISO_IR 192'] },
        '00080016': { vr: 'UI', Value: [CT_IMAGE] },
        '00080056': { Value: ['ONLINE'] },
        '00080060': { Value: ['CT'] },
        '00081190': { Value: [expect.stringMatching(new RegExp(`/dicomweb/studies/${S1}/series/${SE1}/instances/${SE1}\\.2$`))] },
        '0020000D': { Value: [S1] },
        '0020000E': { Value: [SE1] },
        '00200013': { vr: 'IS', Value: [1] },
        '00280010': { vr: 'US', Value: [512] },
        '00280008': { vr: 'IS', Value: [1] },
      });
      expect(res.body[0]['00201209']).toBeUndefined();
    });

    it("lists a study's instances with their series attributes", async () => {
      const res = await get(`/studies/${S1}/instances`).expect(200);
      expect(uids(res.body, '00080018')).toEqual([`${SE1}.2`, `${SE1}.1`, `${SE2}.1`]);
      expect(res.body[2]).toMatchObject({ '00080060': { Value: ['SR'] }, '00201209': { Value: [1] } });
      expect(res.body[2]['00100010']).toBeUndefined();
      expect(uids((await get(`/studies/${S1}/instances?Modality=SR`).expect(200)).body, '00080018')).toEqual([`${SE2}.1`]);
    });

    it('searches all instances by any level, returning study and series attributes', async () => {
      const res = await get('/instances?PatientID=P002').expect(200);
      expect(uids(res.body, '00080018')).toEqual([`${S2}.1.1`]);
      expect(res.body[0]).toMatchObject({ '00100010': { Value: [{ Alphabetic: 'Zhang^San', Ideographic: '张^三' }] }, '00080061': { Value: ['MR'] } });
      expect(uids((await get(`/instances?SOPClassUID=${SR_DOC}`).expect(200)).body, '00080018')).toEqual([`${SE2}.1`]);
      expect(uids((await get(`/instances?SOPInstanceUID=${SE1}.3`).expect(200)).body, '00080018')).toEqual([]);
      const all = (await get(`/studies/${S1}/series/${SE1}/instances?InstanceNumber=2&includefield=all`).expect(200)).body;
      expect(all).toHaveLength(1);
      expect(all[0]['00080008']).toEqual({ vr: 'CS', Value: ['ORIGINAL', 'PRIMARY', 'AXIAL'] });
      expect(all[0]['00080005']).toEqual({ vr: 'CS', Value: ['ISO_IR 192'] });
    });
  });

  describe('errors', () => {
    it.each([
      ['/studies?StudyDate=2024-01-01', /StudyDate: "2024-01-01" is not a date/],
      ['/studies?foo=bar', /Unknown query parameter "foo"/],
      ['/studies?limit=-1', /limit: "-1" is not a non-negative integer/],
      ['/studies?offset=abc', /offset: "abc"/],
      ['/studies?StudyInstanceUID=1.2.x', /StudyInstanceUID: "1.2.x" is not a UID/],
      ['/series?SOPInstanceUID=1.2.3', /SOPInstanceUID cannot be used for matching/],
      [`/studies/${S1}/series?PatientID=P001`, /PatientID cannot be used for matching/],
      ['/studies/not-a-uid/series', /Not a valid StudyInstanceUID/],
      [`/studies/${S1}/series/1.2.x/instances`, /Not a valid SeriesInstanceUID/],
      ['/studies?includefield=NotAKeyword', /includefield: "NotAKeyword"/],
    ])('GET %s → 400 problem', async (path, message) => {
      const res = await get(path).expect(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.message).toMatch(message);
    });

    it('answers 406 when the client accepts only XML', async () => {
      await get('/studies').set('Accept', 'multipart/related; type="application/dicom+xml"').expect(406);
      await get('/studies').set('Accept', 'application/dicom+json').expect(200);
      await get('/studies?accept=application/json').set('Accept', 'text/html').expect(200);
    });

    it('warns about unsupported emptyvaluematching', async () => {
      const res = await get('/studies?PatientID=P002&emptyvaluematching=true').expect(200);
      expect(res.headers.warning).toMatch(/^299 .*: "The emptyvaluematching parameter is not supported/);
    });
  });

  describe('OHIF v3 golden requests', () => {
    const ohifStudyFields = 'includefield=00081030%2C00080060%2C00080090%2C00100030';

    it('worklist with a date range', async () => {
      const res = await get(`/studies?limit=101&offset=0&fuzzymatching=false&${ohifStudyFields}&StudyDate=20240101-20240131`).expect(200);
      expect(uids(res.body)).toEqual([S2, S1]);
      expect(res.body[0]['00081030']).toEqual({ vr: 'LO', Value: ['MR Brain'] });
      expect(res.body[0]['00080061']).toEqual({ vr: 'CS', Value: ['MR'] });
      expect(res.body[0]['00201208']).toEqual({ vr: 'IS', Value: [1] });
    });

    it('worklist filters as OHIF sends them with supportsWildcard', async () => {
      const common = `limit=101&offset=0&fuzzymatching=false&${ohifStudyFields}`;
      expect(uids((await get(`/studies?PatientName=*li*&${common}`).expect(200)).body)).toEqual([S1, S4, S5]);
      expect(uids((await get(`/studies?00100020=*P00*&${common}`).expect(200)).body)).toEqual([S3, S2, S1, S4, S5]);
      expect(uids((await get(`/studies?AccessionNumber=*ACC00*&StudyDescription=*brain*&${common}`).expect(200)).body)).toEqual([S2]);
      expect(uids((await get(`/studies?ModalitiesInStudy=CT%2CMR&${common}`).expect(200)).body)).toEqual([S2, S1, S4]);
      expect(uids((await get(`/studies?StudyDate=19700102-20240110&PatientName=*lei*&${common}`).expect(200)).body)).toEqual([S1, S4]);
    });

    it('opening studies by StudyInstanceUIDs (separators turned into backslashes)', async () => {
      expect(uids((await get(`/studies?StudyInstanceUID=${S1}%5C${S2}&limit=101&offset=0&fuzzymatching=false&${ohifStudyFields}`).expect(200)).body)).toEqual([
        S2,
        S1,
      ]);
    });

    it("the study's series for the study browser", async () => {
      const res = await get(`/studies/${S1}/series?includefield=0008103E%2C00080021`).expect(200);
      expect(res.body[0]).toMatchObject({ '0008103E': { Value: ['Axial 5mm'] }, '00080021': { vr: 'DA', Value: ['20240105'] }, '00201209': { Value: [2] } });
    });

    it('one instance of a series for a thumbnail (limit=1)', async () => {
      const res = await get(`/studies/${S1}/series/${SE1}/instances?limit=1`).expect(200);
      expect(uids(res.body, '00080018')).toEqual([`${SE1}.2`]);
      expect(res.headers.warning).toMatch(/There are additional results that can be requested/);
    });
  });

  describe('indexes', () => {
    type PlanNode = { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; Plans?: PlanNode[] };
    const nodes = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(nodes)];

    it.each([
      ['no filter (newest first)', {}, ['study_recent']],
      ['PatientID exact', { PatientID: 'P4242' }, ['study_patient_id_index']],
      ['PatientID *x*', { PatientID: '*4242*' }, ['study_patient_id_trgm']],
      ['StudyDate range', { StudyDate: '20240101-20240131' }, ['study_study_date_study_instance_uid_index', 'study_recent']],
      ['PatientName *x*', { PatientName: '*zhang4242*' }, ['study_patient_name_trgm']],
      ['PatientName fuzzy', { PatientName: 'zhang4242', fuzzymatching: 'true' }, ['study_patient_name_fuzzy_trgm']],
      ['AccessionNumber exact', { AccessionNumber: 'ACC4242' }, ['study_accession_number_index']],
      ['AccessionNumber *x*', { AccessionNumber: '*4242*' }, ['study_accession_number_trgm']],
      ['StudyDescription *x*', { StudyDescription: '*chest*' }, ['study_description_trgm']],
      ['ModalitiesInStudy', { ModalitiesInStudy: 'MG' }, ['study_modalities_gin']],
    ] as [string, Record<string, string>, string[]][])('%s uses an index on study', async (_label, query, indexes) => {
      // Enough rows that the planner prefers the selective index, inside a transaction that is
      // rolled back; seq scans are also disabled so a small table cannot hide a missing index.
      const trx = await t.db.transaction();
      try {
        await trx.raw(`
          INSERT INTO study (study_instance_uid, patient_id, patient_name, study_date, accession_number, study_description, modalities_in_study, attributes)
          SELECT '2.25.' || i, 'P' || i, 'ZHANG' || i || '^SAN=张^三', date '2015-01-01' + (i % 3650), 'ACC' || i,
                 CASE WHEN i % 500 = 0 THEN 'CT CHEST' ELSE 'Study ' || i END,
                 CASE WHEN i % 1000 = 0 THEN ARRAY['MG'] ELSE ARRAY['CT'] END, '{}'::jsonb
          FROM generate_series(1, 20000) AS i`);
        await trx.raw('ANALYZE study');
        await trx.raw('SET LOCAL enable_seqscan = off');
        const sql = buildQidoSql(trx, parseQidoQuery('study', query, { defaultLimit: 101, maxLimit: 1000 })).toSQL();
        const result = await trx.raw(`EXPLAIN (FORMAT JSON) ${sql.sql}`, sql.bindings);
        const plan = nodes(result.rows[0]['QUERY PLAN'][0].Plan as PlanNode);
        expect(plan.filter((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'study')).toEqual([]);
        expect(plan.map((n) => n['Index Name']).filter((name) => name && indexes.includes(name))).not.toEqual([]);
      } finally {
        await trx.rollback();
      }
    });
  });
});
