/**
 * Refusing STOW requests before their body while object storage is full. A full store shows only
 * when an instance is written, after the PACS sent it; without a hold, every retry of a large study
 * was read to its end only to be refused again (docs/chaos.md, disk-full). Once a request was
 * answered 503 storage_full, new requests are refused before their body for `holdMs`; after that
 * the next request goes through as the probe, one at a time (requests arriving meanwhile are still
 * refused). A stored instance (the probe's or any other request's) ends the hold; a probe refused
 * for want of space again starts a new window; a probe that ends without telling (client gone,
 * malformed body, storage unavailable) lets the next request probe. Per gateway process, in memory:
 * a restarted gateway probes with its first request. `holdMs` 0 turns the hold off.
 */
export class StorageFullHold {
  /** End of the current window; undefined while no hold is on. */
  private until: number | undefined;
  /** Id of the request probing (0: none). */
  private probe = 0;
  private probes = 0;

  constructor(
    private readonly holdMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether `enter` would refuse now; it claims nothing (an `Expect: 100-continue` answered before the app runs). */
  refusing(): boolean {
    return this.until !== undefined && (this.now() < this.until || this.probe !== 0);
  }

  /**
   * Before a request's body is read: undefined refuses it; otherwise it proceeds, and calls `done`
   * once it has ended (which ends its probe, if it was one).
   */
  enter(): { probe: boolean; done: () => void } | undefined {
    if (this.until === undefined) return { probe: false, done: () => undefined };
    if (this.refusing()) return undefined;
    const id = ++this.probes;
    this.probe = id;
    return {
      probe: true,
      done: () => {
        if (this.probe === id) this.probe = 0;
      },
    };
  }

  /** A request stored nothing for want of space: refuse new requests for `holdMs` from now. */
  full(): void {
    if (this.holdMs <= 0) return;
    this.until = this.now() + this.holdMs;
    this.probe = 0;
  }

  /** An instance was stored: there is space. True when this ended a hold. */
  stored(): boolean {
    const ended = this.until !== undefined;
    this.until = undefined;
    this.probe = 0;
    return ended;
  }
}
