import http from 'node:http';
import type { Express } from 'express';
import { HurenError } from '../core/errors';
import type { GatewayDeps } from './deps';
import { checkStowRequest } from './dicomweb/stow';

/**
 * The HTTP server. `Expect: 100-continue` is answered here: a STOW whose declared size or
 * Content-Type is unacceptable gets its final status before the client sends the body.
 */
export function createServer(app: Express, deps: GatewayDeps): http.Server {
  const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 }, app);
  server.on('checkContinue', (req, res) => {
    if (req.method === 'POST' && req.url?.startsWith('/dicomweb/studies')) {
      try {
        checkStowRequest(req as Parameters<typeof checkStowRequest>[0], deps.config.HUREN_STOW_MAX_REQUEST_BYTES);
      } catch (err) {
        const e = err as HurenError;
        res.writeHead(e.status, { 'Content-Type': 'application/problem+json', Connection: 'close' });
        res.end(JSON.stringify({ status: e.status, code: e.code, message: e.message }));
        return;
      }
    }
    res.writeContinue();
    app(req, res);
  });
  return server;
}
