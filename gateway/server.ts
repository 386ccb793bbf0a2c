import http from 'node:http';
import type { Express } from 'express';
import { HurenError } from '../core/errors';
import type { GatewayDeps } from './deps';
import { checkStowRequest, STORAGE_FULL_BEFORE_BODY } from './dicomweb/stow';

/**
 * The HTTP server. `Expect: 100-continue` is answered here: a STOW whose declared size or
 * Content-Type is unacceptable, or that storage full would refuse (StorageFullHold), gets its
 * final status before the client sends the body.
 */
export function createServer(app: Express, deps: GatewayDeps): http.Server {
  // Header blocks over HUREN_MAX_HEADER_BYTES are answered 431 by Node itself.
  const server = http.createServer(
    { requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000, maxHeaderSize: deps.config.HUREN_MAX_HEADER_BYTES },
    app,
  );
  server.maxHeadersCount = 200;
  // requestTimeout is off (a 4 GiB STOW may take long); an idle socket is what betrays a client
  // gone silent mid-body. Without a 'timeout' listener Node destroys the socket, the request
  // stream errors, and STOW cleans up as for any disconnect.
  server.timeout = deps.config.HUREN_SOCKET_IDLE_SECONDS * 1000;
  server.on('checkContinue', (req, res) => {
    if (req.method === 'POST' && req.url?.startsWith('/dicomweb/studies')) {
      try {
        // No credential at all: refused before the body is sent (the app checks it fully otherwise).
        if (!req.headers.authorization) throw new HurenError(401, 'unauthenticated', 'Authentication required / 需要身份认证');
        checkStowRequest(req as Parameters<typeof checkStowRequest>[0], deps.config.HUREN_STOW_MAX_REQUEST_BYTES);
        if (deps.storageFullHold.refusing()) {
          deps.metrics.stowAdmission.inc({ outcome: 'storage_full' });
          throw new HurenError(503, 'storage_full', STORAGE_FULL_BEFORE_BODY);
        }
      } catch (err) {
        const e = err as HurenError;
        res.writeHead(e.status, {
          'Content-Type': 'application/problem+json',
          Connection: 'close',
          ...(e.status === 401 && { 'WWW-Authenticate': 'Bearer realm="huren"' }),
          ...(e.code === 'storage_full' && { 'Retry-After': String(deps.config.HUREN_STOW_STORAGE_FULL_RETRY_AFTER_SECONDS) }),
        });
        res.end(JSON.stringify({ status: e.status, code: e.code, message: e.message }));
        return;
      }
    }
    res.writeContinue();
    app(req, res);
  });
  return server;
}
