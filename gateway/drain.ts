import type http from 'node:http';

/**
 * Graceful stop of the HTTP server. Responses are tracked from the start so that, once stopping,
 * every response not yet sent — the ones in flight included — carries `Connection: close`:
 * keep-alive clients (a PACS posting study after study) leave after their current request. No new
 * connections are accepted, idle ones close as they appear, and whatever is still open at the
 * deadline is cut (an orchestrator would kill the process soon after anyway).
 */
export function trackForDrain(server: http.Server): { drain(deadlineMs: number): Promise<void> } {
  const pending = new Set<http.ServerResponse>();
  let draining = false;
  const closeAfter = (res: http.ServerResponse) => {
    if (!res.headersSent) res.setHeader('Connection', 'close');
  };
  server.on('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    if (draining) return closeAfter(res);
    pending.add(res);
    res.once('finish', () => pending.delete(res));
    res.once('close', () => pending.delete(res));
  });

  return {
    drain(deadlineMs) {
      draining = true;
      pending.forEach(closeAfter);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 250);
      const deadline = setTimeout(() => server.closeAllConnections(), deadlineMs);
      return closed.finally(() => {
        clearInterval(sweep);
        clearTimeout(deadline);
      });
    },
  };
}
