import { loadConfig } from '../core/config';
import { prepareDatabase } from '../core/db-setup';
import { closeCoreServices, openCoreServices } from '../core/services';
import { createApp } from './app';
import { createGatewayDeps } from './deps';
import { createServer } from './server';
import { trackForDrain } from './drain';
import { ensureBootstrapAdmin } from '../core/security/api-keys';
import { securityOf } from './security';

/** Within docker-compose's stop_grace_period (30 s) and Kubernetes' default (30 s). */
const SHUTDOWN_DEADLINE_MS = 25_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const core = await openCoreServices(config, 'huren-gateway', 'producer');
  await prepareDatabase(core.db, config.HUREN_DB_SCHEMA, core.queues);
  // HUREN_ADMIN_TOKEN: a platform admin credential with that secret (docs/security.md).
  if ((await ensureBootstrapAdmin(core.db, config.HUREN_ADMIN_TOKEN)) === 'created')
    core.logger.info('bootstrap admin credential created from HUREN_ADMIN_TOKEN');
  const deps = createGatewayDeps(core);
  const app = createApp(deps);
  const server = createServer(app, deps);
  const drainer = trackForDrain(server);
  server.listen(config.HUREN_PORT, config.HUREN_HOST, () => {
    core.logger.info({ port: config.HUREN_PORT }, 'huren gateway listening');
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    core.logger.info({ signal }, 'draining HTTP connections');
    // Requests in flight finish (a STOW completes its writes); keep-alive clients are sent away.
    await drainer.drain(SHUTDOWN_DEADLINE_MS);
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
