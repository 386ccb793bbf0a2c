/**
 * QIDO-RS latency with 10,000 studies loaded (npm run bench:qido).
 *
 * The index is loaded directly through the database, the way the index worker writes it:
 * each instance is built with makeInstance, parsed with readInstance, recorded as `received`
 * and indexed with upsertIndexedInstance, in transactions of 25 studies, 4 at a time.
 * Then `/studies?PatientID=` and `/studies?StudyDate=<30-day range>&limit=100` (and a
 * PatientName prefix search) are timed over 500 sequential requests and 500 from 4 clients.
 */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { instanceBulkDataPath } from '../../core/dicom/bulkdata';
import { readInstance } from '../../core/dicom/read-instance';
import { upsertIndexedInstance } from '../../core/index-store/upsert';
import { WITHOUT_NATIONAL_IDS } from '../../core/recognition/at-index';
import { uploadObjectKey, uploadPrefix } from '../../core/storage/keys';
import { makeInstance, randomUid } from '../../test/support/dicom-factory';
import {
  authHeaders,
  cpuShares,
  cpuSnapshot,
  envNumber,
  fmt,
  httpGet,
  loggedSummary,
  percentile,
  progress,
  runCli,
  say,
  startStack,
  type BenchResult,
  type Stack,
} from './lib';

const STUDIES = envNumber('BENCH_QIDO_STUDIES', 10_000);
const PATIENTS = envNumber('BENCH_QIDO_PATIENTS', 3_000);
const REQUESTS = envNumber('BENCH_QIDO_REQUESTS', 500);
const BATCH = 25;
const LOADERS = 4;

/** Deterministic pseudo-random numbers (mulberry32), so every run loads the same index. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(20260101);
const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];

const SURNAMES = [
  'WANG',
  'LI',
  'ZHANG',
  'LIU',
  'CHEN',
  'YANG',
  'HUANG',
  'ZHAO',
  'WU',
  'ZHOU',
  'XU',
  'SUN',
  'MA',
  'ZHU',
  'HU',
  'GUO',
  'HE',
  'LIN',
  'LUO',
  'GAO',
];
const HANZI: Record<string, string> = { WANG: '王', LI: '李', ZHANG: '张', LIU: '刘', CHEN: '陈', YANG: '杨', HUANG: '黄', ZHAO: '赵', WU: '吴', ZHOU: '周' };
const GIVEN = [
  'WEI',
  'FANG',
  'NA',
  'MIN',
  'JING',
  'LEI',
  'QIANG',
  'JUN',
  'YAN',
  'TAO',
  'MING',
  'CHAO',
  'XIU YING',
  'GUI YING',
  'XIAO HONG',
  'HAO',
  'YU',
  'TING',
];
const MODALITIES = [
  { modality: 'CT', weight: 0.35, descriptions: ['CT CHEST', 'CT HEAD', 'CT ABDOMEN', 'CTA CORONARY'], bodyPart: 'CHEST' },
  { modality: 'MR', weight: 0.2, descriptions: ['MR BRAIN', 'MR LUMBAR SPINE', 'MR KNEE'], bodyPart: 'BRAIN' },
  { modality: 'CR', weight: 0.2, descriptions: ['CHEST PA', 'KNEE AP/LAT'], bodyPart: 'CHEST' },
  { modality: 'DX', weight: 0.25, descriptions: ['CHEST PA/LAT', 'HAND', 'PELVIS AP'], bodyPart: 'CHEST' },
] as const;
const FIRST_DAY = Date.UTC(2024, 0, 1);
const DAYS = 730;
const dicomDate = (ms: number) => new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');

interface Patient {
  id: string;
  name: string;
  birthDate: string;
  sex: string;
}

function makePatients(): Patient[] {
  return Array.from({ length: PATIENTS }, (_, i) => {
    const surname = pick(SURNAMES);
    const given = pick(GIVEN);
    // A third of the names carry an ideographic group, as Chinese PACS send them.
    const name = HANZI[surname] && random() < 0.33 ? `${surname}^${given}=${HANZI[surname]}^${given.toLowerCase()}` : `${surname}^${given}`;
    return {
      id: `P${String(100000 + i)}`,
      name,
      birthDate: dicomDate(Date.UTC(1940, 0, 1) + random() * 80 * 365 * 86_400_000),
      sex: random() < 0.5 ? 'M' : 'F',
    };
  });
}

/** Every patient gets one study; the rest go to patients with a skew (follow-up examinations). */
function patientOfStudy(i: number): number {
  return i < PATIENTS ? i : Math.floor(PATIENTS * random() ** 2);
}

interface LoadedInstance {
  row: { sop_instance_uid: string; study_instance_uid: string; series_instance_uid: string; version: number };
  insert: Record<string, unknown>;
  parsed: Parameters<typeof upsertIndexedInstance>[2];
}

let accession = 0;

function makeStudy(patient: Patient): LoadedInstance[] {
  let r = random();
  const m = MODALITIES.find((x) => (r -= x.weight) < 0) ?? MODALITIES[0];
  const study = {
    studyInstanceUid: randomUid(),
    patientId: patient.id,
    patientName: patient.name,
    studyDate: dicomDate(FIRST_DAY + Math.floor(random() * DAYS) * 86_400_000),
    studyDescription: pick(m.descriptions),
    modality: m.modality,
    bodyPartExamined: m.bodyPart,
    rows: 16,
    columns: 16,
    extra: {
      PatientBirthDate: patient.birthDate,
      PatientSex: patient.sex,
      AccessionNumber: `A${String(++accession).padStart(8, '0')}`,
      StudyTime: `${String(8 + Math.floor(random() * 10)).padStart(2, '0')}${String(Math.floor(random() * 60)).padStart(2, '0')}00`,
      InstitutionName: 'HUREN BENCH HOSPITAL',
      ReferringPhysicianName: `${pick(SURNAMES)}^${pick(GIVEN)}`,
    },
  };
  const out: LoadedInstance[] = [];
  const seriesCount = 1 + Math.floor(random() * 2);
  for (let s = 1; s <= seriesCount; s++) {
    const seriesInstanceUid = randomUid();
    const instances = 1 + Math.floor(random() * 2);
    for (let k = 1; k <= instances; k++) {
      const sop = randomUid();
      const bytes = makeInstance({ ...study, seriesInstanceUid, sopInstanceUid: sop, seriesNumber: s, instanceNumber: k });
      // As execIndexInstance reads a stored object.
      const bulkdata: Record<string, [number, number]> = {};
      const read = readInstance(bytes, {
        bulkDataUri: (tagPath, location) => {
          if (location.offset !== null) bulkdata[tagPath] = [location.offset, location.length];
          return instanceBulkDataPath(study.studyInstanceUid, seriesInstanceUid, sop, tagPath);
        },
      });
      const row = { sop_instance_uid: sop, study_instance_uid: study.studyInstanceUid, series_instance_uid: seriesInstanceUid, version: 1 };
      out.push({
        row,
        insert: {
          ...row,
          sop_class_uid: read.header.sopClassUid,
          transfer_syntax_uid: read.header.transferSyntaxUid,
          status: 'received',
          object_key: uploadObjectKey(uploadPrefix(randomUUID(), new Date()), 1, sop),
          size_bytes: bytes.length,
          sha256: createHash('sha256').update(bytes).digest('hex'),
        },
        parsed: { dicomJson: read.dicomJson, naturalized: read.naturalized, frames: read.frames, bulkdata },
      });
    }
  }
  return out;
}

async function load(stack: Stack, patients: Patient[]): Promise<{ seconds: number; instances: number; withStudies: Patient[] }> {
  const byLoader: number[][] = Array.from({ length: LOADERS }, () => []);
  const studiesOf = new Map<number, number>();
  for (let i = 0; i < STUDIES; i++) {
    const p = patientOfStudy(i);
    studiesOf.set(p, (studiesOf.get(p) ?? 0) + 1);
    // A patient's studies all go through one loader: no two transactions lock the same patient row.
    byLoader[p % LOADERS].push(p);
  }
  let studies = 0;
  let instances = 0;
  const t0 = performance.now();
  const loader = async (queue: number[]) => {
    for (let b = 0; b < queue.length; b += BATCH) {
      const batch = queue.slice(b, b + BATCH).map((p) => makeStudy(patients[p]));
      await stack.db.transaction(async (trx) => {
        const all = batch.flat();
        await trx('instance').insert(all.map((x) => x.insert));
        for (const x of all) await upsertIndexedInstance(trx, x.row, x.parsed, WITHOUT_NATIONAL_IDS);
      });
      studies += batch.length;
      instances += batch.reduce((n, s) => n + s.length, 0);
      const s = (performance.now() - t0) / 1000;
      progress(`qido: loading ${studies}/${STUDIES} studies, ${instances} instances, ${fmt(studies / s, 0)} studies/s`);
    }
  };
  await Promise.all(byLoader.map(loader));
  await stack.db.raw('ANALYZE patient, study, series, instance');
  return { seconds: (performance.now() - t0) / 1000, instances, withStudies: [...studiesOf.keys()].map((p) => patients[p]) };
}

interface QueryRun {
  name: string;
  clients: number;
  latencies: number[];
  seconds: number;
  meanResults: number;
  cpu: string;
}

async function timeQueries(stack: Stack, name: string, clients: number, makeQuery: () => string): Promise<QueryRun> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  let results = 0;
  const one = async () => {
    const start = performance.now();
    const res = await httpGet(`${stack.dicomweb}${makeQuery()}`, {
      agent,
      keepBody: true,
      headers: { ...authHeaders(stack), Accept: 'application/dicom+json' },
    });
    const ms = performance.now() - start;
    if (res.status !== 200) throw new Error(`${name} answered ${res.status}: ${res.body?.toString().slice(0, 300)}`);
    return { ms, n: (JSON.parse(res.body!.toString()) as unknown[]).length };
  };
  for (let i = 0; i < 50; i++) await one(); // warm-up
  const cpu0 = await cpuSnapshot(stack);
  const t0 = performance.now();
  let done = 0;
  const client = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const { ms, n } = await one();
      latencies.push(ms);
      results += n;
      if (++done % 25 === 0) progress(`qido: ${name}, ${clients} client(s): ${done}/${REQUESTS}, p50 ${fmt(percentile(latencies, 50))} ms`);
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(Math.floor(REQUESTS / clients) + (c < REQUESTS % clients ? 1 : 0))));
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return { name, clients, latencies, seconds, meanResults: results / latencies.length, cpu: cpuShares(cpu0, await cpuSnapshot(stack), seconds) };
}

export async function benchQido(): Promise<BenchResult> {
  const patients = makePatients();
  const stack = await startStack({ name: 'qido', worker: false });
  try {
    say(`qido: gateway pid ${stack.gateway.pid}; loading ${STUDIES} studies of ${PATIENTS} patients`);
    const loaded = await load(stack, patients);
    say(`qido: loaded ${STUDIES} studies, ${loaded.instances} instances in ${fmt(loaded.seconds)} s`);
    const [{ n: indexedStudies }] = await stack.db('study').count({ n: '*' });
    if (Number(indexedStudies) !== STUDIES) throw new Error(`expected ${STUDIES} studies in the index, found ${indexedStudies}`);

    const queries: Array<[string, () => string]> = [
      ['`/studies?PatientID={id}`', () => `/studies?PatientID=${pick(loaded.withStudies).id}`],
      [
        '`/studies?StudyDate={30 days}&limit=100`',
        () => {
          const from = FIRST_DAY + Math.floor(random() * (DAYS - 30)) * 86_400_000;
          return `/studies?StudyDate=${dicomDate(from)}-${dicomDate(from + 29 * 86_400_000)}&limit=100`;
        },
      ],
      ['`/studies?PatientName={surname}*&limit=100`', () => `/studies?PatientName=${pick(SURNAMES)}*&limit=100`],
    ];
    const runs: QueryRun[] = [];
    for (const [name, make] of queries) {
      for (const clients of [1, 4]) {
        const run = await timeQueries(stack, name, clients, make);
        runs.push(run);
        say(`qido: ${name}, ${clients} client(s): p50 ${fmt(percentile(run.latencies, 50))} ms, p99 ${fmt(percentile(run.latencies, 99))} ms`);
      }
    }
    const [{ count: seriesCount }] = await stack.db('series').count({ count: '*' });
    return {
      title: 'QIDO-RS latency, 10,000 studies',
      setup: [
        `${STUDIES} studies of ${PATIENTS} patients (each has at least one; the rest skewed towards some patients), ${seriesCount} series, ${loaded.instances} instances; StudyDate uniform over 2024–2025; modalities CT 35 %, MR 20 %, CR 20 %, DX 25 %; a third of the names with an ideographic group.`,
        `Loaded through the database as the index worker writes it (makeInstance → readInstance → upsertIndexedInstance, ${BATCH} studies per transaction, ${LOADERS} in parallel) in ${fmt(loaded.seconds)} s (${fmt(STUDIES / loaded.seconds, 0)} studies/s), then ANALYZE.`,
        `Per row: ${REQUESTS} requests after 50 warm-up requests, each with a random existing PatientID / random 30-day window / random surname; keep-alive; latency measured at the client (loopback).`,
        'The StudyDate window holds ≈ 410 studies, so it answers 100 with a `Warning: 299` (more results).',
      ],
      tables: [
        {
          title: '',
          columns: ['query', 'clients', 'p50 (ms)', 'p99 (ms)', 'requests/s', 'studies per answer'],
          rows: runs.map((r) => [
            r.name,
            r.clients,
            fmt(percentile(r.latencies, 50)),
            fmt(percentile(r.latencies, 99)),
            fmt(REQUESTS / r.seconds, 0),
            fmt(r.meanResults),
          ]),
        },
      ],
      notes: [...runs.filter((r) => r.clients === 4).map((r) => `CPU (% of one core) during ${r.name} with 4 clients: ${r.cpu}.`), `${loggedSummary(stack)}.`],
    };
  } finally {
    await stack.close();
  }
}

if (require.main === module) runCli(benchQido);
