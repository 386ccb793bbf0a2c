interface Waiting<I, O> {
  items: I[];
  resolve(outcomes: O[]): void;
  reject(err: unknown): void;
}

/**
 * Group commit: callers submit items; while one flush runs, later submissions wait and the
 * next flush takes all of them at once (up to `maxItems`, never splitting a submission). Under
 * load, many callers share one transaction; alone, a caller waits for no one.
 * `flush` returns one outcome per item, in order; when it throws, every submission of the
 * group rejects with that error.
 */
export class GroupCommit<I, O> {
  private readonly waiting: Array<Waiting<I, O>> = [];
  private flushing = false;

  constructor(
    private readonly flush: (items: I[]) => Promise<O[]>,
    private readonly maxItems: number,
  ) {}

  submit(items: I[]): Promise<O[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise<O[]>((resolve, reject) => {
      this.waiting.push({ items, resolve, reject });
      if (!this.flushing) void this.run();
    });
  }

  private async run(): Promise<void> {
    this.flushing = true;
    while (this.waiting.length > 0) {
      const group = [this.waiting.shift()!];
      let size = group[0].items.length;
      while (this.waiting.length > 0 && size + this.waiting[0].items.length <= this.maxItems) {
        const next = this.waiting.shift()!;
        group.push(next);
        size += next.items.length;
      }
      try {
        const outcomes = await this.flush(group.flatMap((g) => g.items));
        let offset = 0;
        for (const g of group) {
          g.resolve(outcomes.slice(offset, offset + g.items.length));
          offset += g.items.length;
        }
      } catch (err) {
        for (const g of group) g.reject(err);
      }
    }
    this.flushing = false;
  }
}
