/**
 * Focused before/after measurements for the changes recorded in docs/benchmarks.md
 * ("Making it faster"), each isolating one part of huren so that a change shows even on a
 * busy machine:
 *
 *   index-drain  STOW 2,000 MR instances (50 studies × 40) with the worker stopped, then start
 *                it and time the drain: index jobs/s and CPU ms per instance (worker and its
 *                PostgreSQL backends).
 *   stow-gateway STOW CT (20 × 525 KB) from 4 clients for 10 s with the worker stopped: what
 *                the gateway and PostgreSQL can take, and their CPU ms per instance.
 *   stow-mr      STOW MR (40 × 130 KB per request) from 16 clients for 20 s with the worker
 *                running and admission control on, as the side-by-side STOW phase does: the
 *                acknowledged and indexed rates, and CPU ms per instance of each process.
 *   stow-dr      the same with DR (2 × 10 MB per request).
 *   wado         WADO-RS instance retrieve (transfer-syntax=*) of 200 CT instances, 1 and 4
 *                clients, 8 s each: requests/s.
 *
 *   npx tsx scripts/bench/peer-experiments.ts index-drain,stow-gateway,wado
 *
 * Prints one JSON line per experiment (stdout), so runs of two trees can be interleaved and
 * compared (the tree is the one this script lives in).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { FsObjectStore } from '../../core/storage/fs-store';
import { uploadObjectKey, uploadPrefix } from '../../core/storage/keys';
import { performance } from 'node:perf_hooks';
import { makeDataset, randomUid, writePart10, TS } from '../../test/support/dicom-factory';
import { cpuSnapshot, fmt, httpGet, percentile, progress, say, sleep, unindexed, type Stack } from './lib';
import { startPeerStack, stowTo, type PeerStack } from './peer-stack';

/** Extra environment for the gateway and worker, e.g. "HUREN_WORKER_CONCURRENCY=32". */
const ENV = Object.fromEntries(
  (process.env.BENCH_PEER_HUREN_ENV ?? '')
    .split(',')
    .filter(Boolean)
    .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
);

/** With the worker stopped the index lag only grows: STOW admission control would hold the load back. */
const WORKER_STOPPED_ENV = { HUREN_STOW_MAX_INDEX_LAG_SECONDS: '0', ...ENV };

const PIXEL_TAG_OW = Buffer.from([0xe0, 0x7f, 0x10, 0x00, 0x4f, 0x57, 0, 0]);

function images(modality: string, rows: number, columns: number) {
  const { dataset, frames } = makeDataset({ modality, rows, columns });
  const head = Buffer.concat([PIXEL_TAG_OW, Buffer.alloc(4)]);
  head.writeUInt32LE(frames[0].length, 8);
  return (values: Record<string, unknown>) => [
    writePart10({ dataset: { ...dataset, ...values }, transferSyntaxUid: TS.explicitLittleEndian }),
    head,
    frames[0],
  ];
}

function study(make: ReturnType<typeof images>, n: number, tag: string): Buffer[][] {
  const ids = { StudyInstanceUID: randomUid(), SeriesInstanceUID: randomUid(), PatientID: tag, StudyDate: '20260101' };
  return Array.from({ length: n }, (_, k) => make({ ...ids, SOPInstanceUID: randomUid(), InstanceNumber: k + 1 }));
}

const cpuOf = async (stack: Stack, keys: string[]) => {
  const s = await cpuSnapshot(stack);
  return keys.reduce((sum, k) => sum + (s[k] ?? 0), 0);
};

async function indexDrain(): Promise<Record<string, number>> {
  const stack: PeerStack = await startPeerStack(WORKER_STOPPED_ENV, { worker: false });
  try {
    const mr = images('MR', 256, 256);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next++ < 50) {
          const res = await stowTo(stack.dicomweb, study(mr, 40, `EXP-${next}`), agent, stack.auth);
          if (res.status !== 200) throw new Error(`STOW ${res.status}: ${res.body}`);
        }
      }),
    );
    agent.destroy();
    const total = await unindexed(stack);
    stack.startWorker();
    // The worker's start (module loading, migrations check) is not indexing: wait for the first indexed instance.
    while ((await unindexed(stack)) === total) await sleep(20);
    const left0 = await unindexed(stack);
    const cpu0 = await cpuOf(stack, ['worker', 'postgres (its backends)']);
    const t0 = performance.now();
    for (let left = left0; left > 0; left = await unindexed(stack)) {
      progress(`index-drain: ${left} to go`);
      await sleep(100);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = (await cpuOf(stack, ['worker', 'postgres (its backends)'])) - cpu0;
    return { instances: left0, seconds, perSecond: left0 / seconds, cpuMsPerInstance: (1000 * cpu) / left0 };
  } finally {
    await stack.close();
  }
}

async function stowGateway(): Promise<Record<string, number>> {
  const stack: PeerStack = await startPeerStack(WORKER_STOPPED_ENV, { worker: false });
  try {
    const ct = images('CT', 512, 512);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    await stowTo(stack.dicomweb, study(ct, 20, 'WARMUP'), agent, stack.auth);
    let instances = 0;
    const latencies: number[] = [];
    const gateway0 = await cpuOf(stack, ['gateway']);
    const postgres0 = await cpuOf(stack, ['postgres (its backends)']);
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async (_, c) => {
        for (let i = 0; performance.now() - t0 < 10_000; i++) {
          const s = performance.now();
          const res = await stowTo(stack.dicomweb, study(ct, 20, `EXP-${c}-${i}`), agent, stack.auth);
          if (res.status !== 200) throw new Error(`STOW ${res.status}: ${res.body}`);
          latencies.push(performance.now() - s);
          instances += 20;
          progress(`stow-gateway: ${instances} instances`);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const gateway = (await cpuOf(stack, ['gateway'])) - gateway0;
    const postgres = (await cpuOf(stack, ['postgres (its backends)'])) - postgres0;
    agent.destroy();
    return {
      instances,
      seconds,
      perSecond: instances / seconds,
      requestP50Ms: percentile(latencies, 50),
      cpuMsPerInstance: (1000 * (gateway + postgres)) / instances,
      gatewayCpuMsPerInstance: (1000 * gateway) / instances,
      postgresCpuMsPerInstance: (1000 * postgres) / instances,
    };
  } finally {
    await stack.close();
  }
}

const stowMr = () => stowShape('stow-mr', images('MR', 256, 256), 40);
const stowDr = () => stowShape('stow-dr', images('DX', 2500, 2000), 2);

async function stowShape(name: string, make: ReturnType<typeof images>, perRequest: number): Promise<Record<string, number>> {
  const stack: PeerStack = await startPeerStack(ENV);
  const clients = Number(process.env.BENCH_EXP_CLIENTS ?? 16);
  try {
    const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
    await stowTo(stack.dicomweb, study(make, perRequest, 'WARMUP'), agent, stack.auth);
    while ((await unindexed(stack)) > 0) await sleep(50);
    const keys = ['gateway', 'worker', 'postgres (its backends)', 'redis', 'bench client', 'machine'];
    const cpu0 = await cpuSnapshot(stack);
    let instances = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async (_, c) => {
        for (let i = 0; performance.now() - t0 < 20_000; i++) {
          const res = await stowTo(stack.dicomweb, study(make, perRequest, `EXP-${c}-${i}`), agent, stack.auth);
          if (res.status !== 200) throw new Error(`STOW ${res.status}: ${res.body}`);
          instances += perRequest;
          progress(`${name}: ${instances} instances`);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    const left = await unindexed(stack);
    while ((await unindexed(stack)) > 0) await sleep(50);
    const drained = (performance.now() - t0) / 1000;
    const cpu1 = await cpuSnapshot(stack);
    agent.destroy();
    const perInstance = Object.fromEntries(keys.map((k) => [`${k.split(' ')[0]}CpuMs`, (1000 * (cpu1[k] - cpu0[k])) / instances]));
    return { instances, seconds, perSecond: instances / seconds, unindexedAtEnd: left, indexedPerSecond: instances / drained, ...perInstance };
  } finally {
    await stack.close();
  }
}

async function wado(): Promise<Record<string, number>> {
  const stack: PeerStack = await startPeerStack(ENV);
  try {
    const ct = images('CT', 512, 512);
    const paths: string[] = [];
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    for (let s = 0; s < 4; s++) {
      const ids = { StudyInstanceUID: randomUid(), SeriesInstanceUID: randomUid(), PatientID: `EXP-WADO-${s}` };
      const sops = Array.from({ length: 50 }, () => randomUid());
      const res = await stowTo(
        stack.dicomweb,
        sops.map((sop, k) => ct({ ...ids, SOPInstanceUID: sop, InstanceNumber: k + 1 })),
        agent,
        stack.auth,
      );
      if (res.status !== 200) throw new Error(`STOW ${res.status}`);
      for (const sop of sops) paths.push(`/studies/${ids.StudyInstanceUID}/series/${ids.SeriesInstanceUID}/instances/${sop}`);
    }
    while ((await unindexed(stack)) > 0) await sleep(100);
    const out: Record<string, number> = {};
    for (const clients of [1, 4]) {
      let requests = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (performance.now() - t0 < 8000) {
            const res = await httpGet(`${stack.dicomweb}${paths[Math.floor(Math.random() * paths.length)]}`, {
              agent,
              headers: { ...stack.auth, Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
            });
            if (res.status !== 200) throw new Error(`WADO ${res.status}`);
            requests++;
          }
        }),
      );
      out[`requestsPerSecond${clients}`] = requests / ((performance.now() - t0) / 1000);
    }
    agent.destroy();
    out.otherLines = stack.logged.other;
    return out;
  } finally {
    await stack.close();
  }
}

/**
 * In process, no HTTP nor database: 400 CT slices of 525 KB written as STOW-RS writes them, by
 * 4 writers at once, each a request of 20 (putUnsynced under the request's upload prefix, then
 * one sync of the 20).
 */
async function fsPut(): Promise<Record<string, number>> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'huren-exp-fs-'));
  try {
    const store = new FsObjectStore(root);
    const ct = Buffer.concat(images('CT', 512, 512)({ SOPInstanceUID: randomUid() }));
    let requests = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (requests++ < 20) {
          const prefix = uploadPrefix(randomUUID(), new Date());
          const keys = Array.from({ length: 20 }, (_, i) => uploadObjectKey(prefix, i + 1, randomUid()));
          for (const key of keys) await store.putUnsynced(key, Readable.from([ct.subarray(0, 65536), ct.subarray(65536)]));
          await store.sync(keys);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    return { puts: 400, seconds, perSecond: 400 / seconds };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const EXPERIMENTS: Record<string, () => Promise<Record<string, number>>> = {
  'index-drain': indexDrain,
  'stow-gateway': stowGateway,
  'stow-mr': stowMr,
  'stow-dr': stowDr,
  wado,
  'fs-put': fsPut,
};

async function main(): Promise<void> {
  for (const name of (process.argv[2] ?? Object.keys(EXPERIMENTS).join(',')).split(',')) {
    const result = await EXPERIMENTS[name]();
    say(
      `${name}: ${Object.entries(result)
        .map(([k, v]) => `${k} ${fmt(v)}`)
        .join(', ')}`,
    );
    process.stdout.write(`${JSON.stringify({ experiment: name, tree: __dirname, env: ENV, at: new Date().toISOString(), ...result })}\n`);
  }
}

main().then(
  () => process.exit(0),
  (err) => {
    say(`failed: ${err instanceof Error ? err.stack : String(err)}`);
    process.exit(1);
  },
);
