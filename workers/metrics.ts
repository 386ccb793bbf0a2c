import http from 'node:http';
import type { Worker } from 'bullmq';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Worker-side Prometheus metrics, served on their own port (workers have no HTTP API):
 * job run time and outcomes per queue, and the time from enqueue to completion, which for
 * index jobs is the time-to-queryable of an instance.
 */
export function serveWorkerMetrics(workers: Worker[], port: number, host: string): http.Server {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const runSeconds = new Histogram({
    name: 'huren_job_run_seconds',
    help: 'Job processing time by queue',
    labelNames: ['queue'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const endToEndSeconds = new Histogram({
    name: 'huren_job_latency_seconds',
    help: 'From enqueue to completion by queue (index-instance: time until the instance is queryable)',
    labelNames: ['queue'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const outcomes = new Counter({
    name: 'huren_jobs_total',
    help: 'Finished jobs by queue and outcome',
    labelNames: ['queue', 'outcome'],
    registers: [registry],
  });

  for (const w of workers) {
    w.on('completed', (job) => {
      outcomes.inc({ queue: w.name, outcome: 'completed' });
      if (job.processedOn && job.finishedOn) runSeconds.observe({ queue: w.name }, (job.finishedOn - job.processedOn) / 1000);
      if (job.finishedOn) endToEndSeconds.observe({ queue: w.name }, (job.finishedOn - job.timestamp - (job.opts.delay ?? 0)) / 1000);
    });
    w.on('failed', () => outcomes.inc({ queue: w.name, outcome: 'failed' }));
  }

  const server = http.createServer(async (req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': registry.contentType }).end(await registry.metrics());
  });
  server.listen(port, host);
  return server;
}
