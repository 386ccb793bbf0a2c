import { createPolicyMatcher, findPolicy, POLICY, audited } from '../../../gateway/security/policy';

describe('route policy table', () => {
  it('finds the entry of a route with its decoded params, as Express matches', () => {
    const m = findPolicy('GET', '/dicomweb/studies/1.2.3/series/4.5/instances/6.7/frames/1,2');
    expect(m?.policy.action).toBe('dicomweb.retrieve');
    expect(m?.params).toEqual({ study: '1.2.3', series: '4.5', sop: '6.7', frames: '1,2' });
    expect(findPolicy('HEAD', '/dicomweb/studies/1.2.3/metadata')?.policy.roles).toEqual(['viewer']);
    expect(findPolicy('GET', '/dicomweb/studies/1.2.3/series')?.policy.action).toBe('dicomweb.query');
    expect(findPolicy('GET', '/dicomweb/studies/1.2.3/series/')?.policy.action).toBe('dicomweb.query');
    expect(findPolicy('GET', '/DICOMWEB/studies')?.policy.action).toBe('dicomweb.query');
    expect(findPolicy('GET', '/dicomweb/studies/1.2.3/series/4.5/instances/6.7/bulk/7FE00010/1/00100010')?.policy.action).toBe('dicomweb.retrieve');
    expect(findPolicy('POST', '/dicomweb/studies/1.2.3')?.policy.roles).toEqual(['pacs']);
    expect(findPolicy('GET', '/admin/queues')?.policy.roles).toEqual(['ops']);
    expect(findPolicy('PUT', '/admin/queues/api/queues/x/retry/failed')?.policy.roles).toEqual(['ops']);
    expect(findPolicy('GET', '/recognition/reminders/abc/views')).toBeUndefined();
    expect(findPolicy('POST', '/recognition/reminders/abc/views')?.params).toEqual({ id: 'abc' });
    expect(findPolicy('GET', '/recognition/studies/%31.2/quality')?.params).toEqual({ study: '1.2' });
  });

  it('denies by default: unknown paths, methods, encodings and traversal match nothing', () => {
    for (const [method, path] of [
      ['GET', '/nothing'],
      ['DELETE', '/dicomweb/studies/1.2.3'],
      ['GET', '/dicomweb//studies'],
      ['GET', '/dicomweb/%73tudies'],
      ['GET', '/dicomweb/studies/%E0%A4%A/metadata'],
      ['GET', '/admin/institutions/x/y'],
      ['POST', '/healthz'],
      ['GET', 'healthz'],
      ['GET', '/dicomweb/studies/1.2/../../admin/credentials'],
    ]) {
      expect([method, path, findPolicy(method, path)?.policy.action]).toEqual([method, path, undefined]);
    }
  });

  it('has only /healthz public, and every entry a known role and an audit setting', () => {
    expect(POLICY.filter((p) => p.roles === 'public').map((p) => p.path)).toEqual(['/healthz']);
    for (const p of POLICY) {
      expect(p.path.startsWith('/')).toBe(true);
      expect(p.action).toMatch(/^[a-z_]+(\.[a-z_]+)+$/);
    }
    const onlyChanges = POLICY.find((p) => p.audit === 'changes')!;
    expect(audited(onlyChanges, 'GET')).toBe(false);
    expect(audited(onlyChanges, 'PUT')).toBe(true);
  });

  it('takes the first matching entry', () => {
    const match = createPolicyMatcher([
      { method: 'GET', path: '/a/:x', roles: ['viewer'], action: 'a.first', audit: 'never' },
      { method: '*', path: '/a/*', roles: ['ops'], action: 'a.rest', audit: 'never' },
    ]);
    expect(match('GET', '/a/1')?.policy.action).toBe('a.first');
    expect(match('POST', '/a/1')?.policy.action).toBe('a.rest');
    expect(match('GET', '/a/1/2')?.policy.action).toBe('a.rest');
    expect(match('GET', '/a')?.policy.action).toBe('a.rest');
  });
});
