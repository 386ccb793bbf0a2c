import { loadConfig } from '../core/config';
import { prepareDatabase } from '../core/db-setup';
import { closeCoreServices, openCoreServices } from '../core/services';
import { createApp } from './app';
import { createGatewayMetrics } from './ops/metrics';
import { createServer } from './server';
import { ensureBootstrapAdmin } from '../core/security/api-keys';
import { securityOf } from './security';

async function main(): Promise<void> {
  const config = loadConfig();
  const core = await openCoreServices(config, 'huren-gateway', 'producer');
  await prepareDatabase(core.db, config.HUREN_DB_SCHEMA, core.queues);
  // HUREN_ADMIN_TOKEN: a platform admin credential with that secret (docs/security.md).
  if ((await ensureBootstrapAdmin(core.db, config.HUREN_ADMIN_TOKEN)) === 'created')
    core.logger.info('bootstrap admin credential created from HUREN_ADMIN_TOKEN');
  const deps = { ...core, metrics: createGatewayMetrics(core.queues) };
  const app = createApp(deps);
  const server = createServer(app, deps);
  server.listen(config.HUREN_PORT, config.HUREN_HOST, () => {
    core.logger.info({ port: config.HUREN_PORT }, 'huren gateway listening');
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    core.logger.info({ signal }, 'draining HTTP connections');
    // Stop accepting, let requests in flight finish (a STOW completes its writes), then close.
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
    await securityOf(app).close();
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
