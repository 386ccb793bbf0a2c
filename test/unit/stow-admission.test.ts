import { HurenError } from '../../core/errors';
import { admits, StowAdmission, type StowAdmissionSettings } from '../../gateway/dicomweb/stow-admission';

const settings: StowAdmissionSettings = { maxLagSeconds: 1, maxWaitMs: 1_000, pollMs: 20 };

/** An index lag the test sets, read as admission control would read it from Redis. */
function lagOf(initial: number) {
  const state = { lag: initial, reads: 0, fail: false };
  const read = async () => {
    state.reads++;
    if (state.fail) throw new Error('Connection is closed.');
    return state.lag;
  };
  return { state, read };
}

describe('admits', () => {
  it('admits at or below the limit, when off, and when the lag is unknown', () => {
    expect(admits(1, 1)).toBe(true);
    expect(admits(1.01, 1)).toBe(false);
    expect(admits(3600, 0)).toBe(true);
    expect(admits(undefined, 1)).toBe(true);
  });
});

describe('StowAdmission', () => {
  it('admits at once while the index keeps up, reading the lag at most once per poll interval', async () => {
    const { state, read } = lagOf(0.3);
    const observed: number[] = [];
    const admission = new StowAdmission(read, settings, (lag) => observed.push(lag));
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => admission.admit()));
    expect(outcomes).toEqual(Array(20).fill('immediate'));
    expect(state.reads).toBe(1);
    expect(observed).toEqual([0.3]);
  });

  it('holds a request while the index is behind and lets it go once the workers catch up', async () => {
    const { state, read } = lagOf(5);
    const admission = new StowAdmission(read, settings);
    let outcome: string | undefined;
    const admitted = admission.admit().then((o) => (outcome = o));
    await new Promise((r) => setTimeout(r, 100));
    expect(outcome).toBeUndefined();
    state.lag = 0.5;
    await admitted;
    expect(outcome).toBe('waited');
  });

  it('refuses with a bilingual 503 index_backlog after the longest wait', async () => {
    const { read } = lagOf(7.4);
    const admission = new StowAdmission(read, { ...settings, maxWaitMs: 100 });
    const refusal = await admission.admit().catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(HurenError);
    expect(refusal).toMatchObject({ status: 503, code: 'index_backlog' });
    expect((refusal as HurenError).message).toMatch(/最早的待索引实例已等待 7 秒.*the oldest instance waiting to be indexed has waited 7 s/);
  });

  it('admits when the lag cannot be read (Redis down), also after a high reading', async () => {
    const { state, read } = lagOf(5);
    const admission = new StowAdmission(read, settings);
    const waiting = admission.admit();
    await new Promise((r) => setTimeout(r, 30));
    state.fail = true;
    await expect(waiting).resolves.toBe('waited');
    await expect(admission.admit()).resolves.toBe('immediate');
  });

  it('admits when a read hangs (Redis unreachable, commands queued) instead of holding every request', async () => {
    const admission = new StowAdmission(() => new Promise<number>(() => {}), settings);
    await expect(admission.admit()).resolves.toBe('immediate');
  });

  it('stops waiting when the client leaves', async () => {
    const { read } = lagOf(5);
    const admission = new StowAdmission(read, { ...settings, maxWaitMs: 60_000 });
    const gone = new AbortController();
    const waiting = admission.admit(gone.signal);
    setTimeout(() => gone.abort(), 50);
    await expect(waiting).resolves.toBe('waited');
  });

  it('never reads the lag when admission control is off', async () => {
    const { state, read } = lagOf(3600);
    const admission = new StowAdmission(read, { ...settings, maxLagSeconds: 0 });
    await expect(admission.admit()).resolves.toBe('immediate');
    expect(state.reads).toBe(0);
  });
});
