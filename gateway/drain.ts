import type http from 'node:http';

/**
 * Graceful stop of the HTTP server: no new connections; every response from now on carries
 * `Connection: close`, so keep-alive clients (a PACS posting study after study) leave after
 * their request in flight; idle connections close as they appear. Whatever is still open at
 * the deadline is cut (the orchestrator would kill the process soon after anyway).
 */
export function drainServer(server: http.Server, deadlineMs: number): Promise<void> {
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  });
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 250);
  const deadline = setTimeout(() => server.closeAllConnections(), deadlineMs);
  return closed.finally(() => {
    clearInterval(sweep);
    clearTimeout(deadline);
  });
}
