import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { drainServer } from '../../gateway/drain';

/** Graceful stop: a keep-alive client that keeps sending is told to leave, and the server closes. */
describe('drainServer', () => {
  it('closes keep-alive connections after their request in flight and finishes', async () => {
    const server = http.createServer((_req, res) => setTimeout(() => res.end('ok'), 20));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const port = (server.address() as AddressInfo).port;
    const get = () =>
      new Promise<string | undefined>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port, agent }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.headers.connection));
          })
          .on('error', reject);
      });

    expect(await get()).toBe('keep-alive');
    // A client that would post forever: requests back to back on one keep-alive connection.
    let stop = false;
    const connectionHeaders: Array<string | undefined> = [];
    const client = (async () => {
      while (!stop) connectionHeaders.push(await get().catch(() => 'refused'));
    })();
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    await drainServer(server, 5000);
    stop = true;
    await client;
    agent.destroy();
    expect(Date.now() - started).toBeLessThan(2000);
    expect(connectionHeaders).toContain('close');
  });
});
