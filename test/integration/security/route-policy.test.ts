import { findPolicy } from '../../../gateway/security/policy';
import { startTestGateway, type TestGateway } from '../../support/gateway';

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: Layer[]; router?: { stack?: Layer[] } };
  rawPath?: string | RegExp | Array<string | RegExp>;
}

/** Every (method, path) the app routes, walking nested routers and sub-apps (Express 5 / router 2). */
function routes(stack: Layer[], prefix = ''): Array<{ method: string; path: string }> {
  const out: Array<{ method: string; path: string }> = [];
  for (const layer of stack) {
    const mounts = (Array.isArray(layer.rawPath) ? layer.rawPath : [layer.rawPath]).map((p) => (typeof p === 'string' && p !== '/' ? p : ''));
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      for (const method of Object.keys(layer.route.methods).filter((m) => m !== '_all')) {
        for (const p of paths) out.push({ method: method.toUpperCase(), path: `${prefix}${p}` });
      }
      continue;
    }
    // A sub-app (bull-board) is opaque once mounted: its whole subtree needs an entry, for every method.
    if ((layer as { name?: string }).name === 'mounted_app') {
      for (const mount of mounts) for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']) out.push({ method, path: `${prefix}${mount}/*rest` });
      continue;
    }
    const inner = layer.handle.stack ?? layer.handle.router?.stack;
    if (inner) for (const mount of mounts) out.push(...routes(inner, `${prefix}${mount}`));
  }
  return out;
}

/** A concrete path for a route pattern: `:param` → a UID-like value, `*rest` → two segments, `{…}` both ways. */
function samples(pattern: string): string[] {
  const optional = /\{([^{}]*)\}/.exec(pattern);
  if (optional) return [...samples(pattern.replace(optional[0], '')), ...samples(pattern.replace(optional[0], optional[1]))];
  return [pattern.replace(/:[A-Za-z0-9_]+/g, '1.2.3').replace(/\*[A-Za-z0-9_]*/g, '7FE00010/1')];
}

/**
 * Default deny made visible: a route added without an entry in gateway/security/policy.ts is
 * unreachable (404), and this test names it so the entry gets written with its roles.
 */
describe('the route policy covers every route', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ workers: false });
  });
  afterAll(() => gw.close());

  it('finds a policy entry for every route of the app', () => {
    const all = routes((gw.app as unknown as { router: { stack: Layer[] } }).router.stack);
    expect(all.length).toBeGreaterThan(40);
    const missing = all.flatMap(({ method, path }) =>
      samples(path)
        .filter((p) => !findPolicy(method, p))
        .map((p) => `${method} ${path} (${p})`),
    );
    expect(missing).toEqual([]);
    // The walk sees the routers it should (nested DICOMweb, admin, recognition, bull-board).
    const paths = new Set(all.map((r) => r.path));
    for (const p of ['/healthz', '/dicomweb/studies', '/admin/credentials', '/admin/audit', '/recognition/reminders']) expect(paths).toContain(p);
    expect([...paths].some((p) => p.startsWith('/admin/queues/'))).toBe(true);
  });

  it('answers an authenticated request for a route without an entry with 404, an anonymous one with 401', async () => {
    expect((await gw.fetch(`${gw.baseUrl}/no/such/route`)).status).toBe(404);
    const anonymous = await gw.fetch(`${gw.baseUrl}/no/such/route`, { headers: { Authorization: '' } });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });
});
