/**
 * WADO-RS retrieve throughput (npm run bench:wado).
 *
 * STOWs 4 studies × 50 CT slices (512×512 16-bit, 200 instances), waits until they are
 * indexed, then retrieves for BENCH_WADO_SECONDS (default 10 s) each, with 1 and 4 clients:
 * single instances (transfer-syntax=*), whole series of 50 instances, and single frames.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseMultipartResponse } from '../../test/support/gateway';
import { randomUid } from '../../test/support/dicom-factory';
import {
  CtSlices,
  MB,
  MiB,
  authHeaders,
  cpuShares,
  cpuSnapshot,
  envNumber,
  fmt,
  httpGet,
  loggedSummary,
  multipartChunks,
  multipartLength,
  percentile,
  progress,
  runCli,
  sampleRss,
  say,
  sleep,
  startStack,
  stopRequested,
  stow,
  unindexed,
  type BenchResult,
  type Stack,
} from './lib';

const SECONDS = envNumber('BENCH_WADO_SECONDS', 10);
const STUDIES = 4;
const SLICES = 50;
const ALL_PARTS = 'multipart/related; type="application/dicom"; transfer-syntax=*';

interface Series {
  study: string;
  series: string;
  sops: string[];
}

interface Run {
  name: string;
  clients: number;
  requests: number;
  bytes: number;
  seconds: number;
  latencies: number[];
  peakRss: number;
  cpu: string;
}

async function timeRetrieves(stack: Stack, name: string, clients: number, makeRequest: () => { path: string; accept: string }): Promise<Run> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const run: Run = { name, clients, requests: 0, bytes: 0, seconds: 0, latencies: [], peakRss: 0, cpu: '' };
  const rss = sampleRss(stack.gateway.pid!);
  const cpu0 = await cpuSnapshot(stack);
  const t0 = performance.now();
  const deadline = t0 + SECONDS * 1000;
  const client = async () => {
    while (performance.now() < deadline && !stopRequested()) {
      const { path, accept } = makeRequest();
      const start = performance.now();
      const res = await httpGet(`${stack.dicomweb}${path}`, { agent, headers: { ...authHeaders(stack), Accept: accept } });
      if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}`);
      run.latencies.push(performance.now() - start);
      run.requests++;
      run.bytes += res.bytes;
      const s = (performance.now() - t0) / 1000;
      progress(`wado: ${name}, ${clients} client(s): ${fmt(s)} s, ${fmt(run.requests / s, 0)} req/s, ${fmt(run.bytes / MB / s)} MB/s`);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  run.seconds = (performance.now() - t0) / 1000;
  run.cpu = cpuShares(cpu0, await cpuSnapshot(stack), run.seconds);
  run.peakRss = rss.stop().maxSampled;
  agent.destroy();
  return run;
}

export async function benchWado(): Promise<BenchResult> {
  const ct = new CtSlices();
  const stack = await startStack({ name: 'wado' });
  try {
    say(`wado: gateway pid ${stack.gateway.pid}; storing ${STUDIES * SLICES} instances`);
    const series: Series[] = [];
    let sample: { path: string; bytes: Buffer } | undefined;
    for (let s = 0; s < STUDIES; s++) {
      const ids = { StudyInstanceUID: randomUid(), SeriesInstanceUID: randomUid(), PatientID: `WADO-${s}` };
      const instances = Array.from({ length: SLICES }, (_, k) => ct.instance({ ...ids, SOPInstanceUID: randomUid(), InstanceNumber: k + 1 }));
      const res = await stow(stack, multipartChunks(instances), { contentLength: multipartLength(instances) });
      if (res.status !== 200 || res.referenced !== SLICES) throw new Error(`STOW answered ${res.status}: ${res.body}`);
      series.push({ study: ids.StudyInstanceUID, series: ids.SeriesInstanceUID, sops: res.referencedUids });
      sample ??= {
        path: `/studies/${ids.StudyInstanceUID}/series/${ids.SeriesInstanceUID}/instances/${res.referencedUids[0]}`,
        bytes: Buffer.concat(instances[0]),
      };
    }
    for (let left = await unindexed(stack); left > 0; left = await unindexed(stack)) {
      progress(`wado: waiting for ${left} instances to be indexed`);
      await sleep(200);
    }

    // The retrieved bytes are exactly the stored ones.
    const check = await httpGet(`${stack.dicomweb}${sample!.path}`, { keepBody: true, headers: { ...authHeaders(stack), Accept: ALL_PARTS } });
    const parts = parseMultipartResponse(check.body!, String(check.headers['content-type']));
    if (parts.length !== 1 || !parts[0].body.equals(sample!.bytes)) throw new Error('retrieved instance differs from the stored one');

    const anySeries = () => series[Math.floor(Math.random() * series.length)];
    const anyInstance = () => {
      const s = anySeries();
      return `/studies/${s.study}/series/${s.series}/instances/${s.sops[Math.floor(Math.random() * s.sops.length)]}`;
    };
    const kinds: Array<[string, () => { path: string; accept: string }]> = [
      ['instance (transfer-syntax=*)', () => ({ path: anyInstance(), accept: ALL_PARTS })],
      ['series of 50 (transfer-syntax=*)', () => ({ path: ((s) => `/studies/${s.study}/series/${s.series}`)(anySeries()), accept: ALL_PARTS })],
      [
        'frame 1 of an instance',
        () => ({ path: `${anyInstance()}/frames/1`, accept: 'multipart/related; type="application/octet-stream"; transfer-syntax=*' }),
      ],
    ];
    const runs: Run[] = [];
    for (const [name, make] of kinds) {
      for (const clients of [1, 4]) {
        const run = await timeRetrieves(stack, name, clients, make);
        runs.push(run);
        say(`wado: ${name}, ${clients} client(s): ${fmt(run.requests / run.seconds, 0)} req/s, ${fmt(run.bytes / MB / run.seconds)} MB/s`);
      }
    }
    return {
      title: 'WADO-RS retrieve',
      setup: [
        `${STUDIES} studies × ${SLICES} CT slices (512×512 16-bit Explicit VR Little Endian, ${ct.size} B each) stored with STOW-RS and indexed; filesystem storage (objects in the page cache after the first read).`,
        `Each row: ${SECONDS} s of back-to-back requests for a random instance / series / frame, keep-alive; MB/s counts response bodies (10⁶ B).`,
        'Instance and series retrieves ask `transfer-syntax=*` (the stored bytes, streamed from storage); the first answer was checked byte-exact against what was stored.',
      ],
      tables: [
        {
          title: '',
          columns: ['retrieve', 'clients', 'requests/s', 'MB/s', 'p50 (ms)', 'p99 (ms)', 'gateway peak RSS (MiB)'],
          rows: runs.map((r) => [
            r.name,
            r.clients,
            fmt(r.requests / r.seconds, 0),
            fmt(r.bytes / MB / r.seconds),
            fmt(percentile(r.latencies, 50)),
            fmt(percentile(r.latencies, 99)),
            fmt(r.peakRss / MiB, 0),
          ]),
        },
      ],
      notes: [...runs.filter((r) => r.clients === 4).map((r) => `CPU (% of one core), ${r.name} with 4 clients: ${r.cpu}.`), `${loggedSummary(stack)}.`],
    };
  } finally {
    await stack.close();
  }
}

if (require.main === module) runCli(benchWado);
