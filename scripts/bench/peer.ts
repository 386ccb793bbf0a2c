/**
 * huren next to Orthanc (npm run bench:peer): the same workload against both, in one run.
 *
 * - STOW-RS of generated CT (512×512), MR (256×256) and DR (2000×2500) 16-bit instances at
 *   1, 4 and 16 clients; for huren also time to queryable under that load.
 * - QIDO-RS `/studies` by PatientID and by a StudyDate range with 10,000 and (when loading
 *   both fits BENCH_PEER_LOAD_BUDGET_S) 100,000 studies, loaded through each server's API.
 * - WADO-RS instance and series retrieve (transfer-syntax=*) and series `/metadata`.
 *
 * Orthanc is Debian's orthanc + orthanc-dicomweb (installed when missing), on a free loopback
 * port with its own temp storage and SQLite index (scripts/bench/peer-orthanc.ts); huren is
 * the gateway and one worker as in the other benchmarks (scripts/bench/lib.ts). Prints one
 * table with huren/Orthanc ratios and rewrites its section at the end of docs/benchmarks.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeDataset, makeInstance, randomUid, writePart10, TS } from '../../test/support/dicom-factory';
import { parseMultipartResponse } from '../../test/support/gateway';
import {
  MB,
  MiB,
  ROOT,
  cleanupAll,
  cpuSnapshot,
  describeMachine,
  envNumber,
  fmt,
  httpGet,
  loggedSummary,
  percentile,
  progress,
  renderTable,
  sampleRss,
  say,
  sleep,
  stopRequested,
  unindexed,
  type Table,
} from './lib';
import { ensureOrthanc, orthancVersion, startOrthanc, type Orthanc } from './peer-orthanc';
import { startPeerStack, stowTo, type PeerStack } from './peer-stack';

const STOW_SECONDS = envNumber('BENCH_PEER_STOW_SECONDS', 12);
const STOW_CLIENTS = (process.env.BENCH_PEER_STOW_CLIENTS ?? '1,4,16').split(',').map(Number);
const QIDO_STAGES = (process.env.BENCH_PEER_QIDO_STUDIES ?? '10000,100000').split(',').map(Number);
const QIDO_REQUESTS = envNumber('BENCH_PEER_QIDO_REQUESTS', 300);
const LOAD_BUDGET_S = envNumber('BENCH_PEER_LOAD_BUDGET_S', 900);
const WADO_SECONDS = envNumber('BENCH_PEER_WADO_SECONDS', 8);
const ONLY = (process.env.BENCH_PEER_ONLY ?? 'stow,qido,wado').split(',');
/** STOW shapes to run (CT, MR, DR). */
const SHAPES = (process.env.BENCH_PEER_SHAPES ?? 'CT,MR,DR').split(',');
/** Extra environment for huren's gateway and worker, e.g. "UV_THREADPOOL_SIZE=16,HUREN_WORKER_CONCURRENCY=16" (for experiments). */
const HUREN_ENV = Object.fromEntries(
  (process.env.BENCH_PEER_HUREN_ENV ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

// ───────────────────────────── the two servers ─────────────────────────────

interface Target {
  name: 'huren' | 'Orthanc';
  dicomweb: string;
  /** Sent with every request (huren's API key). */
  headers: Record<string, string>;
  /** Server-side CPU seconds so far (huren: gateway, worker, all of PostgreSQL and Redis). */
  cpu(): Promise<number>;
  /** Processes whose RSS is sampled. */
  pids(): number[];
  /** Small instances through the server's own ingest API (huren STOW-RS; Orthanc REST POST /instances). */
  load(instances: Buffer[], agent: http.Agent): Promise<void>;
  /** Until everything sent is queryable (huren: the index queue drained; Orthanc indexes synchronously). */
  settle(label: string): Promise<number>;
}

function procCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

function hurenTarget(stack: PeerStack): Target {
  return {
    name: 'huren',
    dicomweb: stack.dicomweb,
    headers: stack.auth,
    async cpu() {
      const s = await cpuSnapshot(stack);
      // Its own PostgreSQL backends (by application_name): other users of the server are not counted.
      return s.gateway + s.worker + s['postgres (its backends)'] + s.redis;
    },
    pids: () => [stack.gateway.pid!, stack.worker!.pid!],
    async load(instances, agent) {
      const res = await stowTo(
        stack.dicomweb,
        instances.map((b) => [b]),
        agent,
        stack.auth,
      );
      if (res.status !== 200 || res.referenced !== instances.length) throw new Error(`huren STOW answered ${res.status}: ${res.body}`);
    },
    async settle(label) {
      const t0 = performance.now();
      for (let left = await unindexed(stack); left > 0; left = await unindexed(stack)) {
        progress(`${label}: huren indexing, ${left} instances to go`);
        await sleep(250);
      }
      return (performance.now() - t0) / 1000;
    },
  };
}

function orthancTarget(orthanc: Orthanc): Target {
  return {
    name: 'Orthanc',
    dicomweb: orthanc.dicomweb,
    headers: {},
    cpu: async () => procCpuSeconds(orthanc.pid),
    pids: () => [orthanc.pid],
    async load(instances, agent) {
      for (const body of instances) {
        const status = await new Promise<number>((resolve, reject) => {
          const req = http.request(`${orthanc.baseUrl}/instances`, {
            method: 'POST',
            agent,
            headers: { 'Content-Type': 'application/dicom', 'Content-Length': body.length },
          });
          req.on('response', (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          });
          req.on('error', reject);
          req.end(body);
        });
        if (status !== 200) throw new Error(`Orthanc POST /instances answered ${status}`);
      }
    },
    settle: async () => 0,
  };
}

const stowTarget = (t: Target, instances: Buffer[][], agent: http.Agent) => stowTo(t.dicomweb, instances, agent, t.headers);

// ───────────────────────────── generated images ─────────────────────────────

const PIXEL_TAG_OW = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57, 0, 0]);

/** Single-frame 16-bit images of one modality and size; the pixel buffer is shared (see lib CtSlices). */
class Images {
  private readonly template: Record<string, unknown>;
  private readonly pixels: Buffer;
  private readonly pixelHead: Buffer;
  constructor(
    readonly label: string,
    readonly modality: string,
    readonly rows: number,
    readonly columns: number,
    /** Instances per STOW request (one study). */
    readonly perRequest: number,
  ) {
    const { dataset, frames } = makeDataset({ modality, rows, columns });
    this.template = dataset;
    this.pixels = frames[0];
    this.pixelHead = Buffer.concat([PIXEL_TAG_OW, Buffer.alloc(4)]);
    this.pixelHead.writeUInt32LE(this.pixels.length, 8);
    const ids = { studyInstanceUid: '2.25.1', seriesInstanceUid: '2.25.2', sopInstanceUid: '2.25.3' };
    const mine = Buffer.concat(this.instance({ StudyInstanceUID: '2.25.1', SeriesInstanceUID: '2.25.2', SOPInstanceUID: '2.25.3' }));
    if (!mine.equals(makeInstance({ modality, rows, columns, ...ids }))) throw new Error(`${label}: generated instance differs from makeInstance`);
    // A patched header must be what dcmjs writes for the same values.
    const study = { StudyInstanceUID: randomUid(), SeriesInstanceUID: randomUid(), PatientID: 'CHECK', StudyDate: '20260101' };
    const sops = Array.from({ length: 12 }, () => sameLengthUid());
    const patched = this.patched(study, sops);
    for (const k of [1, 11]) {
      if (!patched[k][0].equals(this.instance({ ...study, SOPInstanceUID: sops[k], InstanceNumber: k + 1 })[0]))
        throw new Error(`${label}: patched header differs`);
    }
  }
  get size(): number {
    return this.instance({ SOPInstanceUID: '2.25.1' }).reduce((n, c) => n + c.length, 0);
  }
  instance(values: Record<string, unknown>): Buffer[] {
    const head = writePart10({ dataset: { ...this.template, ...values }, transferSyntaxUid: TS.explicitLittleEndian });
    return [head, this.pixelHead, this.pixels];
  }
  /**
   * One study: its header written once by dcmjs, then copied per instance with the SOP Instance
   * UID (in the file meta and the data set) and Instance Number patched in place. Writing every
   * header with dcmjs cost the client ≈ 2 ms per instance, a quarter of this machine at 16 clients,
   * taken from whichever server was measured.
   */
  study(tag: string): Buffer[][] {
    const ids = { StudyInstanceUID: randomUid(), SeriesInstanceUID: randomUid(), PatientID: tag, StudyDate: '20260101' };
    return this.patched(
      ids,
      Array.from({ length: this.perRequest }, () => sameLengthUid()),
    );
  }

  private patched(ids: Record<string, unknown>, sops: string[]): Buffer[][] {
    const head = writePart10({ dataset: { ...this.template, ...ids, SOPInstanceUID: sops[0], InstanceNumber: 1 }, transferSyntaxUid: TS.explicitLittleEndian });
    const sopAt = allIndexesOf(head, Buffer.from(sops[0], 'latin1'));
    const numberAt = head.indexOf(INSTANCE_NUMBER_IS_2) + INSTANCE_NUMBER_IS_2.length;
    if (sopAt.length !== 2 || numberAt < INSTANCE_NUMBER_IS_2.length || sops.length > 99) throw new Error(`${this.label}: header cannot be patched`);
    return sops.map((sop, k) => {
      const copy = Buffer.from(head);
      for (const at of sopAt) copy.write(sop, at, 'latin1');
      copy.write(String(k + 1).padEnd(2, ' '), numberAt, 'latin1');
      return [copy, this.pixelHead, this.pixels];
    });
  }
}

/** (0020,0013) Instance Number, IS, 2 bytes long, explicit VR little endian: followed by its value. */
const INSTANCE_NUMBER_IS_2 = Buffer.from([0x20, 0x00, 0x13, 0x00, 0x49, 0x53, 0x02, 0x00]);

/** A 2.25 UID of always 44 characters (38 random digits, the first not 0), so headers can be patched in place. */
function sameLengthUid(): string {
  const digits = BigInt(`0x${randomUUID().replace(/-/g, '')}`)
    .toString()
    .padStart(39, '0')
    .slice(-38);
  return `2.25.1${digits}`;
}

function allIndexesOf(buf: Buffer, needle: Buffer): number[] {
  const found = [];
  for (let at = buf.indexOf(needle); at >= 0; at = buf.indexOf(needle, at + 1)) found.push(at);
  return found;
}

// ───────────────────────────── STOW ─────────────────────────────

interface StowPhase {
  target: string;
  shape: string;
  clients: number;
  instances: number;
  bytes: number;
  seconds: number;
  requestMs: number[];
  ttqMs: number[];
  backlog: number;
  drainSeconds: number;
  lag: { p50: number; p99: number };
  cpuCores: number;
  peakRss: number;
}

async function stowPhase(t: Target, stack: PeerStack, img: Images, clients: number): Promise<StowPhase> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const qidoAgent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const [{ now: dbStart }] = (await stack.db.raw('SELECT now()')).rows;
  const p: StowPhase = {
    target: t.name,
    shape: img.label,
    clients,
    instances: 0,
    bytes: 0,
    seconds: 0,
    requestMs: [],
    ttqMs: [],
    backlog: 0,
    drainSeconds: 0,
    lag: { p50: NaN, p99: NaN },
    cpuCores: 0,
    peakRss: 0,
  };
  const watched = new Set<Promise<void>>();
  const rss = t.pids().map((pid) => sampleRss(pid));
  const cpu0 = await t.cpu();
  const t0 = performance.now();
  const deadline = t0 + STOW_SECONDS * 1000;
  const client = async (n: number) => {
    for (let i = 0; performance.now() < deadline && !stopRequested(); i++) {
      const instances = img.study(`PEER-${clients}-${n}-${i}`);
      const start = performance.now();
      const res = await stowTarget(t, instances, agent);
      const end = performance.now();
      if (res.status !== 200 || res.referenced !== instances.length) throw new Error(`${t.name} STOW answered ${res.status}: ${res.body}`);
      p.instances += instances.length;
      p.bytes += instances.length * img.size;
      p.requestMs.push(end - start);
      // Time to queryable (huren): one instance per request, at most 2 watched at once.
      if (t.name === 'huren' && watched.size < 2) {
        const sop = res.referencedUids[Math.floor(Math.random() * res.referencedUids.length)];
        const w: Promise<void> = (async () => {
          for (;;) {
            const r = await httpGet(`${t.dicomweb}/instances?SOPInstanceUID=${sop}`, { agent: qidoAgent, keepBody: true, headers: t.headers });
            if (r.status === 200 && (JSON.parse(r.body!.toString()) as unknown[]).length === 1) return void p.ttqMs.push(performance.now() - end);
            if (performance.now() - end > 300_000) return;
            await sleep(25);
          }
        })().finally(() => watched.delete(w));
        watched.add(w);
      }
      const s = (performance.now() - t0) / 1000;
      progress(`stow ${t.name} ${img.label} ×${clients}: ${fmt(s)} s, ${fmt(p.instances / s)} inst/s, ${fmt(p.bytes / MB / s)} MB/s`);
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, n) => client(n)));
  p.seconds = (performance.now() - t0) / 1000;
  p.cpuCores = ((await t.cpu()) - cpu0) / p.seconds;
  p.peakRss = rss.map((r) => r.stop().maxSampled).reduce((a, b) => a + b, 0);
  if (t.name === 'huren') {
    p.backlog = await unindexed(stack);
    p.drainSeconds = await t.settle(`stow ${img.label} ×${clients}`);
    await Promise.all(watched);
    const lag = await stack.db.raw(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM indexed_at - received_at)) AS p50,
              percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM indexed_at - received_at)) AS p99
         FROM instance WHERE received_at >= ?`,
      [dbStart],
    );
    p.lag = { p50: Number(lag.rows[0].p50) * 1000, p99: Number(lag.rows[0].p99) * 1000 };
  }
  agent.destroy();
  qidoAgent.destroy();
  return p;
}

// ───────────────────────────── QIDO ─────────────────────────────

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(20261125);
const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)];
const SURNAMES = ['WANG', 'LI', 'ZHANG', 'LIU', 'CHEN', 'YANG', 'HUANG', 'ZHAO', 'WU', 'ZHOU', 'XU', 'SUN', 'MA', 'ZHU', 'HU', 'GUO'];
const GIVEN = ['WEI', 'FANG', 'NA', 'MIN', 'JING', 'LEI', 'QIANG', 'JUN', 'YAN', 'TAO', 'MING', 'CHAO'];
const MODALITIES = [
  ['CT', 'CT CHEST'],
  ['MR', 'MR BRAIN'],
  ['CR', 'CHEST PA'],
  ['DX', 'HAND'],
] as const;
const FIRST_DAY = Date.UTC(2024, 0, 1);
const DAYS = 730;
const dicomDate = (ms: number) => new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');

/** `count` one-instance studies (16×16 pixels, ≈ 1 KB) of count×0.3 patients, the same bytes for both servers. */
function qidoStudies(from: number, count: number, patients: number): Array<{ patientId: string; bytes: Buffer }> {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    // Every patient gets a study first; the rest skew towards some patients (follow-ups).
    const p = i < patients ? i : Math.floor(patients * random() ** 2);
    const patientId = `QP${String(100000 + p)}`;
    const [modality, description] = pick(MODALITIES);
    const bytes = makeInstance({
      modality,
      rows: 16,
      columns: 16,
      patientId,
      patientName: `${SURNAMES[p % SURNAMES.length]}^${GIVEN[p % GIVEN.length]}`,
      studyDate: dicomDate(FIRST_DAY + Math.floor(random() * DAYS) * 86_400_000),
      studyDescription: description,
      extra: { AccessionNumber: `QA${String(i).padStart(8, '0')}`, PatientSex: p % 2 ? 'M' : 'F', PatientBirthDate: '19700101' },
    });
    return { patientId, bytes };
  });
}

/** Loads the studies into one server with `clients` parallel senders; seconds. */
async function loadStudies(t: Target, studies: Buffer[], clients: number, batch: number): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const t0 = performance.now();
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < studies.length && !stopRequested()) {
        const slice = studies.slice(next, next + batch);
        next += batch;
        await t.load(slice, agent);
        done += slice.length;
        const s = (performance.now() - t0) / 1000;
        progress(`qido: loading ${t.name}: ${done}/${studies.length} studies, ${fmt(done / s, 0)}/s`);
      }
    }),
  );
  agent.destroy();
  return (performance.now() - t0) / 1000 + (await t.settle('qido: loading'));
}

interface QidoRun {
  target: string;
  studies: number;
  query: string;
  clients: number;
  latencies: number[];
  seconds: number;
  meanResults: number;
}

async function timeQueries(t: Target, studies: number, query: string, clients: number, make: () => string): Promise<QidoRun> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const latencies: number[] = [];
  let results = 0;
  const one = async () => {
    const start = performance.now();
    const res = await httpGet(`${t.dicomweb}${make()}`, { agent, keepBody: true, headers: { ...t.headers, Accept: 'application/dicom+json' } });
    const ms = performance.now() - start;
    if (res.status !== 200 && res.status !== 204) throw new Error(`${t.name} ${query} answered ${res.status}: ${res.body?.toString().slice(0, 200)}`);
    const body = res.body!.toString();
    return { ms, n: body ? (JSON.parse(body) as unknown[]).length : 0 };
  };
  for (let i = 0; i < 30; i++) await one();
  const t0 = performance.now();
  const client = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const { ms, n } = await one();
      latencies.push(ms);
      results += n;
      progress(`qido ${t.name} ${studies} ${query} ×${clients}: ${latencies.length}/${QIDO_REQUESTS}, p50 ${fmt(percentile(latencies, 50))} ms`);
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, c) => client(Math.floor(QIDO_REQUESTS / clients) + (c < QIDO_REQUESTS % clients ? 1 : 0))));
  agent.destroy();
  return { target: t.name, studies, query, clients, latencies, seconds: (performance.now() - t0) / 1000, meanResults: results / latencies.length };
}

// ───────────────────────────── WADO ─────────────────────────────

const ALL_PARTS = 'multipart/related; type="application/dicom"; transfer-syntax=*';

interface WadoRun {
  target: string;
  what: string;
  clients: number;
  requests: number;
  bytes: number;
  seconds: number;
  latencies: number[];
}

async function timeRetrieves(t: Target, what: string, clients: number, make: () => { path: string; accept: string }): Promise<WadoRun> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const run: WadoRun = { target: t.name, what, clients, requests: 0, bytes: 0, seconds: 0, latencies: [] };
  const t0 = performance.now();
  const deadline = t0 + WADO_SECONDS * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < deadline && !stopRequested()) {
        const { path: p, accept } = make();
        const start = performance.now();
        const res = await httpGet(`${t.dicomweb}${p}`, { agent, headers: { ...t.headers, Accept: accept } });
        if (res.status !== 200) throw new Error(`${t.name} GET ${p} answered ${res.status}`);
        run.latencies.push(performance.now() - start);
        run.requests++;
        run.bytes += res.bytes;
        const s = (performance.now() - t0) / 1000;
        progress(`wado ${t.name} ${what} ×${clients}: ${fmt(run.requests / s, 0)} req/s, ${fmt(run.bytes / MB / s)} MB/s`);
      }
    }),
  );
  run.seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return run;
}

// ───────────────────────────── the run ─────────────────────────────

interface Row {
  what: string;
  unit: string;
  huren: number;
  orthanc: number;
  /** true: bigger is better (throughput); false: smaller is better (latency). */
  higherBetter: boolean;
  goal?: number;
}

async function main(): Promise<void> {
  const started = new Date();
  ensureOrthanc();
  const machine = await describeMachine();
  const stack = await startPeerStack(HUREN_ENV);
  const orthanc = await startOrthanc();
  const targets: Target[] = [hurenTarget(stack), orthancTarget(orthanc)];
  const rows: Row[] = [];
  const details: string[] = [];
  const notes: string[] = [];
  try {
    say(`peer: huren gateway pid ${stack.gateway.pid}, worker pid ${stack.worker!.pid}; ${orthancVersion()} pid ${orthanc.pid} at ${orthanc.baseUrl}`);

    if (ONLY.includes('stow')) {
      const all = [new Images('CT 512×512', 'CT', 512, 512, 20), new Images('MR 256×256', 'MR', 256, 256, 40), new Images('DR 2000×2500', 'DX', 2500, 2000, 2)];
      const shapes = all.filter((img) => SHAPES.includes(img.modality === 'DX' ? 'DR' : img.modality));
      // Warm-up: module loading, JIT, connection pools.
      for (const t of targets) {
        const agent = new http.Agent({ keepAlive: true });
        await stowTarget(t, shapes[0].study('WARMUP'), agent);
        agent.destroy();
      }
      const phases: StowPhase[] = [];
      for (const img of shapes) {
        for (const clients of STOW_CLIENTS) {
          for (const t of targets) {
            const p = await stowPhase(t, stack, img, clients);
            phases.push(p);
            say(
              `stow ${t.name} ${img.label} ×${clients}: ${fmt(p.instances / p.seconds)} inst/s, ${fmt(p.bytes / MB / p.seconds)} MB/s${t.name === 'huren' ? `, time to queryable p50 ${fmt(percentile(p.ttqMs, 50), 0)} ms p99 ${fmt(percentile(p.ttqMs, 99), 0)} ms` : ''}`,
            );
          }
          const [h, o] = phases.slice(-2);
          rows.push({
            what: `STOW ${img.label} (${img.perRequest}/request), ${clients} client(s)`,
            unit: 'instances/s',
            huren: h.instances / h.seconds,
            orthanc: o.instances / o.seconds,
            higherBetter: true,
            goal: 1.5,
          });
        }
      }
      const stowTable: Table = {
        title: 'STOW-RS, per phase',
        columns: [
          'server',
          'images',
          'clients',
          'instances/s',
          'MB/s',
          'request p50 (ms)',
          'request p99 (ms)',
          'server CPU (cores)',
          'server peak RSS (MiB)',
          'huren: not indexed at end / drain (s)',
        ],
        rows: phases.map((p) => [
          p.target,
          p.shape,
          p.clients,
          fmt(p.instances / p.seconds),
          fmt(p.bytes / MB / p.seconds),
          fmt(percentile(p.requestMs, 50), 0),
          fmt(percentile(p.requestMs, 99), 0),
          fmt(p.cpuCores, 2),
          fmt(p.peakRss / MiB, 0),
          p.target === 'huren' ? `${p.backlog} / ${fmt(p.drainSeconds)}` : '–',
        ]),
      };
      const hurenPhases = phases.filter((p) => p.target === 'huren');
      const ttqTable: Table = {
        title: 'huren time to queryable under the STOW load',
        columns: ['images', 'clients', 'QIDO samples', 'p50 (ms)', 'p99 (ms)', 'stored→indexed p50 (ms)', 'stored→indexed p99 (ms)'],
        rows: hurenPhases.map((p) => [
          p.shape,
          p.clients,
          p.ttqMs.length,
          fmt(percentile(p.ttqMs, 50), 0),
          fmt(percentile(p.ttqMs, 99), 0),
          fmt(p.lag.p50, 0),
          fmt(p.lag.p99, 0),
        ]),
      };
      const allTtq = hurenPhases.flatMap((p) => p.ttqMs);
      rows.push({
        what: 'huren time to queryable under STOW load, p50 (all phases)',
        unit: 'ms',
        huren: percentile(allTtq, 50),
        orthanc: NaN,
        higherBetter: false,
      });
      rows.push({
        what: 'huren time to queryable under STOW load, p99 (all phases)',
        unit: 'ms',
        huren: percentile(allTtq, 99),
        orthanc: NaN,
        higherBetter: false,
      });
      details.push(renderTable(stowTable), renderTable(ttqTable));
      notes.push(
        `STOW: each client POSTs one study per request (CT 20 × ${fmt(all[0].size / 1e3, 0)} KB, MR 40 × ${fmt(all[1].size / 1e3, 0)} KB, DR 2 × ${fmt(all[2].size / 1e6, 1)} MB; Explicit VR Little Endian, Content-Length, keep-alive) for ${STOW_SECONDS} s per phase; the same generator for both servers. Orthanc indexes before it answers; huren answers once the objects and rows are durable and indexes in its worker: its index queue is drained after each phase (time shown) before the next starts. Time to queryable: one instance per request (at most 2 watched), from the STOW answer until QIDO \`/instances?SOPInstanceUID=\` finds it, polled every 25 ms (Orthanc: 0 by construction).`,
        'Server CPU: huren counts its gateway, worker, the PostgreSQL backends serving them (not the WAL writer, checkpointer, nor other users of the shared server) and Redis; Orthanc its one process.',
      );
    }

    if (ONLY.includes('qido')) {
      let loaded = 0;
      const patientsOf = (n: number) => Math.round(n * 0.3);
      const patientIds = new Set<string>();
      const loadTimes: Record<string, number> = { huren: 0, Orthanc: 0 };
      const qidoRuns: QidoRun[] = [];
      for (const total of QIDO_STAGES) {
        if (total <= loaded) continue;
        // Within the budget? Extrapolate from the rates measured so far.
        if (loaded > 0) {
          const projected = ((loadTimes.huren + loadTimes.Orthanc) / loaded) * (total - loaded);
          if (projected > LOAD_BUDGET_S) {
            notes.push(
              `QIDO at ${total.toLocaleString('en')} studies skipped: loading both would take ≈ ${fmt(projected / 60, 0)} min more (budget ${fmt(LOAD_BUDGET_S / 60, 0)} min).`,
            );
            break;
          }
        }
        say(`qido: generating ${total - loaded} studies…`);
        const studies = qidoStudies(loaded, total - loaded, patientsOf(QIDO_STAGES[QIDO_STAGES.length - 1]));
        studies.forEach((s) => patientIds.add(s.patientId));
        const bytes = studies.map((s) => s.bytes);
        for (const t of targets) {
          const s = await loadStudies(t, bytes, t.name === 'huren' ? 4 : 8, t.name === 'huren' ? 50 : 1);
          loadTimes[t.name] += s;
          say(`qido: loaded ${bytes.length} studies into ${t.name} in ${fmt(s)} s (${fmt(bytes.length / s, 0)}/s)`);
        }
        loaded = total;
        await stack.db.raw('ANALYZE');
        const ids = [...patientIds];
        const queries: Array<[string, () => string]> = [
          ['`/studies?PatientID={id}`', () => `/studies?PatientID=${pick(ids)}`],
          [
            '`/studies?StudyDate={30 days}&limit=100`',
            () => {
              const from = FIRST_DAY + Math.floor(random() * (DAYS - 30)) * 86_400_000;
              return `/studies?StudyDate=${dicomDate(from)}-${dicomDate(from + 29 * 86_400_000)}&limit=100`;
            },
          ],
        ];
        for (const [name, make] of queries) {
          for (const clients of [1, 4]) {
            const pair: QidoRun[] = [];
            for (const t of targets) {
              const run = await timeQueries(t, total, name, clients, make);
              pair.push(run);
              say(
                `qido ${t.name} ${total} ${name} ×${clients}: p50 ${fmt(percentile(run.latencies, 50))} ms, p99 ${fmt(percentile(run.latencies, 99))} ms, ${fmt(run.meanResults)} per answer`,
              );
            }
            qidoRuns.push(...pair);
            if (clients === 1)
              rows.push({
                what: `QIDO ${name} p50, ${total.toLocaleString('en')} studies, 1 client`,
                unit: 'ms',
                huren: percentile(pair[0].latencies, 50),
                orthanc: percentile(pair[1].latencies, 50),
                higherBetter: false,
                goal: total >= 100_000 ? 2 : undefined,
              });
          }
        }
      }
      details.push(
        renderTable({
          title: 'QIDO-RS',
          columns: ['server', 'studies', 'query', 'clients', 'p50 (ms)', 'p99 (ms)', 'requests/s', 'studies per answer'],
          rows: qidoRuns.map((r) => [
            r.target,
            r.studies.toLocaleString('en'),
            r.query,
            r.clients,
            fmt(percentile(r.latencies, 50)),
            fmt(percentile(r.latencies, 99)),
            fmt(r.latencies.length / r.seconds, 0),
            fmt(r.meanResults),
          ]),
        }),
      );
      notes.push(
        `QIDO: one-instance studies (16×16 pixels) of ${fmt(patientsOf(QIDO_STAGES[QIDO_STAGES.length - 1]) / 1000, 0)} k patients (each has at least one, the rest skewed towards some), StudyDate uniform over 2024–2025, the same bytes loaded into both through their own APIs: huren by STOW-RS (50 instances per request, 4 clients) plus indexing, ${fmt(loadTimes.huren)} s in all; Orthanc by REST \`POST /instances\` (8 clients), ${fmt(loadTimes.Orthanc)} s. Per row ${QIDO_REQUESTS} requests after 30 warm-up ones, random existing PatientID / random 30-day window; keep-alive; latency at the client.`,
      );
    }

    if (ONLY.includes('wado')) {
      const ct = new Images('CT 512×512', 'CT', 512, 512, 50);
      const series: Array<{ study: string; series: string; sops: string[] }> = [];
      let sample: { path: string; bytes: Buffer } | undefined;
      for (let s = 0; s < 4; s++) {
        const ids = { StudyInstanceUID: randomUid(), SeriesInstanceUID: randomUid(), PatientID: `PEER-WADO-${s}` };
        const sops = Array.from({ length: 50 }, () => randomUid());
        const instances = sops.map((sop, k) => ct.instance({ ...ids, SOPInstanceUID: sop, InstanceNumber: k + 1 }));
        for (const t of targets) {
          const agent = new http.Agent({ keepAlive: true });
          const res = await stowTarget(t, instances, agent);
          agent.destroy();
          if (res.status !== 200) throw new Error(`${t.name} STOW answered ${res.status}`);
        }
        series.push({ study: ids.StudyInstanceUID, series: ids.SeriesInstanceUID, sops });
        sample ??= { path: `/studies/${ids.StudyInstanceUID}/series/${ids.SeriesInstanceUID}/instances/${sops[0]}`, bytes: Buffer.concat(instances[0]) };
      }
      await targets[0].settle('wado');
      for (const t of targets) {
        const res = await httpGet(`${t.dicomweb}${sample!.path}`, { keepBody: true, headers: { ...t.headers, Accept: ALL_PARTS } });
        const parts = res.status === 200 ? parseMultipartResponse(res.body!, String(res.headers['content-type'])) : [];
        if (parts.length !== 1 || !parts[0].body.equals(sample!.bytes))
          notes.push(`WADO: ${t.name} did not return the stored bytes exactly for transfer-syntax=* (status ${res.status}).`);
      }
      const anySeries = () => series[Math.floor(Math.random() * series.length)];
      const kinds: Array<[string, () => { path: string; accept: string }, string]> = [
        [
          'instance (transfer-syntax=*)',
          () => {
            const s = anySeries();
            return { path: `/studies/${s.study}/series/${s.series}/instances/${s.sops[Math.floor(Math.random() * s.sops.length)]}`, accept: ALL_PARTS };
          },
          'MB/s',
        ],
        ['series of 50 (transfer-syntax=*)', () => ((s) => ({ path: `/studies/${s.study}/series/${s.series}`, accept: ALL_PARTS }))(anySeries()), 'MB/s'],
        [
          'series /metadata (50 instances)',
          () => ((s) => ({ path: `/studies/${s.study}/series/${s.series}/metadata`, accept: 'application/dicom+json' }))(anySeries()),
          'requests/s',
        ],
      ];
      const wadoRuns: WadoRun[] = [];
      for (const [what, make, unit] of kinds) {
        for (const clients of [1, 4]) {
          const pair: WadoRun[] = [];
          for (const t of targets) pair.push(await timeRetrieves(t, what, clients, make));
          wadoRuns.push(...pair);
          const value = (r: WadoRun) => (unit === 'MB/s' ? r.bytes / MB / r.seconds : r.requests / r.seconds);
          rows.push({ what: `WADO ${what}, ${clients} client(s)`, unit, huren: value(pair[0]), orthanc: value(pair[1]), higherBetter: true, goal: 1 });
          say(`wado ${what} ×${clients}: huren ${fmt(value(pair[0]))} ${unit}, Orthanc ${fmt(value(pair[1]))} ${unit}`);
        }
      }
      details.push(
        renderTable({
          title: 'WADO-RS',
          columns: ['server', 'retrieve', 'clients', 'requests/s', 'MB/s', 'p50 (ms)', 'p99 (ms)'],
          rows: wadoRuns.map((r) => [
            r.target,
            r.what,
            r.clients,
            fmt(r.requests / r.seconds, 0),
            fmt(r.bytes / MB / r.seconds),
            fmt(percentile(r.latencies, 50), 1),
            fmt(percentile(r.latencies, 99), 1),
          ]),
        }),
      );
      notes.push(
        `WADO: 4 studies × 50 CT slices (512×512) stored in both; ${WADO_SECONDS} s of back-to-back requests per row for a random instance / series; MB/s counts response bodies. Orthanc's DICOMweb plugin builds /metadata from the stored files (its default); huren serves it from PostgreSQL.`,
      );
    }
    notes.push(`${loggedSummary(stack)}.`);
  } finally {
    await orthanc.close();
    await stack.close();
  }

  // ── the report ──
  const ratio = (r: Row) => (r.higherBetter ? r.huren / r.orthanc : r.orthanc / r.huren);
  const goalCell = (r: Row) => {
    if (r.what.startsWith('huren time to queryable') && r.what.includes('p99')) return r.huren < 2000 ? 'p99 < 2 s: met' : 'p99 < 2 s: **not met**';
    if (r.goal === undefined) return '';
    return `≥ ${r.goal}×: ${ratio(r) >= r.goal ? 'met' : '**not met**'}`;
  };
  const main: Table = {
    title: '',
    columns: ['workload', 'unit', 'huren', 'Orthanc', 'huren advantage (×)', 'goal'],
    rows: rows.map((r) => [
      r.what,
      r.unit,
      fmt(r.huren, r.unit === 'ms' ? 1 : 1),
      fmt(r.orthanc, 1),
      Number.isFinite(r.orthanc) ? fmt(ratio(r), 2) : '–',
      goalCell(r),
    ]),
  };
  const minutes = (Date.now() - started.getTime()) / 60_000;
  const generated = [
    BEGIN,
    '',
    '## Side by side with Orthanc',
    '',
    `\`npm run bench:peer\`, run on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC, ${fmt(minutes, 0)} minutes. The same generated instances and requests against huren and ${orthancVersion()}, one server at a time, on this machine:`,
    '',
    '| Machine | |',
    '| --- | --- |',
    ...machine.map(([k, v]) => `| ${k} | ${v} |`),
    `| Orthanc | ${orthancVersion()}; SQLite index and storage under ${path.dirname(orthanc.dir)}, StorageCompression false, SyncStorageArea true (default: fsync per file), StorageAccessOnFind Always (default), 50 HTTP threads (default), loopback only |`,
    '',
    '"huren advantage" is huren ÷ Orthanc for throughput and Orthanc ÷ huren for latency: above 1 huren is ahead.',
    '',
    renderTable(main),
    ...notes.map((n) => `- ${n}`),
    '',
    ...details,
    END,
  ].join('\n');
  if (!process.env.BENCH_PEER_NO_DOC) {
    writeSection(generated);
    say(`wrote the side-by-side section of docs/benchmarks.md`);
  }
  process.stdout.write(`${generated}\n`);
}

const DOC = path.join(ROOT, 'docs', 'benchmarks.md');
const BEGIN = '<!-- bench-peer:begin (written by npm run bench:peer; edit outside these markers) -->';
const END = '<!-- bench-peer:end -->';

/** Replaces the side-by-side section (its own markers, after everything else on the page) or appends it. */
function writeSection(generated: string): void {
  const old = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Benchmarks\n';
  const at = old.indexOf(BEGIN);
  const end = old.indexOf(END);
  const doc = at >= 0 && end > at ? old.slice(0, at) + generated + old.slice(end + END.length) : `${old.trimEnd()}\n\n${generated}\n`;
  writeFileSync(DOC, doc);
}

main().then(
  () => process.exit(0),
  async (err) => {
    say(`bench:peer failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    await cleanupAll();
    process.exit(1);
  },
);
