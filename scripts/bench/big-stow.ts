/**
 * Peak gateway memory during a 2 GiB STOW-RS request (npm run bench:big-stow).
 *
 * The body is generated while it is sent (chunked transfer encoding, never held in memory
 * here), in two shapes (BENCH_BIG_MODES, default both):
 *   slices      4,091 × 512×512 16-bit CT slices (≈ 525 KB each) in one request
 *   multiframe  8 × 256 MiB multi-frame CT instances (512 frames of 512×512 16-bit)
 * The gateway's RSS is sampled every 100 ms; its VmHWM is reset just before the request,
 * so it is the peak of the request. Afterwards the instances are counted in the response
 * and the database, the index queue is drained (the worker's peak RSS is reported too),
 * and the data directory is removed.
 */
import { performance } from 'node:perf_hooks';
import os from 'node:os';
import { randomUid } from '../../test/support/dicom-factory';
import {
  CtSlices,
  MB,
  MiB,
  cpuShares,
  cpuSnapshot,
  envNumber,
  fmt,
  freeBytes,
  loggedSummary,
  memoryOf,
  multipartChunks,
  progress,
  resetPeakRss,
  runCli,
  sampleRss,
  say,
  sleep,
  startStack,
  stow,
  unindexed,
  type BenchResult,
  type Stack,
} from './lib';

const TOTAL = envNumber('BENCH_BIG_BYTES', 2 * 1024 ** 3);
const MODES = (process.env.BENCH_BIG_MODES ?? 'slices,multiframe').split(',');
const INDEX_TIMEOUT_S = envNumber('BENCH_BIG_INDEX_TIMEOUT', 600);
const NEEDED_FREE = 5e9;

interface Outcome {
  mode: string;
  instances: number;
  bytes: number;
  seconds: number;
  status: number;
  rssBefore: number;
  maxSampled: number;
  hwm: number;
  hwmReset: boolean;
  clientHwm: number;
  /** Not indexed yet when the response came, and how long until all were. */
  leftAtResponse: number;
  indexSeconds: number;
  indexed: number;
  workerHwm: number;
  cpu: string;
}

async function bigStow(stack: Stack, mode: string): Promise<Outcome> {
  const ct = mode === 'multiframe' ? new CtSlices({ frames: 512 }) : new CtSlices();
  const count = Math.max(1, Math.round(TOTAL / ct.size));
  const ids = { StudyInstanceUID: randomUid(), SeriesInstanceUID: randomUid(), PatientID: `BIG-${mode}` };
  let sent = 0;
  let made = 0;
  // Instances are made one at a time as the request asks for more bytes.
  function* instances() {
    for (; made < count;) yield ct.instance({ ...ids, SOPInstanceUID: randomUid(), InstanceNumber: ++made });
  }
  function* counted() {
    for (const chunk of multipartChunks(instances())) {
      sent += chunk.length;
      yield chunk;
    }
  }

  await sleep(1000);
  const rssBefore = memoryOf(stack.gateway.pid!)!.rss;
  const hwmReset = resetPeakRss(stack.gateway.pid!) && (stack.worker ? resetPeakRss(stack.worker.pid!) : true);
  const rss = sampleRss(stack.gateway.pid!, 100);
  const cpu0 = await cpuSnapshot(stack);
  const t0 = performance.now();
  const show = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    progress(
      `big-stow ${mode}: ${fmt(sent / MB, 0)}/${fmt(TOTAL / MB, 0)} MB sent, ${made}/${count} instances, ${fmt(sent / MB / s)} MB/s, gateway RSS ${fmt(rss.current() / MiB, 0)} MiB`,
    );
  }, 500);
  let res;
  try {
    res = await stow(stack, counted());
  } finally {
    clearInterval(show);
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuShares(cpu0, await cpuSnapshot(stack), seconds);
  const peak = rss.stop();
  if (res.status !== 200 || res.referenced !== count || res.failed !== 0)
    throw new Error(`STOW of ${count} instances answered ${res.status}, ${res.referenced} stored, ${res.failed} failed: ${res.body}`);
  const [{ n }] = await stack.db('instance').where({ study_instance_uid: ids.StudyInstanceUID }).count({ n: '*' });
  if (Number(n) !== count) throw new Error(`the response lists ${count} instances, the database has ${n}`);
  say(`big-stow ${mode}: ${count} instances, ${fmt(sent / MB)} MB in ${fmt(seconds)} s; gateway peak RSS ${fmt(peak.hwm / MiB, 0)} MiB`);

  // Indexing the lot: how long, and what it costs the worker in memory.
  const i0 = performance.now();
  const leftAtResponse = await unindexed(stack);
  let left = leftAtResponse;
  while (left > 0 && performance.now() - i0 < INDEX_TIMEOUT_S * 1000) {
    progress(`big-stow ${mode}: ${left} instances not indexed yet, worker RSS ${fmt((memoryOf(stack.worker!.pid!)?.rss ?? 0) / MiB, 0)} MiB`);
    await sleep(500);
    left = await unindexed(stack);
  }
  const indexSeconds = (performance.now() - i0) / 1000;
  return {
    mode,
    instances: count,
    bytes: sent,
    seconds,
    status: res.status,
    rssBefore,
    maxSampled: peak.maxSampled,
    hwm: peak.hwm,
    hwmReset,
    clientHwm: memoryOf(process.pid)!.hwm,
    leftAtResponse,
    indexSeconds,
    indexed: count - left,
    workerHwm: memoryOf(stack.worker!.pid!)?.hwm ?? NaN,
    cpu,
  };
}

export async function benchBigStow(): Promise<BenchResult> {
  const free = freeBytes(os.tmpdir());
  if (free < NEEDED_FREE) {
    throw new Error(`big-stow needs 5 GB free under ${os.tmpdir()} (set TMPDIR elsewhere), only ${fmt(free / 1e9)} GB are free`);
  }
  const outcomes: Outcome[] = [];
  for (const mode of MODES) {
    // A fresh stack per shape: the second request does not start with the first one's heap.
    const stack = await startStack({ name: 'big' });
    try {
      say(`big-stow ${mode}: gateway pid ${stack.gateway.pid}, worker pid ${stack.worker?.pid}, data in ${stack.dataDir} (${fmt(free / 1e9)} GB free)`);
      outcomes.push(await bigStow(stack, mode));
      if (stack.logged.warn + stack.logged.error + stack.logged.other > 0) say(`${loggedSummary(stack)}.`);
    } finally {
      await stack.close();
    }
  }
  return {
    title: 'Gateway memory during a 2 GiB STOW-RS request',
    setup: [
      `One STOW-RS request of ${fmt(TOTAL / MiB, 0)} MiB of DICOM, chunked transfer encoding, generated while sent; gateway and worker as separate processes, filesystem storage, default limits (part ≤ 2 GiB, request ≤ 4 GiB).`,
      '`slices`: 512×512 16-bit CT slices; `multiframe`: 256 MiB instances of 512 frames of 512×512 16-bit.',
      'Gateway RSS sampled every 100 ms; VmHWM reset (`/proc/<pid>/clear_refs`) just before the request, so it is the peak of the request. Each shape on a freshly started gateway and worker.',
    ],
    tables: [
      {
        title: '',
        columns: ['shape', 'instances', 'MB sent', 'seconds', 'MB/s', 'status', 'gateway RSS before (MiB)', 'gateway peak RSS (MiB)', 'client peak RSS (MiB)'],
        rows: outcomes.map((o) => [
          o.mode,
          o.instances,
          fmt(o.bytes / MB, 0),
          fmt(o.seconds),
          fmt(o.bytes / MB / o.seconds),
          o.status,
          fmt(o.rssBefore / MiB, 0),
          `${fmt(o.hwm / MiB, 0)}${o.hwmReset ? '' : ' (VmHWM since start)'}`,
          fmt(o.clientHwm / MiB, 0),
        ]),
      },
      {
        title: 'Indexing (the worker indexes while the request is still arriving)',
        columns: ['shape', 'not indexed when the response came', 'then all indexed after (s)', 'indexed', 'worker peak RSS (MiB)'],
        rows: outcomes.map((o) => [o.mode, o.leftAtResponse, fmt(o.indexSeconds), `${o.indexed}/${o.instances}`, fmt(o.workerHwm / MiB, 0)]),
      },
    ],
    notes: outcomes.map((o) => `CPU (% of one core) during the ${o.mode} request: ${o.cpu}.`),
  };
}

if (require.main === module) runCli(benchBigStow);
