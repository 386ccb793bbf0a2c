import { loadConfig } from '../core/config';
import { prepareDatabase } from '../core/db-setup';
import { closeCoreServices, openCoreServices } from '../core/services';
import { serveWorkerMetrics } from './metrics';
import { startWorkers } from './start';

async function main(): Promise<void> {
  const config = loadConfig();
  const core = await openCoreServices(config, 'huren-worker', 'worker');
  await prepareDatabase(core.db, config.HUREN_DB_SCHEMA, core.queues);
  const running = await startWorkers(core);
  const metrics = serveWorkerMetrics(running.workers, config.HUREN_WORKER_METRICS_PORT, config.HUREN_HOST);
  core.logger.info({ concurrency: config.HUREN_WORKER_CONCURRENCY }, 'huren worker started');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    core.logger.info({ signal }, 'finishing jobs in progress');
    metrics.close();
    await running.close();
    await closeCoreServices(core);
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
