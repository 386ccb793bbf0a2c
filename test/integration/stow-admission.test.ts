import { indexLagSeconds } from '../../gateway/dicomweb/stow-admission';
import { startWorkers, type RunningWorkers } from '../../workers/start';
import { makeInstance } from '../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../support/gateway';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * STOW-RS admission control against a real Redis queue: with no worker running, the index jobs
 * of a first request stay waiting; once the oldest has waited longer than
 * HUREN_STOW_MAX_INDEX_LAG_SECONDS, a new request waits, and gets a 503 with Retry-After if the
 * workers do not catch up within HUREN_STOW_ADMISSION_WAIT_SECONDS.
 */
describe('STOW admission control (HUREN_STOW_MAX_INDEX_LAG_SECONDS)', () => {
  let gw: TestGateway;
  let workers: RunningWorkers | undefined;
  const start = async (waitSeconds: string) => {
    gw = await startTestGateway({ workers: false, env: { HUREN_STOW_MAX_INDEX_LAG_SECONDS: '0.3', HUREN_STOW_ADMISSION_WAIT_SECONDS: waitSeconds } });
  };
  afterEach(async () => {
    await workers?.close();
    workers = undefined;
    await gw.close();
  });

  const stow = (n: number) => {
    const { body, contentType } = multipartBody(Array.from({ length: n }, () => makeInstance()));
    return gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', headers: { 'Content-Type': contentType }, body });
  };
  const metricLines = async (prefix: string) => (await (await gw.fetch(`${gw.baseUrl}/metrics`)).text()).split('\n').filter((l) => l.startsWith(prefix));

  it('reads the lag as the age of the oldest waiting index job', async () => {
    await start('1');
    expect(await indexLagSeconds(gw.core.queues.indexInstance)).toBe(0);
    expect((await stow(3)).status).toBe(200);
    await sleep(400);
    const lag = await indexLagSeconds(gw.core.queues.indexInstance);
    expect(lag).toBeGreaterThanOrEqual(0.4);
    expect(lag).toBeLessThan(30);
  });

  it('refuses a STOW with 503, Retry-After and a bilingual problem while the index stays behind, storing nothing', async () => {
    await start('0.5');
    expect((await stow(5)).status).toBe(200);
    await sleep(500);

    const refused = await stow(2);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    expect(refused.headers.get('connection')).toBe('close');
    const problem = (await refused.json()) as { message: string };
    expect(problem).toMatchObject({ status: 503, code: 'index_backlog' });
    expect(problem.message).toMatch(/索引积压.*retry later/);
    expect(await gw.core.db('instance').count({ n: '*' })).toEqual([{ n: '5' }]);
    expect(await gw.core.db('upload').count({ n: '*' })).toEqual([{ n: '0' }]);

    expect(await metricLines('huren_stow_admission_total')).toEqual(
      expect.arrayContaining(['huren_stow_admission_total{outcome="immediate"} 1', 'huren_stow_admission_total{outcome="refused"} 1']),
    );
    const [gauge] = await metricLines('huren_index_lag_seconds ');
    expect(Number(gauge.split(' ')[1])).toBeGreaterThan(0.3);
  });

  it('holds a STOW while the index is behind and stores it once the workers catch up', async () => {
    await start('30');
    expect((await stow(5)).status).toBe(200);
    await sleep(500);

    const held = stow(2);
    let answered = false;
    void held.then(() => (answered = true));
    await sleep(500);
    expect(answered).toBe(false);
    expect(await gw.core.db('instance').count({ n: '*' })).toEqual([{ n: '5' }]);

    workers = await startWorkers(gw.core);
    expect((await held).status).toBe(200);
    expect(await gw.core.db('instance').count({ n: '*' })).toEqual([{ n: '7' }]);
    expect(await metricLines('huren_stow_admission_total{outcome="waited"}')).toEqual(['huren_stow_admission_total{outcome="waited"} 1']);
  });
});
