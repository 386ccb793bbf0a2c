import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { JobQueues } from '../../core/jobs/queues';

export interface GatewayMetrics {
  registry: Registry;
  stowInstances: Counter<'outcome'>;
  stowBytes: Counter;
  /** STOW requests by admission outcome (gateway/dicomweb/stow-admission.ts). */
  stowAdmission: Counter<'outcome'>;
  /** The index lag as admission control last read it. */
  indexLag: Gauge;
  requestSeconds: Histogram<'transaction' | 'status'>;
}

/** One registry per gateway (tests build several apps in one process). */
export function createGatewayMetrics(queues: JobQueues): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const stowInstances = new Counter({
    name: 'huren_stow_instances_total',
    help: 'STOW-RS instances by outcome (stored, duplicate, failed)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const stowBytes = new Counter({ name: 'huren_stow_bytes_total', help: 'Bytes of stored instances', registers: [registry] });
  const stowAdmission = new Counter({
    name: 'huren_stow_admission_total',
    help: 'STOW-RS requests by admission outcome: immediate, waited (index lag above HUREN_STOW_MAX_INDEX_LAG_SECONDS), refused (503 index_backlog), storage_full (503 before the body: HUREN_STOW_STORAGE_FULL_HOLD_SECONDS)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const indexLag = new Gauge({
    name: 'huren_index_lag_seconds',
    help: 'How long the oldest waiting index job has waited, as STOW admission control last read it',
    registers: [registry],
  });
  const requestSeconds = new Histogram({
    name: 'huren_dicomweb_request_seconds',
    help: 'DICOMweb request latency by transaction (stow, qido, wado) and status',
    labelNames: ['transaction', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: 'huren_queue_jobs',
    help: 'Jobs per queue and state (read from Redis at scrape time)',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      for (const queue of queues.all()) {
        const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
        for (const [state, n] of Object.entries(counts)) this.set({ queue: queue.name, state }, n);
      }
    },
  });
  return { registry, stowInstances, stowBytes, stowAdmission, indexLag, requestSeconds };
}

/** Which DICOMweb transaction a request is: STOW posts, QIDO searches a collection, WADO the rest. */
export function transactionOf(method: string, path: string): 'stow' | 'qido' | 'wado' {
  if (method === 'POST') return 'stow';
  return /\/(studies|series|instances)$/.test(path) ? 'qido' : 'wado';
}

/** Times each DICOMweb request from arrival to response end, labelled by transaction. */
export function timeTransactions(metrics: GatewayMetrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.requestSeconds.startTimer({ transaction: transactionOf(req.method, req.path) });
    res.once('finish', () => end({ status: String(res.statusCode) }));
    next();
  };
}

export function metricsEndpoint(metrics: GatewayMetrics): RequestHandler {
  return async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  };
}
