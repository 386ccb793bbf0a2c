import type { Db } from '../db';
import { GroupCommit } from '../group-commit';
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

/** What a group commit says of one instance: its own error, or the renewal of its study's timer. */
type Written = { error: unknown } | { renewal: Promise<void> };

/**
 * Group commit of the index writes of one worker process (core/group-commit.ts). Index jobs
 * read and parse their objects concurrently and hand the result to `write`; one transaction at
 * a time writes all instances waiting (upsertIndexedInstances), so a burst of N instances
 * costs a few transactions instead of N, each study row is locked once per group instead of
 * once per instance, and onIndexed runs once per study per group instead of once per instance.
 */
export class IndexWriter {
  private readonly commits: GroupCommit<IndexItem, Written>;
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly renewing = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly opts: IndexWriterOptions) {
    this.commits = new GroupCommit((items) => this.commit(items), opts.maxGroup);
  }

  /**
   * Resolves once the instance is committed and onIndexed has run for its study; rejects with
   * this instance's own error (a failed group is retried instance by instance).
   */
  write(item: IndexItem): Promise<void> {
    if (this.closed) return Promise.reject(new Error('The index writer is closed'));
    const written = this.commits.submit([item]).then(([outcome]) => {
      if ('error' in outcome) throw outcome.error;
      return outcome.renewal;
    });
    this.inFlight.add(written);
    const done = () => void this.inFlight.delete(written);
    written.then(done, done);
    return written;
  }

  /** Refuses new writes and waits for the queued ones and their onIndexed calls. */
  async close(): Promise<void> {
    this.closed = true;
    // Their failures went to the jobs that waited for them.
    await Promise.allSettled(this.inFlight);
    await Promise.allSettled(this.renewing);
  }

  /**
   * Writes a group; failed instances get their error, the others their study's renewal, which
   * the group commit does not wait for, so the next group's transaction overlaps those calls.
   */
  private async commit(items: IndexItem[]): Promise<Written[]> {
    const failed = new Map<IndexItem, unknown>();
    try {
      await this.transaction(items);
    } catch (err) {
      if (items.length === 1) failed.set(items[0], err);
      // One bad instance must not fail the others: each is written alone, and only its own
      // job fails (and is retried by BullMQ).
      else for (const item of items) await this.transaction([item]).catch((e: unknown) => failed.set(item, e));
    }
    const renewals = new Map<string, Promise<void>>();
    return items.map((item) => {
      if (failed.has(item)) return { error: failed.get(item) };
      const study = item.row.study_instance_uid;
      if (!renewals.has(study)) renewals.set(study, this.renew(study));
      return { renewal: renewals.get(study)! };
    });
  }

  private async transaction(items: IndexItem[]): Promise<void> {
    await this.opts.db.transaction(async (trx) => {
      // The index is derived data: the stored object and its `received` row (committed
      // synchronously by STOW) are the truth. Not waiting for this commit's WAL flush frees the
      // study row locks sooner (other worker processes' groups of the same study queue on them);
      // a crash can only lose the last fraction of a second of indexing, which leaves those
      // instances `received`, and the reconciliation sweep indexes them again (docs/benchmarks.md).
      await trx.raw('SET LOCAL synchronous_commit = off');
      await upsertIndexedInstances(trx, items, this.opts.recognition);
    });
  }

  private renew(study: string): Promise<void> {
    const renewal = Promise.resolve().then(() => this.opts.onIndexed(study));
    this.renewing.add(renewal);
    const done = () => void this.renewing.delete(renewal);
    renewal.then(done, done);
    return renewal;
  }
}
