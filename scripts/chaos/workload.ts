/**
 * The ingest workload of a chaos scenario: several STOW-RS clients sending small generated
 * studies, each recording exactly which SOP Instance UIDs were acknowledged as stored
 * (ReferencedSOPSequence of a 200/202) and which failed or got a 503, and retrying what was
 * not acknowledged the way a PACS would (after a pause, bounded in time).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { makeInstance, randomUid } from '../../test/support/dicom-factory';
import { sleep } from './infra';

export interface SentInstance {
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  bytes: Buffer;
  sha256: string;
}

/** One STOW-RS exchange as the client saw it. */
export interface Exchange {
  start: number;
  end: number;
  /** HTTP status, or 0 for a connection error / client-side timeout / deliberate abort. */
  status: number;
  error?: string;
  referenced: string[];
  failed: Array<{ uid?: string; reason?: number }>;
  /** An error answer's problem document and Retry-After header, as the PACS's log would show them. */
  problem?: { code?: string; message?: string; retryAfter?: string };
}

/** What the clients sent and what the gateway answered: the checker's ground truth. */
export class Ledger {
  readonly instances = new Map<string, SentInstance>();
  /** Acknowledged as stored at least once. */
  readonly acked = new Set<string>();
  /** Sent in a request that got no answer because the client broke it off on purpose. */
  readonly abandoned = new Set<string>();
  readonly exchanges: Exchange[] = [];

  add(instance: SentInstance): void {
    this.instances.set(instance.sopInstanceUid, instance);
  }

  count(pred: (e: Exchange) => boolean): number {
    return this.exchanges.filter(pred).length;
  }

  /** Instances that were sent and never acknowledged (nor deliberately abandoned). */
  unacknowledged(): string[] {
    return [...this.instances.keys()].filter((uid) => !this.acked.has(uid) && !this.abandoned.has(uid));
  }
}

const MODALITIES = [
  { modality: 'CT', rows: 32, columns: 32 },
  { modality: 'MR', rows: 24, columns: 24 },
  { modality: 'DX', rows: 40, columns: 32 },
] as const;

let studyCounter = 0;

/** One small study: `n` instances in one series, 2–4 KB each. */
export function makeStudy(n: number): SentInstance[] {
  const m = MODALITIES[studyCounter++ % MODALITIES.length];
  const studyInstanceUid = randomUid();
  const seriesInstanceUid = randomUid();
  const patientId = `CHAOS${String(studyCounter % 97).padStart(3, '0')}`;
  return Array.from({ length: n }, (_, i) => {
    const sopInstanceUid = randomUid();
    const bytes = makeInstance({
      modality: m.modality,
      rows: m.rows,
      columns: m.columns,
      studyInstanceUid,
      seriesInstanceUid,
      sopInstanceUid,
      patientId,
      patientName: `CHAOS^${patientId}`,
      studyDate: '20250101',
      instanceNumber: i + 1,
    });
    return { sopInstanceUid, studyInstanceUid, seriesInstanceUid, bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
  });
}

const BOUNDARY = 'huren-chaos-boundary';
export const STOW_CONTENT_TYPE = `multipart/related; type="application/dicom"; boundary=${BOUNDARY}`;

export function multipart(instances: SentInstance[]): Buffer {
  const chunks: Buffer[] = [];
  for (const i of instances) chunks.push(Buffer.from(`--${BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n`), i.bytes, Buffer.from('\r\n'));
  chunks.push(Buffer.from(`--${BOUNDARY}--\r\n`));
  return Buffer.concat(chunks);
}

type DicomJson = Record<string, { Value?: Array<Record<string, { Value?: Array<string | number> }>> }>;

/** POST /studies with the whole body (Content-Length); never rejects: failures are an Exchange too. */
export function stowOnce(baseUrl: string, instances: SentInstance[], agent: http.Agent, auth: Record<string, string>, timeoutMs = 30_000): Promise<Exchange> {
  const body = multipart(instances);
  const start = Date.now();
  return new Promise((resolve) => {
    let done = false;
    const finish = (e: Omit<Exchange, 'start' | 'end'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ start, end: Date.now(), ...e });
    };
    const req = http.request(`${baseUrl}/dicomweb/studies`, {
      method: 'POST',
      agent,
      headers: { ...auth, 'Content-Type': STOW_CONTENT_TYPE, 'Content-Length': body.length, Accept: 'application/dicom+json' },
    });
    const timer = setTimeout(() => {
      req.destroy();
      finish({ status: 0, error: 'timeout', referenced: [], failed: [] });
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => finish({ status: 0, error: err.message, referenced: [], failed: [] }));
      res.on('end', () => {
        let parsed: unknown = {};
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString());
        } catch {
          // not JSON: the status tells
        }
        const json = parsed as DicomJson;
        const status = res.statusCode ?? 0;
        const doc = parsed as { code?: string; message?: string };
        const problem = status >= 400 ? { code: doc.code, message: doc.message, retryAfter: res.headers['retry-after'] } : undefined;
        const referenced = (json['00081199']?.Value ?? []).map((r) => String(r['00081155']?.Value?.[0] ?? ''));
        const failed = (json['00081198']?.Value ?? []).map((r) => ({
          uid: r['00081155']?.Value?.[0] as string | undefined,
          reason: r['00081197']?.Value?.[0] as number | undefined,
        }));
        finish({ status, referenced, failed, ...(problem && { problem }) });
      });
    });
    req.on('error', (err) => finish({ status: 0, error: err.message, referenced: [], failed: [] }));
    req.end(body);
  });
}

/**
 * Sends part of a request and then breaks it off: `stallMs` 0 destroys the socket at once
 * (client gone); otherwise the client goes silent for that long first (a stuck sender).
 */
export function stowBrokenOff(baseUrl: string, instances: SentInstance[], fraction: number, stallMs: number, auth: Record<string, string>): Promise<Exchange> {
  const body = multipart(instances);
  const cut = Math.max(1, Math.floor(body.length * fraction));
  const start = Date.now();
  return new Promise((resolve) => {
    const req = http.request(`${baseUrl}/dicomweb/studies`, {
      method: 'POST',
      agent: false,
      headers: { ...auth, 'Content-Type': STOW_CONTENT_TYPE, 'Content-Length': body.length, Accept: 'application/dicom+json' },
    });
    let answered = 0;
    req.on('response', (res) => {
      answered = res.statusCode ?? 0;
      res.resume();
    });
    req.on('error', () => undefined);
    req.write(body.subarray(0, cut));
    setTimeout(() => {
      req.destroy();
      resolve({ start, end: Date.now(), status: answered, error: 'aborted by the client', referenced: [], failed: [] });
    }, stallMs + 50);
  });
}

export interface ClientsOptions {
  baseUrl: string;
  /** Authorization header (huren with authentication). */
  auth: Record<string, string>;
  ledger: Ledger;
  clients: number;
  /** Instances per request (one study each). */
  perRequest: number;
  /** New studies are sent until this many ms after start; then only retries. */
  sendForMs: number;
  /** Pause between a client's requests. */
  paceMs: number;
  /** Retries (not acknowledged, 503, errors) stop this many ms after start. */
  retryUntilMs: number;
  retryPauseMs: number;
  /** Every client sends exactly these batches (duplicate storm) instead of fresh studies. */
  fixedBatches?: SentInstance[][];
  /** Rounds over fixedBatches per client. */
  rounds?: number;
  onExchange?: (e: Exchange) => void;
}

/**
 * Runs the clients to completion: each sends studies until `sendForMs`, and keeps re-sending
 * whatever was not acknowledged until it is, or until `retryUntilMs`.
 */
export async function runClients(o: ClientsOptions): Promise<void> {
  const t0 = Date.now();
  const record = (e: Exchange) => {
    o.ledger.exchanges.push(e);
    for (const uid of e.referenced) o.ledger.acked.add(uid);
    o.onExchange?.(e);
  };

  const client = async (n: number) => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const pending: SentInstance[][] = [];
    let round = 0;
    let fixedIndex = 0;
    // Clients share an order in groups of 4, so identical uploads also arrive at the same moment.
    const order = o.fixedBatches ? shuffled(o.fixedBatches, n % 4) : [];
    try {
      for (;;) {
        const now = Date.now() - t0;
        let batch: SentInstance[] | undefined;
        if (pending.length > 0 && now < o.retryUntilMs) {
          batch = pending.shift();
        } else if (o.fixedBatches && round < (o.rounds ?? 1)) {
          batch = order[fixedIndex++];
          if (fixedIndex === order.length) {
            fixedIndex = 0;
            round++;
          }
        } else if (!o.fixedBatches && now < o.sendForMs) {
          batch = makeStudy(o.perRequest);
        }
        if (!batch) {
          if (pending.length === 0 || now >= o.retryUntilMs) return;
          continue;
        }
        for (const i of batch) o.ledger.add(i);
        const e = await stowOnce(o.baseUrl, batch, agent, o.auth);
        record(e);
        const acked = new Set(e.referenced);
        const notAcked = batch.filter((i) => !acked.has(i.sopInstanceUid) && !o.ledger.acked.has(i.sopInstanceUid));
        if (notAcked.length > 0) {
          pending.push(notAcked);
          await sleep(o.retryPauseMs);
        } else {
          await sleep(o.paceMs);
        }
      }
    } finally {
      agent.destroy();
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, n) => client(n)));
}

function shuffled<T>(list: T[], seed: number): T[] {
  const out = [...list];
  let s = seed * 7919 + 1;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 48271) % 2147483647;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
