/**
 * POST /recognition/reminders latency for a patient with 50 prior studies (npm run bench:reminders).
 *
 * Goal (issue §6): 200 ms p95. One patient, known by national ID at 5 sending institutions
 * (4 of 新疆, 1 of 浙江 whose studies are mapped under 浙江's catalog and match through the
 * crosswalk), has 50 studies over the last 60 days (so some are past the 30-day window), mapped
 * to 5 items, with quality and reports; other patients' studies fill the index around them.
 * Everything is loaded through the database as the index worker writes it (makeInstance →
 * readInstance → upsertIndexedInstance), then the classification rows directly. Then 500
 * sequential reminders (2 ordered items each) from a 新疆 receiver, each one evaluated and
 * recorded (reminder, reminder_prior, reminder_shown event) as in production.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { getCatalog } from '../../catalogs';
import { instanceBulkDataPath } from '../../core/dicom/bulkdata';
import { readInstance } from '../../core/dicom/read-instance';
import { upsertIndexedInstance } from '../../core/index-store/upsert';
import { WITHOUT_NATIONAL_IDS } from '../../core/recognition/at-index';
import { Institution } from '../../core/recognition/institution-schema';
import { upsertInstitution } from '../../core/recognition/institutions';
import { linkNationalId } from '../../core/recognition/patient-identity';
import { decodeKeys } from '../../core/recognition/patient-keys';
import { shanghaiDate } from '../../core/recognition/reminders';
import { uploadObjectKey, uploadPrefix } from '../../core/storage/keys';
import { makeInstance, randomUid } from '../../test/support/dicom-factory';
import { cpuShares, cpuSnapshot, envNumber, fmt, loggedSummary, percentile, progress, runCli, say, startStack, type BenchResult, type Stack } from './lib';

const PRIORS = envNumber('BENCH_REMINDER_PRIORS', 50);
const BACKGROUND = envNumber('BENCH_REMINDER_BACKGROUND', 2000);
const REQUESTS = envNumber('BENCH_REMINDER_REQUESTS', 500);
const WARMUP = 30;
const NATIONAL_ID = '11010519491231002X';
const DAY_MS = 86_400_000;
const ORDERED = ['XJHRYX-CT0603', 'XJHRYX-DR0528'];

/** [新疆 item, 浙江 equivalent, modality]: chest CT, chest DR, head CT, head MR, cervical spine DR. */
const ITEMS: Array<[string, string, 'CT' | 'DX' | 'MR']> = [
  ['XJHRYX-CT0603', 'BW23ZYZZZ-00', 'CT'],
  ['XJHRYX-DR0528', 'BW03ZZZ8B-00', 'DX'],
  ['XJHRYX-CT0123', 'B020ZYZZZ-00', 'CT'],
  ['XJHRYX-MR0118', 'B030ZYZZZ-00', 'MR'],
  ['XJHRYX-DR0208', 'BR00ZZZ8B-00', 'DX'],
];

const xj = (modality: 'DR' | 'CT' | 'MR') => ({ catalogId: 'xinjiang' as const, modality, validFrom: '2024-01-01' });
const SENDERS = [
  { code: 'BENCH-XJ-1', name: '新疆第一医院', region: 'XJ', level: 'L3A', issuer: 'BENCH_XJ_1' },
  { code: 'BENCH-XJ-2', name: '新疆第二医院', region: 'XJ', level: 'L3A', issuer: 'BENCH_XJ_2' },
  { code: 'BENCH-XJ-3', name: '新疆第三医院', region: 'XJ', level: 'L2A', issuer: 'BENCH_XJ_3' },
  { code: 'BENCH-XJ-4', name: '新疆第四医院', region: 'XJ', level: 'L2B', issuer: 'BENCH_XJ_4' },
  { code: 'BENCH-ZJ-1', name: '浙江第一医院', region: 'ZJ', level: 'L3A', issuer: 'BENCH_ZJ_1' },
] as const;
const RECEIVER = 'BENCH-XJ-R';

interface Loaded {
  row: { sop_instance_uid: string; study_instance_uid: string; series_instance_uid: string; version: number };
  insert: Record<string, unknown>;
  parsed: Parameters<typeof upsertIndexedInstance>[2];
}

function instance(opts: { study: string; patientId: string; issuer: string; studyDate: string; modality: string; accession: string }): Loaded {
  const series = randomUid();
  const sop = randomUid();
  const bytes = makeInstance({
    studyInstanceUid: opts.study,
    seriesInstanceUid: series,
    sopInstanceUid: sop,
    patientId: opts.patientId,
    modality: opts.modality,
    studyDate: opts.studyDate,
    rows: 16,
    columns: 16,
    extra: { IssuerOfPatientID: opts.issuer, AccessionNumber: opts.accession, StudyTime: '093000', PatientSex: 'F', PatientBirthDate: '19491231' },
  });
  const bulkdata: Record<string, [number, number]> = {};
  const read = readInstance(bytes, {
    bulkDataUri: (tagPath, location) => {
      if (location.offset !== null) bulkdata[tagPath] = [location.offset, location.length];
      return instanceBulkDataPath(opts.study, series, sop, tagPath);
    },
  });
  const row = { sop_instance_uid: sop, study_instance_uid: opts.study, series_instance_uid: series, version: 1 };
  return {
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
  };
}

async function index(stack: Stack, batch: Loaded[]): Promise<void> {
  await stack.db.transaction(async (trx) => {
    await trx('instance').insert(batch.map((x) => x.insert));
    for (const x of batch) await upsertIndexedInstance(trx, x.row, x.parsed, WITHOUT_NATIONAL_IDS);
  });
}

async function load(stack: Stack, keys: ReturnType<typeof decodeKeys>): Promise<{ seconds: number; recent: number }> {
  const t0 = performance.now();
  const db = stack.db;
  await upsertInstitution(db, Institution.parse({ code: RECEIVER, name: '新疆受理医院', region: 'XJ', level: 'L2A' }));
  for (const s of SENDERS) {
    const accreditations =
      s.region === 'XJ'
        ? [xj('DR'), xj('CT'), xj('MR')]
        : (['DR', 'CT', 'MR'] as const).map((m) => ({ catalogId: 'zhejiang-2021' as const, modality: m, validFrom: '2024-01-01' }));
    await upsertInstitution(db, Institution.parse({ code: s.code, name: s.name, region: s.region, level: s.level, accreditations }));
  }

  // Other patients' studies around the one patient.
  for (let done = 0; done < BACKGROUND; done += 50) {
    const batch = Array.from({ length: Math.min(50, BACKGROUND - done) }, (_, k) => {
      const i = done + k;
      const [, , modality] = ITEMS[i % ITEMS.length];
      return instance({
        study: randomUid(),
        patientId: `BG${i % 700}`,
        issuer: SENDERS[i % SENDERS.length].issuer,
        studyDate: shanghaiDate(new Date(Date.now() - (i % 90) * DAY_MS)).replace(/-/g, ''),
        modality,
        accession: `BG${i}`,
      });
    });
    await index(stack, batch);
    progress(`reminders: loading background ${Math.min(done + 50, BACKGROUND)}/${BACKGROUND} studies`);
  }

  // The patient: 50 studies, one every ~1.2 days over 60 days, round-robin over the senders and items.
  const studies = Array.from({ length: PRIORS }, (_, i) => {
    const sender = SENDERS[i % SENDERS.length];
    const [xjItem, zjItem, modality] = ITEMS[Math.floor(i / SENDERS.length) % ITEMS.length];
    const daysAgo = Math.floor((i * 60) / PRIORS);
    return {
      uid: randomUid(),
      sender,
      daysAgo,
      modality,
      catalogId: sender.region === 'ZJ' ? 'zhejiang-2021' : 'xinjiang',
      item: sender.region === 'ZJ' ? zjItem : xjItem,
    };
  });
  await index(
    stack,
    studies.map((s, i) =>
      instance({
        study: s.uid,
        patientId: `P-${s.sender.code}`,
        issuer: s.sender.issuer,
        studyDate: shanghaiDate(new Date(Date.now() - s.daysAgo * DAY_MS)).replace(/-/g, ''),
        modality: s.modality,
        accession: `ACC${i}`,
      }),
    ),
  );
  for (const s of studies) await db('study').where({ study_instance_uid: s.uid }).update({ sending_institution_code: s.sender.code });
  await db('study_item').insert(
    studies.map((s) => ({
      study_instance_uid: s.uid,
      catalog_id: s.catalogId,
      catalog_version: getCatalog(s.catalogId)!.version,
      item_code: s.item,
      confidence: 1,
    })),
  );
  await db('study_quality').insert(
    studies.map((s, i) => ({ study_instance_uid: s.uid, result: i % 7 === 0 ? 'warn' : 'pass', findings: '[]', item_codes: [s.item], rules_version: 'bench' })),
  );
  await db('study_report').insert(studies.map((s) => ({ study_instance_uid: s.uid, author: '报告医师', signed_at: new Date(), conclusion: '—' })));
  const patients: Array<{ id: string }> = await db('patient').whereIn(
    'patient_id',
    SENDERS.map((s) => `P-${s.code}`),
  );
  await db.transaction(async (trx) => {
    for (const p of patients) await linkNationalId(trx, keys, { patientPk: p.id, nationalId: NATIONAL_ID, source: 'api' });
  });
  await db.raw('ANALYZE');
  return { seconds: (performance.now() - t0) / 1000, recent: studies.filter((s) => s.daysAgo <= 30).length };
}

function post(agent: http.Agent, url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'POST', agent, headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export async function benchReminders(): Promise<BenchResult> {
  const keyEnv = { HUREN_PATIENT_ID_HASH_KEY: randomBytes(32).toString('base64'), HUREN_PATIENT_ID_ENCRYPTION_KEY: randomBytes(32).toString('base64') };
  const stack = await startStack({ name: 'reminders', worker: false, env: keyEnv });
  try {
    say(`reminders: gateway pid ${stack.gateway.pid}; loading ${PRIORS} priors of one patient and ${BACKGROUND} other studies`);
    const loaded = await load(stack, decodeKeys(keyEnv));
    say(`reminders: loaded in ${fmt(loaded.seconds)} s`);

    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const body = JSON.stringify({
      receivingInstitution: RECEIVER,
      patient: { nationalId: NATIONAL_ID },
      orderedItemCodes: ORDERED,
      orderingDoctor: '基准医生',
    });
    const url = `${stack.baseUrl}/recognition/reminders`;
    let priorsShown = 0;
    const one = async () => {
      const start = performance.now();
      const res = await post(agent, url, body);
      const ms = performance.now() - start;
      if (res.status !== 201) throw new Error(`reminder answered ${res.status}: ${res.body.slice(0, 300)}`);
      const answer = JSON.parse(res.body) as { items: Array<{ priors: unknown[] }> };
      return { ms, priors: answer.items.reduce((n, i) => n + i.priors.length, 0) };
    };
    for (let i = 0; i < WARMUP; i++) await one();
    const latencies: number[] = [];
    const cpu0 = await cpuSnapshot(stack);
    const t0 = performance.now();
    for (let i = 0; i < REQUESTS; i++) {
      const { ms, priors } = await one();
      latencies.push(ms);
      priorsShown = priors;
      if ((i + 1) % 25 === 0) progress(`reminders: ${i + 1}/${REQUESTS}, p95 ${fmt(percentile(latencies, 95))} ms`);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuShares(cpu0, await cpuSnapshot(stack), seconds);
    agent.destroy();
    const [{ n: recorded }] = await stack.db('reminder').count({ n: '*' });
    const [p50, p95, p99] = [50, 95, 99].map((p) => percentile(latencies, p));
    say(`reminders: p50 ${fmt(p50)} ms, p95 ${fmt(p95)} ms, p99 ${fmt(p99)} ms`);
    return {
      title: 'HIS reminder latency, a patient with 50 prior studies',
      setup: [
        `One patient (national ID) with ${PRIORS} studies at 5 sending institutions (4 新疆, 1 浙江 mapped under 浙江's catalog), dated over the last 60 days (${loaded.recent} within 30 days), mapped to 5 items, with quality rows and reports; ${BACKGROUND} studies of other patients around them.`,
        `Loaded through the database (makeInstance → readInstance → upsertIndexedInstance; classification, quality and report rows directly) in ${fmt(loaded.seconds)} s, then ANALYZE.`,
        `${REQUESTS} sequential \`POST /recognition/reminders\` (2 ordered items: ${ORDERED.join(', ')}) after ${WARMUP} warm-up requests, one keep-alive connection, latency at the client (loopback). Each evaluates 2 × ${PRIORS} (item, study) pairs and records the reminder, its priors and a reminder_shown event.`,
      ],
      tables: [
        {
          title: '',
          columns: ['requests', 'p50 (ms)', 'p95 (ms)', 'p99 (ms)', 'max (ms)', 'requests/s', 'priors per answer', 'reminders recorded'],
          rows: [[REQUESTS, fmt(p50), fmt(p95), fmt(p99), fmt(Math.max(...latencies)), fmt(REQUESTS / seconds, 0), priorsShown, Number(recorded)]],
        },
      ],
      notes: [`CPU (% of one core): ${cpu}.`, `${loggedSummary(stack)}.`],
    };
  } finally {
    await stack.close();
  }
}

if (require.main === module) runCli(benchReminders);
