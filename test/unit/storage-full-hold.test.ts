import { StorageFullHold } from '../../gateway/dicomweb/storage-full-hold';

/** A clock the test moves by hand: no timers, no real time. */
function clock() {
  const state = { now: 1_000_000 };
  return { state, now: () => state.now };
}

describe('StorageFullHold', () => {
  it('lets every request through while storage was never found full', () => {
    const hold = new StorageFullHold(30_000);
    const passes = Array.from({ length: 5 }, () => hold.enter());
    expect(passes.every((p) => p !== undefined && !p.probe)).toBe(true);
    expect(hold.refusing()).toBe(false);
    // A stored instance without a hold ends nothing.
    expect(hold.stored()).toBe(false);
  });

  it('refuses new requests for the window once a request found storage full, then lets one probe through', () => {
    const { state, now } = clock();
    const hold = new StorageFullHold(30_000, now);
    hold.full();
    expect(hold.refusing()).toBe(true);
    expect(hold.enter()).toBeUndefined();
    state.now += 29_999;
    expect(hold.enter()).toBeUndefined();

    state.now += 1;
    expect(hold.refusing()).toBe(false);
    const probe = hold.enter();
    expect(probe?.probe).toBe(true);
    // One probe at a time: the others are still refused while it runs.
    expect(hold.refusing()).toBe(true);
    expect(hold.enter()).toBeUndefined();
    expect(hold.enter()).toBeUndefined();
  });

  it('ends the hold when the probe stores an instance', () => {
    const { state, now } = clock();
    const hold = new StorageFullHold(30_000, now);
    hold.full();
    state.now += 30_000;
    const probe = hold.enter()!;
    expect(hold.stored()).toBe(true);
    expect(hold.refusing()).toBe(false);
    expect(hold.enter()?.probe).toBe(false);
    expect(hold.enter()?.probe).toBe(false);
    // The probe's request ending afterwards changes nothing.
    probe.done();
    expect(hold.enter()?.probe).toBe(false);
    expect(hold.stored()).toBe(false);
  });

  it('starts a new window when the probe finds storage full again', () => {
    const { state, now } = clock();
    const hold = new StorageFullHold(30_000, now);
    hold.full();
    state.now += 31_000;
    const probe = hold.enter()!;
    hold.full();
    probe.done();
    expect(hold.enter()).toBeUndefined();
    state.now += 29_999;
    expect(hold.enter()).toBeUndefined();
    state.now += 1;
    expect(hold.enter()?.probe).toBe(true);
  });

  it('lets the next request probe when the probe ends without telling (client gone, bad body, storage unavailable)', () => {
    const { state, now } = clock();
    const hold = new StorageFullHold(30_000, now);
    hold.full();
    state.now += 30_000;
    const probe = hold.enter()!;
    expect(hold.enter()).toBeUndefined();
    probe.done();
    expect(hold.refusing()).toBe(false);
    const next = hold.enter();
    expect(next?.probe).toBe(true);
    expect(hold.enter()).toBeUndefined();
  });

  it('does not let a stale probe free the slot of a newer one', () => {
    const { state, now } = clock();
    const hold = new StorageFullHold(30_000, now);
    hold.full();
    state.now += 30_000;
    const first = hold.enter()!;
    // A request admitted before the hold ends storage_full meanwhile: a new window, a new probe after it.
    hold.full();
    state.now += 30_000;
    const second = hold.enter()!;
    expect(second.probe).toBe(true);
    first.done();
    expect(hold.enter()).toBeUndefined();
    second.done();
    expect(hold.enter()?.probe).toBe(true);
  });

  it('is off with a window of 0: storage full refuses nothing before the body', () => {
    const hold = new StorageFullHold(0);
    hold.full();
    expect(hold.refusing()).toBe(false);
    expect(hold.enter()?.probe).toBe(false);
  });
});
