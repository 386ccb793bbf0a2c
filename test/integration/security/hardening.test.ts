import http from 'node:http';
import { startTestGateway, type TestGateway } from '../../support/gateway';

/** Response headers, CORS for a viewer origin, header and body limits, the per-credential rate limit. */
describe('hardening', () => {
  let gw: TestGateway;
  const OHIF = 'https://viewer.example.org';
  beforeAll(async () => {
    gw = await startTestGateway({
      workers: false,
      env: {
        HUREN_CORS_ORIGINS: `${OHIF}, https://other.example.org`,
        HUREN_RATE_LIMIT_PER_MINUTE: '20',
        HUREN_MAX_HEADER_BYTES: '8192',
        HUREN_STOW_MAX_REQUEST_BYTES: '100000',
      },
    });
  });
  afterAll(() => gw.close());

  it('sets security headers on API answers, a page CSP on the queue UI, and no X-Powered-By', async () => {
    const res = await gw.fetch(`${gw.dicomweb}/studies`);
    expect(res.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
    expect(res.headers.get('x-powered-by')).toBeNull();
    const anonymous = await gw.fetch(`${gw.dicomweb}/studies`, { headers: { Authorization: '' } });
    expect(anonymous.headers.get('content-security-policy')).toMatch(/default-src 'none'/);
    const board = await gw.fetch(`${gw.baseUrl}/admin/queues`);
    expect(board.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    const challenge = await gw.fetch(`${gw.baseUrl}/admin/queues`, { headers: { Authorization: '' } });
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get('www-authenticate')).toMatch(/^Basic realm="huren"/);
    // Browsers resend Basic credentials: the API key as the password.
    const basic = await gw.fetch(`${gw.baseUrl}/admin/queues`, {
      headers: { Authorization: `Basic ${Buffer.from(`ops:${gw.auth.Authorization.slice(7)}`).toString('base64')}` },
    });
    expect(basic.status).toBe(200);
  });

  it('answers CORS preflights for allowed origins with what OHIF needs, and nothing for others', async () => {
    const preflight = await fetch(`${gw.dicomweb}/studies`, {
      method: 'OPTIONS',
      headers: { Origin: OHIF, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'authorization,accept,if-none-match' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(OHIF);
    expect(preflight.headers.get('access-control-allow-headers')).toMatch(/Authorization.*Accept.*Content-Type.*If-None-Match/);
    const simple = await gw.fetch(`${gw.dicomweb}/studies`, { headers: { Origin: OHIF } });
    expect(simple.headers.get('access-control-allow-origin')).toBe(OHIF);
    expect(simple.headers.get('access-control-expose-headers')).toMatch(/ETag.*Warning.*Content-Type/);
    const stranger = await fetch(`${gw.dicomweb}/studies`, {
      method: 'OPTIONS',
      headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' },
    });
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('answers 431 for an oversized header block, 413 for an oversized STOW, 401 before a STOW body without credentials', async () => {
    const big = await new Promise<number>((resolve, reject) => {
      http.get(`${gw.dicomweb}/studies`, { headers: { ...gw.auth, 'X-Padding': 'x'.repeat(10_000) } }, (res) => resolve(res.statusCode!)).on('error', reject);
    });
    expect(big).toBe(431);
    const tooLarge = await gw.fetch(`${gw.dicomweb}/studies`, {
      method: 'POST',
      body: Buffer.alloc(200_000),
      headers: { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b' },
    });
    expect(tooLarge.status).toBe(413);
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${gw.dicomweb}/studies`, {
        method: 'POST',
        headers: { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=b', 'Content-Length': '50000', Expect: '100-continue' },
      });
      req.on('continue', () => reject(new Error('asked for the body without credentials')));
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    expect(status).toBe(401);
  });

  it('limits requests per credential per minute: 429 with Retry-After, other credentials unaffected', async () => {
    const busy = await gw.credential({ roles: ['viewer'], name: 'busy' });
    const statuses: number[] = [];
    let retryAfter = 0;
    for (let i = 0; i < 22; i++) {
      const res = await gw.fetch(`${gw.dicomweb}/studies`, { headers: busy.headers });
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfter = Number(res.headers.get('retry-after'));
        expect(((await res.json()) as { code: string }).code).toBe('rate_limited');
      }
    }
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.slice(20)).toEqual([429, 429]);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const other = await gw.credential({ roles: ['viewer'], name: 'calm' });
    expect((await gw.fetch(`${gw.dicomweb}/studies`, { headers: other.headers })).status).toBe(200);
  });
});
