import type { Queue } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import { HurenError } from '../../core/errors';

/**
 * Admission control for STOW-RS: a new request waits while the index lag — how long the oldest
 * index job not yet started (any worker) has been waiting — is above `maxLagSeconds`, and is
 * refused with 503 + Retry-After once it has waited `maxWaitMs`. Without it a gateway on a busy
 * machine acknowledges faster than the workers index, the backlog grows without bound and so
 * does the time until an acknowledged study can be found. Waiting before the body is read
 * holds the client back through TCP (its PACS sees a slower server, not an error) while the
 * workers catch up. The lag, unlike a job count, means the same for 100 KB and 10 MB
 * instances and for one worker or ten, and jobs waiting for a retry (delayed) do not count.
 *
 * The lag is read from Redis at most once per `pollMs` (shared by all requests). When it cannot
 * be read (Redis down or slow), requests are admitted: storing does not need Redis (the
 * reconciliation sweep enqueues what could not be), and refusing on an unknown would turn a
 * Redis outage into a STOW outage.
 */
export interface StowAdmissionSettings {
  /** Index lag above which new STOW requests wait (0: admission control off). */
  maxLagSeconds: number;
  /** Longest a request waits before its 503. */
  maxWaitMs: number;
  /** How often the lag is read while requests arrive or wait. */
  pollMs: number;
}

export type AdmissionOutcome = 'immediate' | 'waited' | 'refused';

/** Whether a STOW may start at this index lag; an unknown lag admits (see above). */
export function admits(lagSeconds: number | undefined, maxLagSeconds: number): boolean {
  return maxLagSeconds === 0 || lagSeconds === undefined || lagSeconds <= maxLagSeconds;
}

export class StowAdmission {
  private lag: number | undefined;
  private readAt = -Infinity;
  private reading?: Promise<void>;

  constructor(
    /** Seconds the oldest waiting index job has waited (0 when none waits). */
    private readonly readLag: () => Promise<number>,
    private readonly settings: StowAdmissionSettings,
    private readonly observe: (lagSeconds: number) => void = () => {},
  ) {}

  /**
   * Resolves once the request may proceed ('immediate' or 'waited'); throws a 503 HurenError
   * after maxWaitMs. Resolves 'waited' at once when `signal` aborts (the client left; the
   * caller ends the request as for any disconnect).
   */
  async admit(signal?: AbortSignal): Promise<Exclude<AdmissionOutcome, 'refused'>> {
    const { maxLagSeconds, maxWaitMs, pollMs } = this.settings;
    if (maxLagSeconds === 0) return 'immediate';
    if (admits(await this.current(), maxLagSeconds)) return 'immediate';
    const deadline = Date.now() + maxWaitMs;
    while (!signal?.aborted) {
      if (Date.now() >= deadline) {
        const lag = Math.round(this.lag ?? 0);
        throw new HurenError(
          503,
          'index_backlog',
          `索引积压：最早的待索引实例已等待 ${lag} 秒，请稍后重试 / The index is behind: the oldest instance waiting to be indexed has waited ${lag} s; retry later`,
        );
      }
      // An abort (the client left) ends the pause early; the loop condition then ends the wait.
      await sleep(Math.max(0, Math.min(pollMs, deadline - Date.now())), undefined, { signal, ref: false }).catch(() => undefined);
      if (admits(await this.current(), maxLagSeconds)) return 'waited';
    }
    return 'waited';
  }

  /** The last reading if it is fresh (re-read when older than pollMs), undefined if unknown. */
  private async current(): Promise<number | undefined> {
    const { pollMs } = this.settings;
    if (Date.now() - this.readAt >= pollMs) {
      this.reading ??= this.read().finally(() => (this.reading = undefined));
      // A slow Redis must not hold every request: give the read one poll interval.
      await Promise.race([this.reading, sleep(pollMs, undefined, { ref: false })]);
    }
    // Readings stop being trusted after a few missed polls (Redis unreachable).
    return Date.now() - this.readAt <= 5 * pollMs ? this.lag : undefined;
  }

  private async read(): Promise<void> {
    try {
      this.lag = await this.readLag();
      this.readAt = Date.now();
      this.observe(this.lag);
    } catch {
      // Unknown until a read succeeds again: current() stops trusting the old value.
    }
  }
}

/** Seconds the oldest job in the queue's wait list has waited (one Redis round trip). */
export async function indexLagSeconds(queue: Queue): Promise<number> {
  const [oldest] = await queue.getJobs(['wait'], 0, 0, true);
  return oldest ? Math.max(0, Date.now() - oldest.timestamp) / 1000 : 0;
}
