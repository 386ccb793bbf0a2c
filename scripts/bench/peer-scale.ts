/**
 * A long ingest through STOW-RS, scaled to this machine (npx tsx scripts/bench/peer-scale.ts):
 * tiny generated instances (16×16 pixels, ≈ 1.3 KB) sent for BENCH_SCALE_MINUTES by
 * BENCH_SCALE_CLIENTS clients (or until BENCH_SCALE_INSTANCES are acknowledged) to BENCH_SCALE_GATEWAYS gateway replicas (the clients take turns,
 * as a round-robin load balancer would) with BENCH_SCALE_WORKERS worker processes; then the
 * index drained, and QIDO-RS latency measured at that size. Writes its section of docs/scale.md
 * (not with BENCH_SCALE_NO_DOC=1). A 503 (admission control: the index is behind) is retried after 1 s, as a PACS would.
 *
 * Instances come from one template with fixed-length UIDs patched in place, so the client
 * spends microseconds, not milliseconds, per instance.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { makeInstance } from '../../test/support/dicom-factory';
import { freePort } from '../chaos/infra';
import { ROOT, cpuSnapshot, describeMachine, envNumber, fmt, httpGet, percentile, progress, say, sleep, unindexed } from './lib';
import { startPeerStack, stowTo } from './peer-stack';

const MINUTES = envNumber('BENCH_SCALE_MINUTES', 10);
/** Stop once this many instances are acknowledged, if that comes before BENCH_SCALE_MINUTES (0: no count limit). */
const INSTANCES = envNumber('BENCH_SCALE_INSTANCES', 0);
const CLIENTS = envNumber('BENCH_SCALE_CLIENTS', 8);
const BATCH = envNumber('BENCH_SCALE_BATCH', 50);
const PER_STUDY = 5;
const GATEWAYS = envNumber('BENCH_SCALE_GATEWAYS', 2);
const WORKERS = envNumber('BENCH_SCALE_WORKERS', 2);
const DRAIN_LIMIT_S = envNumber('BENCH_SCALE_DRAIN_LIMIT_S', 900);

/** A Part 10 template whose UIDs, PatientID, StudyDate and AccessionNumber are overwritten in place. */
class TinyInstances {
  private readonly template: Buffer;
  private readonly at: Record<string, number[]> = {};
  private n = 0;
  constructor() {
    const uid = (c: string) => `2.25.${c.repeat(38)}`;
    this.template = makeInstance({
      modality: 'CT',
      rows: 16,
      columns: 16,
      studyInstanceUid: uid('1'),
      seriesInstanceUid: uid('2'),
      sopInstanceUid: uid('3'),
      patientId: 'SP00000000',
      studyDate: '20240101',
      extra: { AccessionNumber: 'SA00000000' },
    });
    for (const [name, text] of Object.entries({
      study: uid('1'),
      series: uid('2'),
      sop: uid('3'),
      patient: 'SP00000000',
      date: '20240101',
      accession: 'SA00000000',
    })) {
      const places: number[] = [];
      for (let i = this.template.indexOf(text); i >= 0; i = this.template.indexOf(text, i + 1)) places.push(i);
      if (places.length === 0) throw new Error(`template: ${name} not found`);
      this.at[name] = places;
    }
  }
  get size(): number {
    return this.template.length;
  }
  /** One study of PER_STUDY instances. */
  study(): { uid: string; patient: string; sops: string[]; bytes: Buffer[] } {
    const s = ++this.n;
    const num = (x: number, width: number) => String(x).padStart(width, '0');
    const studyUid = `2.25.1${num(s, 37)}`;
    const seriesUid = `2.25.2${num(s, 37)}`;
    const patient = `SP${num(s % 97_001, 8)}`;
    const date = new Date(Date.UTC(2024, 0, 1) + (s % 730) * 86_400_000).toISOString().slice(0, 10).replace(/-/g, '');
    const sops: string[] = [];
    const bytes = Array.from({ length: PER_STUDY }, (_, k) => {
      const sop = `2.25.3${num(s * PER_STUDY + k, 37)}`;
      sops.push(sop);
      const b = Buffer.from(this.template);
      const put = (name: string, text: string) => this.at[name].forEach((i) => b.write(text, i, 'latin1'));
      put('study', studyUid);
      put('series', seriesUid);
      put('sop', sop);
      put('patient', patient);
      put('date', date);
      put('accession', `SA${num(s, 8)}`);
      return b;
    });
    return { uid: studyUid, patient, sops, bytes };
  }
}

function dirStats(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        files++;
        bytes += statSync(p).size;
      }
    }
  };
  if (existsSync(dir)) walk(dir);
  return { files, bytes };
}

async function main(): Promise<void> {
  const started = new Date();
  const machine = await describeMachine();
  const stack = await startPeerStack();
  const gen = new TinyInstances();
  const gateways = [stack.dicomweb];
  try {
    for (let g = 1; g < GATEWAYS; g++) {
      const port = await freePort();
      stack.addReplica('gateway', port);
      gateways.push(`http://127.0.0.1:${port}/dicomweb`);
    }
    for (let w = 1; w < WORKERS; w++) stack.addReplica('worker');
    for (const url of gateways) {
      for (
        let i = 0;
        (await fetch(url.replace('/dicomweb', '/healthz')).then(
          (r) => r.status,
          () => 0,
        )) !== 200;
        i++
      ) {
        if (i > 600) throw new Error(`gateway ${url} did not start`);
        await sleep(100);
      }
    }
    say(`scale: ${GATEWAYS} gateways, ${WORKERS} workers, ${CLIENTS} clients, ${BATCH} instances (${gen.size} B) per request, ${MINUTES} min`);

    const agents = gateways.map(() => new http.Agent({ keepAlive: true, maxSockets: CLIENTS }));
    const qidoAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    let acked = 0;
    let inFlight = 0;
    let requests = 0;
    let refused = 0;
    let turn = 0;
    const ttq: number[] = [];
    const watched = new Set<Promise<void>>();
    const samples: Array<{ t: number; acked: number; backlog: number }> = [];
    const somePatients: string[] = [];
    const someStudies: string[] = [];
    const cpu0 = await cpuSnapshot(stack);
    const t0 = performance.now();
    const deadline = t0 + MINUTES * 60_000;
    const sampler = setInterval(() => {
      void unindexed(stack).then((backlog) => {
        const t = (performance.now() - t0) / 1000;
        samples.push({ t, acked, backlog });
        progress(`scale: ${fmt(t, 0)} s, ${acked} acknowledged (${fmt(acked / t, 0)}/s), ${backlog} not yet indexed`);
      });
    }, 10_000);
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (performance.now() < deadline && (INSTANCES === 0 || acked + BATCH * (inFlight + 1) <= INSTANCES)) {
          inFlight++;
          const studies = Array.from({ length: BATCH / PER_STUDY }, () => gen.study());
          const g = turn++ % gateways.length;
          const res = await stowTo(
            gateways[g],
            studies.flatMap((s) => s.bytes.map((b) => [b])),
            agents[g],
            stack.auth,
          );
          const end = performance.now();
          inFlight--;
          // Admission control refused (the index stayed behind for HUREN_STOW_ADMISSION_WAIT_SECONDS): a PACS retries later.
          if (res.status === 503) {
            refused++;
            await sleep(1000);
            continue;
          }
          if (res.status !== 200 || res.referenced !== BATCH) throw new Error(`STOW answered ${res.status}: ${res.body}`);
          acked += BATCH;
          requests++;
          if (somePatients.length < 5000 && requests % 3 === 0) somePatients.push(studies[0].patient);
          if (someStudies.length < 5000 && requests % 3 === 1) someStudies.push(studies[0].uid);
          if (watched.size < 2) {
            const sop = studies[0].sops[0];
            const w: Promise<void> = (async () => {
              while (performance.now() - end < 600_000) {
                const r = await httpGet(`${stack.dicomweb}/instances?SOPInstanceUID=${sop}`, { agent: qidoAgent, keepBody: true, headers: stack.auth });
                if (r.status === 200 && (JSON.parse(r.body!.toString()) as unknown[]).length === 1) return void ttq.push(performance.now() - end);
                await sleep(50);
              }
            })().finally(() => watched.delete(w));
            watched.add(w);
          }
        }
      }),
    );
    clearInterval(sampler);
    const ingestSeconds = (performance.now() - t0) / 1000;
    const cpu1 = await cpuSnapshot(stack);
    const backlogAtEnd = await unindexed(stack);
    const d0 = performance.now();
    for (let left = backlogAtEnd; left > 0; left = await unindexed(stack)) {
      progress(`scale: draining, ${left} not yet indexed`);
      if ((performance.now() - d0) / 1000 > DRAIN_LIMIT_S) break;
      await sleep(1000);
    }
    const drainSeconds = (performance.now() - d0) / 1000;
    await Promise.all(watched);
    const leftover = await unindexed(stack);
    await stack.db.raw('ANALYZE');

    // QIDO at this size.
    const [{ studies, instances }] = (
      await stack.db.raw("SELECT (SELECT count(*) FROM study) AS studies, (SELECT count(*) FROM instance WHERE status = 'indexed') AS instances")
    ).rows;
    const pick = <T>(l: T[]) => l[Math.floor(Math.random() * l.length)];
    const queries: Array<[string, () => string]> = [
      ['`/studies?PatientID={id}`', () => `/studies?PatientID=${pick(somePatients)}`],
      [
        '`/studies?StudyDate={30 days}&limit=100`',
        () => {
          const from = Date.UTC(2024, 0, 1) + Math.floor(Math.random() * 700) * 86_400_000;
          const d = (ms: number) => new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');
          return `/studies?StudyDate=${d(from)}-${d(from + 29 * 86_400_000)}&limit=100`;
        },
      ],
      ['`/studies/{uid}/instances`', () => `/studies/${pick(someStudies)}/instances`],
      ['`/studies?AccessionNumber={n}`', () => `/studies?AccessionNumber=SA${String(1 + Math.floor(Math.random() * Number(studies))).padStart(8, '0')}`],
    ];
    const qidoRows: Array<Array<string | number>> = [];
    for (const [name, make] of queries) {
      const latencies: number[] = [];
      for (let i = 0; i < 230; i++) {
        const s = performance.now();
        const r = await httpGet(`${stack.dicomweb}${make()}`, {
          agent: qidoAgent,
          keepBody: true,
          headers: { ...stack.auth, Accept: 'application/dicom+json' },
        });
        if (r.status !== 200 && r.status !== 204) throw new Error(`${name} answered ${r.status}`);
        if (i >= 30) latencies.push(performance.now() - s);
      }
      qidoRows.push([name, fmt(percentile(latencies, 50)), fmt(percentile(latencies, 99))]);
      say(`scale: ${name} p50 ${fmt(percentile(latencies, 50))} ms, p99 ${fmt(percentile(latencies, 99))} ms`);
    }
    const sizes = (
      await stack.db.raw(
        `SELECT relname, pg_total_relation_size(c.oid) AS total FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = ? AND relname IN ('instance', 'study', 'series', 'patient') ORDER BY relname`,
        [stack.schema],
      )
    ).rows as Array<{ relname: string; total: string }>;
    const objects = dirStats(path.join(stack.dataDir, 'objects'));
    const cpuLine = Object.keys(cpu1)
      .filter((k) => !['machine', 'postgres (all)'].includes(k) && Number.isFinite(cpu1[k]))
      .map((k) => `${k} ${Math.round((100 * (cpu1[k] - cpu0[k])) / ingestSeconds)} %`)
      .join(', ');
    agents.forEach((a) => a.destroy());
    qidoAgent.destroy();

    const perMinute = samples.map((s, i) => (i === 0 ? s.acked / s.t : (s.acked - samples[i - 1].acked) / (s.t - samples[i - 1].t)));
    const generated = [
      BEGIN,
      '',
      `Run on ${started.toISOString().slice(0, 16).replace('T', ' ')} UTC (\`npx tsx scripts/bench/peer-scale.ts\`, ${fmt((Date.now() - started.getTime()) / 60_000, 0)} minutes in all), on the machine of docs/benchmarks.md:`,
      '',
      '| Machine | |',
      '| --- | --- |',
      ...machine.map(([k, v]) => `| ${k} | ${v} |`),
      '',
      `- ${GATEWAYS} gateway processes (the clients take turns between them, as a round-robin load balancer would) and ${WORKERS} worker processes on the same PostgreSQL, Redis and filesystem storage; ${CLIENTS} clients each POSTing ${BATCH} instances per request (${BATCH / PER_STUDY} studies of ${PER_STUDY}), ${gen.size} B CT instances of 16×16 pixels, for ${fmt(ingestSeconds / 60, 1)} min${INSTANCES ? ` (until ${INSTANCES.toLocaleString('en')} were acknowledged)` : ''}.`,
      '',
      '| | |',
      '| --- | --- |',
      `| instances acknowledged | ${acked.toLocaleString('en')} in ${fmt(ingestSeconds, 0)} s (${requests.toLocaleString('en')} requests) |`,
      `| STOW requests refused (503, index behind) | ${refused} |`,
      `| ingest rate (acknowledged) | ${fmt(acked / ingestSeconds, 0)} instances/s (per 10 s: min ${fmt(Math.min(...perMinute), 0)}, max ${fmt(Math.max(...perMinute), 0)}) |`,
      `| not yet indexed when sending stopped | ${backlogAtEnd.toLocaleString('en')}; drained in ${fmt(drainSeconds, 0)} s${leftover ? ` (${leftover} left after the ${DRAIN_LIMIT_S} s limit)` : ''} |`,
      `| indexed rate over the whole run | ${fmt(Number(instances) / (ingestSeconds + drainSeconds), 0)} instances/s |`,
      `| time to queryable while ingesting (${ttq.length} samples) | p50 ${fmt(percentile(ttq, 50) / 1000, 1)} s, p99 ${fmt(percentile(ttq, 99) / 1000, 1)} s |`,
      `| index at the end | ${Number(studies).toLocaleString('en')} studies, ${Number(instances).toLocaleString('en')} instances; ${sizes.map((s) => `${s.relname} ${fmt(Number(s.total) / 2 ** 20, 0)} MiB`).join(', ')} (${fmt(sizes.reduce((n, s) => n + Number(s.total), 0) / Number(instances), 0)} B per instance) |`,
      `| objects | ${objects.files.toLocaleString('en')} files, ${fmt(objects.bytes / 2 ** 20, 0)} MiB |`,
      `| CPU while ingesting (% of one core; the first gateway and worker only, not the replicas) | ${cpuLine} |`,
      '',
      '**QIDO-RS at that size** (1 client, 200 requests after 30 warm-up ones, random existing values)',
      '',
      '| query | p50 (ms) | p99 (ms) |',
      '| --- | --- | --- |',
      ...qidoRows.map((r) => `| ${r.join(' | ')} |`),
      '',
      END,
    ].join('\n');
    if (!process.env.BENCH_SCALE_NO_DOC) {
      const doc = path.join(ROOT, 'docs', 'scale.md');
      const old = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Scale path\n';
      const a = old.indexOf(BEGIN);
      const b = old.indexOf(END);
      writeFileSync(doc, a >= 0 && b > a ? old.slice(0, a) + generated + old.slice(b + END.length) : `${old.trimEnd()}\n\n${generated}\n`);
    }
    process.stdout.write(`${generated}\n`);
    say(
      `scale: done; ${os
        .loadavg()
        .map((l) => fmt(l, 2))
        .join(' ')} load average at the end`,
    );
  } finally {
    await stack.close();
  }
}

const BEGIN = '<!-- scale:begin (written by scripts/bench/peer-scale.ts; edit outside these markers) -->';
const END = '<!-- scale:end -->';

main().then(
  () => process.exit(0),
  (err) => {
    say(`scale failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
