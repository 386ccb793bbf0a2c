/**
 * The checker run after every scenario. Ground truth is the clients' ledger; the verdict
 * comes from what a receiving hospital sees (QIDO-RS, WADO-RS) and from the store itself:
 *
 * - every acknowledged instance is indexed, found by QIDO-RS, and retrieved byte-exact by
 *   WADO-RS with transfer-syntax=*;
 * - no duplicates: no SOP Instance UID twice in a QIDO answer, no instance_version rows
 *   (every client re-sent identical bytes), study/series counts equal to the rows;
 * - no orphans: after the sweep's grace, no upload row is left and every object in storage
 *   (temp files included) is referenced by an instance or instance_version row;
 * - nothing referenced is missing from storage.
 */
import { readdir } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { createHash } from 'node:crypto';
import type { Knex } from 'knex';
import { Client } from 'minio';
import { parseMultipartResponse } from '../../test/support/gateway';
import { sleep } from './infra';
import type { Ledger } from './workload';

export interface StoreLister {
  describe: string;
  list(): Promise<string[]>;
}

/** Every file under the fs store's root, temp files (`.x.part`) included, as keys. */
export function fsLister(root: string): StoreLister {
  return {
    describe: `fs ${root}`,
    async list() {
      const out: string[] = [];
      const walk = async (dir: string) => {
        let entries;
        try {
          entries = await readdir(dir, { withFileTypes: true });
        } catch {
          return;
        }
        for (const e of entries) {
          const full = path.join(dir, e.name);
          if (e.isDirectory()) await walk(full);
          else out.push(path.relative(root, full).split(path.sep).join('/'));
        }
      };
      await walk(root);
      return out;
    },
  };
}

export function s3Lister(port: number, bucket: string): StoreLister {
  const client = new Client({ endPoint: '127.0.0.1', port, useSSL: false, accessKey: 'S3RVER', secretKey: 'S3RVER', region: 'us-east-1' });
  return {
    describe: `s3 bucket ${bucket}`,
    list: () =>
      new Promise((resolve, reject) => {
        const keys: string[] = [];
        const stream = client.listObjectsV2(bucket, '', true);
        stream.on('data', (o: { name?: string }) => o.name && keys.push(o.name));
        stream.on('error', reject);
        stream.on('end', () => resolve(keys));
      }),
  };
}

export interface CheckResult {
  acknowledged: number;
  /** Acknowledged and found by QIDO-RS and retrieved byte-exact. */
  verified: number;
  /** Acknowledged but not indexed / not found by QIDO / not retrievable or different bytes. */
  lost: string[];
  duplicates: number;
  orphans: string[];
  /** Rows whose object is not in storage. */
  dangling: string[];
  uploadRowsLeft: number;
  /** Studies never marked stable (their quiet-period event lost). */
  unstableStudies: number;
  /** Rows still `received` at the end (stored but never indexed), acknowledged or not. */
  unindexed: number;
  /** Stored instances that were never acknowledged (a client broke off, or a 503 after the commit): harmless, listed for the record. */
  storedUnacknowledged: number;
  /** Seconds from the check's start until every stored instance was indexed. */
  indexDrainSeconds: number;
  notes: string[];
}

function get(url: string, accept: string, agent: http.Agent, auth: Record<string, string>): Promise<{ status: number; body: Buffer; contentType: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent, headers: { ...auth, Accept: accept } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), contentType: String(res.headers['content-type'] ?? '') }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

async function inParallel<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

export async function check(opts: {
  baseUrl: string;
  auth: Record<string, string>;
  db: Knex;
  ledger: Ledger;
  store: StoreLister;
  /** Reconciliation grace + interval: how long to wait for upload rows to be swept. */
  sweepWaitMs: number;
  indexTimeoutMs: number;
  /** Study quiet period plus margin. */
  stableWaitMs: number;
  progress?: (s: string) => void;
}): Promise<CheckResult> {
  const { db, ledger } = opts;
  const say = opts.progress ?? (() => undefined);
  const notes: string[] = [];
  const acked = [...ledger.acked];
  const lost = new Set<string>();

  // 1. Everything stored gets indexed (the sweep re-enqueues what the queue lost).
  const t0 = Date.now();
  let unindexed: number;
  for (;;) {
    const [{ n }] = await db('instance').where({ status: 'received' }).count({ n: '*' });
    unindexed = Number(n);
    if (unindexed === 0) break;
    if (Date.now() - t0 > opts.indexTimeoutMs) {
      notes.push(`${unindexed} instances still not indexed ${Math.round(opts.indexTimeoutMs / 1000)} s after the workload`);
      break;
    }
    say(`check: waiting for ${unindexed} instances to be indexed…`);
    await sleep(250);
  }
  const indexDrainSeconds = (Date.now() - t0) / 1000;

  const rows: Array<{ sop_instance_uid: string; study_instance_uid: string; status: string; object_key: string }> = await db('instance').select(
    'sop_instance_uid',
    'study_instance_uid',
    'status',
    'object_key',
  );
  const rowByUid = new Map(rows.map((r) => [r.sop_instance_uid, r]));
  for (const uid of acked) {
    const row = rowByUid.get(uid);
    if (!row || row.status !== 'indexed') lost.add(uid);
  }
  const storedUnacknowledged = rows.filter((r) => !ledger.acked.has(r.sop_instance_uid)).length;

  // 2. QIDO-RS: every acknowledged instance found, none twice; study counts equal to the rows.
  const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  let duplicates = 0;
  const studies = new Map<string, string[]>();
  for (const uid of acked) {
    const s = ledger.instances.get(uid)!.studyInstanceUid;
    studies.set(s, [...(studies.get(s) ?? []), uid]);
  }
  const rowsPerStudy = new Map<string, number>();
  for (const r of rows) if (r.status === 'indexed') rowsPerStudy.set(r.study_instance_uid, (rowsPerStudy.get(r.study_instance_uid) ?? 0) + 1);
  let qidoErrors = 0;
  say(`check: QIDO-RS of ${studies.size} studies…`);
  await inParallel([...studies], 8, async ([study, uids]) => {
    const res = await get(`${opts.baseUrl}/dicomweb/studies/${study}/instances?limit=1000`, 'application/dicom+json', agent, opts.auth);
    if (res.status !== 200) {
      qidoErrors++;
      uids.forEach((u) => lost.add(u));
      return;
    }
    const found = (JSON.parse(res.body.toString()) as Array<Record<string, { Value?: string[] }>>).map((d) => d['00080018']?.Value?.[0] ?? '');
    const seen = new Set<string>();
    for (const f of found) {
      if (seen.has(f)) duplicates++;
      seen.add(f);
    }
    for (const u of uids) if (!seen.has(u)) lost.add(u);
    const studyRes = await get(`${opts.baseUrl}/dicomweb/studies?StudyInstanceUID=${study}`, 'application/dicom+json', agent, opts.auth);
    const count = (JSON.parse(studyRes.body.toString() || '[]') as Array<Record<string, { Value?: number[] }>>)[0]?.['00201208']?.Value?.[0];
    if (count !== rowsPerStudy.get(study)) {
      duplicates++;
      notes.push(`study ${study}: NumberOfStudyRelatedInstances ${count}, indexed rows ${rowsPerStudy.get(study)}`);
    }
  });
  if (qidoErrors) notes.push(`${qidoErrors} QIDO-RS requests failed`);

  // 3. WADO-RS: the stored bytes, exactly.
  say(`check: WADO-RS of ${acked.length} instances…`);
  let wadoErrors = 0;
  await inParallel(acked, 8, async (uid) => {
    const sent = ledger.instances.get(uid)!;
    const res = await get(
      `${opts.baseUrl}/dicomweb/studies/${sent.studyInstanceUid}/series/${sent.seriesInstanceUid}/instances/${uid}`,
      'multipart/related; type="application/dicom"; transfer-syntax=*',
      agent,
      opts.auth,
    );
    if (res.status !== 200) {
      wadoErrors++;
      lost.add(uid);
      return;
    }
    const parts = parseMultipartResponse(res.body, res.contentType);
    if (parts.length !== 1 || createHash('sha256').update(parts[0].body).digest('hex') !== sent.sha256) lost.add(uid);
  });
  if (wadoErrors) notes.push(`${wadoErrors} WADO-RS retrieves failed`);
  agent.destroy();

  const [{ n: versions }] = await db('instance_version').count({ n: '*' });
  duplicates += Number(versions);

  // 4. After the sweep's grace: no upload rows, no unreferenced objects, no missing objects.
  const sweepStart = Date.now();
  let uploadRowsLeft: number;
  for (;;) {
    const [{ n }] = await db('upload').count({ n: '*' });
    uploadRowsLeft = Number(n);
    if (uploadRowsLeft === 0 || Date.now() - sweepStart > opts.sweepWaitMs) break;
    say(`check: waiting for the sweep to clear ${uploadRowsLeft} upload rows…`);
    await sleep(500);
  }
  // Every study reaches "stable" (the quiet-period event that quality assessment hangs on).
  let unstableStudies: number;
  for (;;) {
    const [{ n }] = await db('study').whereNull('stable_at').count({ n: '*' });
    unstableStudies = Number(n);
    if (unstableStudies === 0 || Date.now() - sweepStart > opts.sweepWaitMs + opts.stableWaitMs) break;
    say(`check: waiting for ${unstableStudies} studies to become stable…`);
    await sleep(500);
  }

  const objects = await opts.store.list();
  const referenced = new Set<string>([...rows.map((r) => r.object_key), ...((await db('instance_version').pluck('object_key')) as string[])]);
  const inStore = new Set(objects);
  const orphans = objects.filter((k) => !referenced.has(k));
  const dangling = [...referenced].filter((k) => !inStore.has(k));

  return {
    acknowledged: acked.length,
    verified: acked.length - lost.size,
    lost: [...lost],
    duplicates,
    orphans,
    dangling,
    uploadRowsLeft,
    unstableStudies,
    unindexed,
    storedUnacknowledged,
    indexDrainSeconds,
    notes,
  };
}
