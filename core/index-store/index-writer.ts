import type { Db } from '../db';
import type { IndexRecognitionSettings } from '../recognition/at-index';
import { upsertIndexedInstances, type IndexItem } from './upsert';

export interface IndexWriterOptions {
  db: Db;
  /** How national IDs are read and protected at index time. */
  recognition: IndexRecognitionSettings;
  /** Most instances written in one transaction (HUREN_INDEX_GROUP_MAX). */
  maxGroup: number;
  /** Called once per study of each committed group (renews the study-stable timer). */
  onIndexed(studyInstanceUid: string): Promise<void>;
}

interface Pending {
  item: IndexItem;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Group commit of the index writes of one worker process. Index jobs read and parse their
 * objects concurrently and hand the result to `write`; one transaction at a time writes all
 * instances waiting (upsertIndexedInstances), so a burst of N instances costs a few
 * transactions instead of N, each study row is locked once per group instead of once per
 * instance, and onIndexed runs once per study per group instead of once per instance. While
 * a group is written, arrivals queue and form the next group: no timer, so a lone instance
 * is written at once.
 */
export class IndexWriter {
  private readonly waiting: Pending[] = [];
  private writing: Promise<void> | undefined;
  private readonly renewing = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly opts: IndexWriterOptions) {}

  /**
   * Resolves once the instance is committed and onIndexed has run for its study; rejects with
   * this instance's own error (a failed group is retried instance by instance).
   */
  write(item: IndexItem): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The index writer is closed'));
    return new Promise((resolve, reject) => {
      this.waiting.push({ item, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  /** Refuses new writes and waits for the queued ones and their onIndexed calls. */
  async close(): Promise<void> {
    this.closed = true;
    await this.writing;
    // Their failures went to the jobs that waited for them.
    await Promise.allSettled(this.renewing);
  }

  private async drain(): Promise<void> {
    while (this.waiting.length > 0) {
      const group = this.waiting.splice(0, this.opts.maxGroup);
      this.settle(group, await this.commit(group));
    }
    this.writing = undefined;
  }

  /** The errors by instance: none when the group committed. */
  private async commit(group: Pending[]): Promise<Map<Pending, unknown>> {
    const failed = new Map<Pending, unknown>();
    try {
      await this.transaction(group);
    } catch (err) {
      if (group.length === 1) failed.set(group[0], err);
      // One bad instance must not fail the others: each is written alone, and only its own
      // job fails (and is retried by BullMQ).
      else for (const p of group) await this.transaction([p]).catch((e: unknown) => failed.set(p, e));
    }
    return failed;
  }

  private async transaction(group: Pending[]): Promise<void> {
    await this.opts.db.transaction(async (trx) => {
      // The index is derived data: the stored object and its `received` row (committed
      // synchronously by STOW) are the truth. Not waiting for this commit's WAL flush frees the
      // study row locks sooner (other worker processes' groups of the same study queue on them);
      // a crash can only lose the last fraction of a second of indexing, which leaves those
      // instances `received`, and the reconciliation sweep indexes them again (docs/benchmarks.md).
      await trx.raw('SET LOCAL synchronous_commit = off');
      await upsertIndexedInstances(
        trx,
        group.map((p) => p.item),
        this.opts.recognition,
      );
    });
  }

  /**
   * Failed instances are rejected now, the others once their study's onIndexed has run; drain
   * does not wait for those calls, so the next group's transaction overlaps them.
   */
  private settle(group: Pending[], failed: Map<Pending, unknown>): void {
    const renewals = new Map<string, Promise<void>>();
    for (const p of group) {
      if (failed.has(p)) {
        p.reject(failed.get(p));
        continue;
      }
      const study = p.item.row.study_instance_uid;
      if (!renewals.has(study)) renewals.set(study, this.renew(study));
      renewals.get(study)!.then(p.resolve, p.reject);
    }
  }

  private renew(study: string): Promise<void> {
    const renewal = Promise.resolve().then(() => this.opts.onIndexed(study));
    this.renewing.add(renewal);
    const done = () => void this.renewing.delete(renewal);
    renewal.then(done, done);
    return renewal;
  }
}
