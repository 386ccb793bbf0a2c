import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { trackForDrain } from '../../gateway/drain';

/** Graceful stop: a keep-alive client that keeps sending is told to leave, and the server closes. */
describe('trackForDrain', () => {
  it('answers the request in flight with Connection: close and then finishes', async () => {
    let drained: Promise<void> | undefined;
    let served = 0;
    const server = http.createServer((_req, res) => {
      served += 1;
      // The stop arrives while the third request is being handled.
      if (served === 3) drained = drainer.drain(5000);
      setTimeout(() => res.end('ok'), 20);
    });
    const drainer = trackForDrain(server);
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

    // A client that would post forever, back to back on one keep-alive connection.
    const answers: Array<string | undefined> = [];
    for (let i = 0; i < 5; i++) answers.push(await get().catch(() => 'refused'));
    await drained;
    agent.destroy();
    expect(answers.slice(0, 3)).toEqual(['keep-alive', 'keep-alive', 'close']);
    // Afterwards the server accepts nothing more: the client's next requests are refused.
    expect(answers.slice(3)).toEqual(['refused', 'refused']);
    expect(served).toBe(3);
  });
});
