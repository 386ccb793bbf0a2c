/**
 * STOW-RS throughput and time-to-queryable (npm run bench:stow).
 *
 * For 1, 4 and 16 concurrent clients, each client POSTs one study of 50 × 512×512 16-bit CT
 * slices (≈ 26 MB, Content-Length) at a time for BENCH_STOW_SECONDS (default 20 s). After each
 * phase the index queue is drained before the next starts, and the time that takes is reported.
 *
 * Time to queryable: for one random instance of a posted study (at most 2 watched at once,
 * to keep the polling load small), the time from the STOW response until
 * QIDO `/instances?SOPInstanceUID=` returns it, polled every 25 ms. Also, for every instance,
 * stored → indexed as the database records it (indexed_at − received_at).
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
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
  getJson,
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

const SECONDS = envNumber('BENCH_STOW_SECONDS', 20);
const SLICES = envNumber('BENCH_STOW_SLICES', 50);
const CLIENTS = (process.env.BENCH_STOW_CLIENTS ?? '1,4,16').split(',').map(Number);
const MAX_WATCHED = 2;
const POLL_MS = 25;

interface Phase {
  clients: number;
  studies: number;
  instances: number;
  bytes: number;
  seconds: number;
  requestMs: number[];
  ttqMs: number[];
  backlogAtEnd: number;
  drainSeconds: number;
  dbLag: { p50: number; p99: number };
  peakRss: number;
  cpu: string;
  cpuDrain: string;
}

/** Milliseconds from `since` until QIDO finds the instance. */
async function timeToQueryable(stack: Stack, sop: string, since: number, agent: http.Agent): Promise<number> {
  const deadline = since + 300_000;
  for (;;) {
    const found = await getJson<unknown[]>(`${stack.dicomweb}/instances?SOPInstanceUID=${sop}`, agent, authHeaders(stack));
    if (found.length === 1) return performance.now() - since;
    if (performance.now() > deadline) throw new Error(`instance ${sop} not queryable after 300 s`);
    await sleep(POLL_MS);
  }
}

async function runPhase(stack: Stack, ct: CtSlices, clients: number, seconds: number): Promise<Phase> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const qidoAgent = new http.Agent({ keepAlive: true, maxSockets: MAX_WATCHED });
  const [{ now: dbStart }] = (await stack.db.raw('SELECT now()')).rows;
  const p: Phase = {
    clients,
    studies: 0,
    instances: 0,
    bytes: 0,
    seconds: 0,
    requestMs: [],
    ttqMs: [],
    backlogAtEnd: 0,
    drainSeconds: 0,
    dbLag: { p50: NaN, p99: NaN },
    peakRss: 0,
    cpu: '',
    cpuDrain: '',
  };
  const watched = new Set<Promise<void>>();
  let watchFailure: Error | undefined;
  const rss = sampleRss(stack.gateway.pid!);
  const cpu0 = await cpuSnapshot(stack);
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const show = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    progress(
      `stow ${clients} client(s)  ${fmt(s)} s  ${p.instances} instances  ${fmt(p.instances / s)} inst/s  ${fmt(p.bytes / MB / s)} MB/s  rss ${fmt(rss.current() / MiB, 0)} MiB`,
    );
  }, 500);

  const client = async (n: number) => {
    for (let i = 0; performance.now() < deadline && !stopRequested(); i++) {
      const study = { StudyInstanceUID: randomUid(), SeriesInstanceUID: randomUid(), PatientID: `BENCH-${clients}-${n}-${i}`, StudyDate: '20260101' };
      const instances = Array.from({ length: SLICES }, (_, k) => ct.instance({ ...study, SOPInstanceUID: randomUid(), InstanceNumber: k + 1 }));
      const start = performance.now();
      const res = await stow(stack, multipartChunks(instances), { agent, contentLength: multipartLength(instances) });
      const end = performance.now();
      if (res.status !== 200 || res.referenced !== SLICES) throw new Error(`STOW answered ${res.status} with ${res.referenced}/${SLICES} stored: ${res.body}`);
      p.studies++;
      p.instances += SLICES;
      p.bytes += instances.reduce((sum, chunks) => sum + chunks.reduce((m, c) => m + c.length, 0), 0);
      p.requestMs.push(end - start);
      if (watched.size < MAX_WATCHED) {
        const sop = res.referencedUids[Math.floor(Math.random() * res.referencedUids.length)];
        const w: Promise<void> = timeToQueryable(stack, sop, end, qidoAgent)
          .then(
            (ms) => void p.ttqMs.push(ms),
            (err: Error) => void (watchFailure ??= err),
          )
          .finally(() => watched.delete(w));
        watched.add(w);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: clients }, (_, n) => client(n)));
  } finally {
    clearInterval(show);
  }
  p.seconds = (performance.now() - t0) / 1000;
  const cpu1 = await cpuSnapshot(stack);
  p.cpu = cpuShares(cpu0, cpu1, p.seconds);
  p.peakRss = rss.stop().maxSampled;

  // Drain: the next phase starts with an empty queue.
  p.backlogAtEnd = await unindexed(stack);
  const d0 = performance.now();
  for (let left = p.backlogAtEnd; left > 0; left = await unindexed(stack)) {
    progress(`stow ${clients} client(s)  draining the index queue: ${left} instances not yet indexed`);
    await sleep(250);
  }
  await Promise.all(watched);
  if (watchFailure) throw watchFailure;
  p.drainSeconds = (performance.now() - d0) / 1000;
  p.cpuDrain = p.drainSeconds > 1 ? cpuShares(cpu1, await cpuSnapshot(stack), p.drainSeconds) : '';

  const lag = await stack.db.raw(
    `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM indexed_at - received_at)) AS p50,
            percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM indexed_at - received_at)) AS p99
       FROM instance WHERE received_at >= ?`,
    [dbStart],
  );
  const row = lag.rows[0];
  p.dbLag = { p50: Number(row.p50) * 1000, p99: Number(row.p99) * 1000 };
  agent.destroy();
  qidoAgent.destroy();
  return p;
}

export async function benchStow(): Promise<BenchResult> {
  const ct = new CtSlices();
  const stack = await startStack({ name: 'stow' });
  try {
    say(`stow: gateway pid ${stack.gateway.pid}, worker pid ${stack.worker?.pid}; ${SLICES} × ${ct.size} B per study, ${SECONDS} s per phase`);
    await runPhase(stack, ct, 1, 2); // warm-up: module loading, JIT, connection pools
    const phases: Phase[] = [];
    for (const clients of CLIENTS) {
      const phase = await runPhase(stack, ct, clients, SECONDS);
      phases.push(phase);
      say(
        `stow ${clients} client(s): ${fmt(phase.instances / phase.seconds)} inst/s, ${fmt(phase.bytes / MB / phase.seconds)} MB/s; drained ${phase.backlogAtEnd} in ${fmt(phase.drainSeconds)} s`,
      );
    }
    const ms = (v: number) => fmt(v, 0);
    return {
      title: 'STOW-RS throughput and time to queryable',
      setup: [
        `Each client POSTs one study at a time: ${SLICES} CT slices, 512×512 16-bit Explicit VR Little Endian (${ct.size} B each, ${fmt((SLICES * ct.size) / MB)} MB per request, Content-Length), keep-alive, for ${SECONDS} s per phase.`,
        'Gateway and one worker process as separate processes with default settings (README, Settings), filesystem storage (fsync per object).',
        'After each phase the index queue is drained before the next one starts.',
        `Time to queryable: one random instance per study (at most ${MAX_WATCHED} watched at once), from the STOW response until QIDO \`/instances?SOPInstanceUID=\` returns it, polled every ${POLL_MS} ms. Stored → indexed: every instance, \`indexed_at − received_at\` in the database.`,
        'MB = 10⁶ bytes of DICOM instances (multipart framing not counted).',
      ],
      tables: [
        {
          title: 'Throughput',
          columns: ['clients', 'studies', 'instances', 'instances/s', 'MB/s', 'request p50 (ms)', 'request p99 (ms)', 'gateway peak RSS (MiB)'],
          rows: phases.map((p) => [
            p.clients,
            p.studies,
            p.instances,
            fmt(p.instances / p.seconds),
            fmt(p.bytes / MB / p.seconds),
            ms(percentile(p.requestMs, 50)),
            ms(percentile(p.requestMs, 99)),
            fmt(p.peakRss / MiB, 0),
          ]),
        },
        {
          title: 'Time to queryable',
          columns: [
            'clients',
            'QIDO samples',
            'QIDO p50 (ms)',
            'QIDO p99 (ms)',
            'stored→indexed p50 (ms)',
            'stored→indexed p99 (ms)',
            'not indexed at end of phase',
            'drain (s)',
          ],
          rows: phases.map((p) => [
            p.clients,
            p.ttqMs.length,
            ms(percentile(p.ttqMs, 50)),
            ms(percentile(p.ttqMs, 99)),
            ms(p.dbLag.p50),
            ms(p.dbLag.p99),
            p.backlogAtEnd,
            fmt(p.drainSeconds),
          ]),
        },
      ],
      notes: [
        ...phases.map((p) => `CPU (% of one core), ${p.clients} client(s): during STOW ${p.cpu}${p.cpuDrain ? `; while draining ${p.cpuDrain}` : ''}.`),
        `${loggedSummary(stack)}.`,
      ],
    };
  } finally {
    await stack.close();
  }
}

if (require.main === module) runCli(benchStow);
