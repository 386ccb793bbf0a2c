import { GroupCommit } from '../../core/group-commit';

/** A flush whose completion the test controls, recording the groups it was given. */
function controlledFlush() {
  const groups: number[][] = [];
  const releases: Array<() => void> = [];
  const flush = async (items: number[]) => {
    groups.push(items);
    await new Promise<void>((resolve) => releases.push(resolve));
    if (items.includes(-1)) throw new Error('flush failed');
    return items.map((i) => i * 10);
  };
  const releaseNext = async () => {
    while (releases.length === 0) await new Promise((r) => setImmediate(r));
    releases.shift()!();
  };
  return { groups, flush, releaseNext };
}

describe('GroupCommit', () => {
  it('flushes a lone submission at once, and groups what arrives meanwhile', async () => {
    const c = controlledFlush();
    const commit = new GroupCommit(c.flush, 100);
    const first = commit.submit([1]);
    const second = commit.submit([2, 3]);
    const third = commit.submit([4]);
    await c.releaseNext();
    await expect(first).resolves.toEqual([10]);
    await c.releaseNext();
    await expect(second).resolves.toEqual([20, 30]);
    await expect(third).resolves.toEqual([40]);
    expect(c.groups).toEqual([[1], [2, 3, 4]]);
  });

  it('keeps a group within maxItems without splitting a submission', async () => {
    const c = controlledFlush();
    const commit = new GroupCommit(c.flush, 3);
    const all = [commit.submit([1]), commit.submit([2, 3]), commit.submit([4, 5]), commit.submit([6])];
    for (let i = 0; i < 3; i++) await c.releaseNext();
    await expect(Promise.all(all)).resolves.toEqual([[10], [20, 30], [40, 50], [60]]);
    expect(c.groups).toEqual([[1], [2, 3], [4, 5, 6]]);
  });

  it('rejects every submission of a failed group, and goes on with the next', async () => {
    const c = controlledFlush();
    const commit = new GroupCommit(c.flush, 100);
    const first = commit.submit([1]);
    const bad = commit.submit([-1]);
    const sameGroup = commit.submit([2]);
    await c.releaseNext();
    await c.releaseNext();
    await expect(first).resolves.toEqual([10]);
    await expect(bad).rejects.toThrow('flush failed');
    await expect(sameGroup).rejects.toThrow('flush failed');
    const later = commit.submit([3]);
    await c.releaseNext();
    await expect(later).resolves.toEqual([30]);
  });

  it('answers an empty submission without flushing', async () => {
    const c = controlledFlush();
    await expect(new GroupCommit(c.flush, 10).submit([])).resolves.toEqual([]);
    expect(c.groups).toEqual([]);
  });
});
