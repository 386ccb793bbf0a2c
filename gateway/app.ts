import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { Router } from 'express';
import pinoHttp from 'pino-http';
import type { GatewayDeps } from './deps';
import { qidoRoutes } from './dicomweb/qido';
import { storeInstances } from './dicomweb/stow';
import { retrieveBulkdata, retrieveFrames, retrieveInstances, retrieveMetadata } from './dicomweb/wado';
import { healthz, readyz } from './ops/health';
import { metricsEndpoint, timeTransactions } from './ops/metrics';
import { notFoundHandler, problemHandler } from './middleware/problem';
import { institutionsRouter } from './admin/institutions';
import { mappingsRouter } from './admin/mappings';
import { patientsRouter } from './recognition/patients';
import { reportsRouter } from './recognition/reports';
import { classifyRouter } from './recognition/classify';
import { remindersRouter } from './recognition/reminders';
import { recordViewing } from './recognition/viewing';
import { reviewRouter } from './recognition/review';
import { auditRouter } from './admin/audit';
import { credentialsRouter } from './admin/credentials';
import { attachSecurity, createSecurity, trustProxySetting } from './security';

const STUDY = '/studies/:study';
const SERIES = `${STUDY}/series/:series`;
const INSTANCE = `${SERIES}/instances/:sop`;

/** PS3.18 resources under /dicomweb, one handler per transaction. */
function dicomwebRoutes(deps: GatewayDeps): Router {
  const r = Router();
  r.use(timeTransactions(deps.metrics));
  r.post(['/studies', STUDY], storeInstances(deps));

  r.use(qidoRoutes(deps));

  // 调阅: a retrieve carrying a reminder id is recorded (fire-and-forget, never fails the retrieve).
  r.use(STUDY, recordViewing(deps));
  for (const path of [STUDY, SERIES, INSTANCE]) {
    r.get(path, retrieveInstances(deps));
    r.get(`${path}/metadata`, retrieveMetadata(deps));
  }
  r.get(`${INSTANCE}/frames/:frames`, retrieveFrames(deps));
  r.get(`${INSTANCE}/bulk/*tagPath`, retrieveBulkdata(deps));
  return r;
}

function queueBoard(deps: GatewayDeps): Router {
  const adapter = new ExpressAdapter();
  adapter.setBasePath('/admin/queues');
  createBullBoard({ queues: deps.queues.all().map((q) => new BullMQAdapter(q)), serverAdapter: adapter });
  return adapter.getRouter();
}

export function createApp(deps: GatewayDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // Express's weak ETags are computed over whole bodies; WADO metadata sets its own.
  app.set('etag', false);
  app.set('trust proxy', trustProxySetting(deps.config.HUREN_TRUST_PROXY));
  app.use(
    pinoHttp({
      logger: deps.logger,
      // URLs carry UIDs only; query strings may carry patient names and IDs.
      serializers: { req: (req) => ({ id: req.id, method: req.method, url: String(req.url).split('?')[0] }) },
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' },
    }),
  );
  // Headers, CORS, audit trail, authentication and the route policy, before any route (docs/security.md).
  const security = createSecurity(deps);
  attachSecurity(app, security);
  app.use(security.middleware);
  app.get('/healthz', healthz);
  app.get('/readyz', readyz(deps));
  app.get('/metrics', metricsEndpoint(deps.metrics));
  app.use('/admin/queues', queueBoard(deps));
  app.use('/dicomweb', dicomwebRoutes(deps));
  app.use('/admin', institutionsRouter(deps));
  app.use('/admin', credentialsRouter(deps), auditRouter(deps));
  app.use('/recognition', patientsRouter(deps));
  app.use('/recognition', reportsRouter(deps));
  app.use('/recognition', classifyRouter(deps));
  app.use('/recognition', remindersRouter(deps));
  app.use('/admin', mappingsRouter(deps));
  app.use('/recognition', reviewRouter(deps));
  app.use(notFoundHandler);
  app.use(problemHandler);
  return app;
}
