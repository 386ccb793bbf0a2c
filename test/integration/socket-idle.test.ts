import { readdirSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { makeInstance } from '../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../support/gateway';

/** A client that goes silent mid-body is cut off after HUREN_SOCKET_IDLE_SECONDS, and STOW cleans up after it. */
describe('idle connections', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ workers: false, env: { HUREN_SOCKET_IDLE_SECONDS: '1' } });
  });
  afterAll(() => gw.close());

  const filesUnder = (dir: string): string[] =>
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'));

  it('closes a connection whose STOW body stops arriving, keeping no partial object and no claim', async () => {
    const { body, contentType } = multipartBody([makeInstance(), makeInstance()]);
    const sent = body.subarray(0, body.length - 2000);
    const socket = net.connect(Number(new URL(gw.baseUrl).port), '127.0.0.1');
    const closed = new Promise<string>((resolve) => {
      let answer = '';
      socket.on('data', (d) => (answer += d.toString('latin1')));
      socket.on('close', () => resolve(answer));
      socket.on('error', () => undefined);
    });
    socket.write(
      [
        'POST /dicomweb/studies HTTP/1.1',
        'Host: 127.0.0.1',
        `Authorization: ${gw.auth.Authorization}`,
        `Content-Type: ${contentType}`,
        `Content-Length: ${body.length}`,
        '',
        '',
      ].join('\r\n'),
    );
    socket.write(sent);
    // The client sends nothing more and never closes: the gateway must.
    expect(await closed).toBe('');

    // The first part was whole, so it may be recorded (stored, never acknowledged); the cut-off
    // second part leaves nothing, and the request's claim goes once it has cleaned up.
    for (let i = 0; i < 200 && (await gw.core.db('upload').count({ n: '*' }))[0].n !== '0'; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await gw.core.db('upload').count({ n: '*' })).toEqual([{ n: '0' }]);
    const referenced: string[] = await gw.core.db('instance').pluck('object_key');
    expect(filesUnder(path.join(gw.core.config.HUREN_DATA_DIR, 'objects')).sort()).toEqual(referenced.sort());
  });
});
