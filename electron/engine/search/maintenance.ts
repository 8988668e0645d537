/**
 * The search index's upkeep loop (docs/adr/0005-search.md "Maintenance off the event loop"). It
 * runs on the maintenance worker's thread (maintenance-worker.ts) over that thread's own connection
 * to the encrypted database, so none of its work — indexing new messages, the rebuild, FTS5 merges,
 * purging a retired index — runs on the thread that serves the UI. It only ever waits for (and
 * briefly holds) SQLite's write lock.
 *
 * One loop, one bounded unit of work per turn (each its own transaction), in this order:
 *  0. a PASSIVE WAL checkpoint once the engine's writer has committed and gone quiet (or every
 *     CHECKPOINT_BUSY_INTERVAL_MS while it stays busy): while this worker runs, the writer's
 *     automatic checkpoint is off;
 *  1. catch-up: messages committed since the last turn (search_pending, then above indexed_to) —
 *     deferred while the engine's writer is busy (CATCH_UP_DEFER_MAX_MS);
 *  2. a PASSIVE WAL checkpoint every few writes;
 *  3. purge: a few pages of a retired index (search turned off);
 *  4. rebuild: the next batch below indexed_from (search turned on over existing messages);
 *  5. FTS5 merge steps (automerge is off on the index tables): after every rebuild batch, else only
 *     once the engine's own writer has been quiet for QUIET_MS — and never while that writer keeps
 *     finding the lock taken: a merge of a common trigram's doclist holds the write lock for tens of
 *     milliseconds and more, and FTS5 cannot stop it midway;
 * and when nothing is left, it waits for a nudge or polls `PRAGMA data_version` (which changes when
 * another connection commits) every pollMs.
 *
 * Sharing the write lock: batches adapt to batchTargetMs of work, and while the engine's writer is
 * active (data_version moved within ACTIVE_WINDOW_MS) the loop pauses twice as long as each write it
 * made, so the writer — whose busy handler retries after 1, 2, 5, 10 … ms — gets the lock at least
 * two thirds of the time instead of finding it taken again at every retry.
 *
 * Does not decide whether search is on (service.ts retires or creates the index on the engine's
 * writer), and does not own the SQL (indexer.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SearchIndexProgress } from '../../../shared/api/view-models.js';
import type { WriteDb } from '../db/database.js';
import { sql } from '../db/sql.js';
import { catchUpBacklog, catchUpBatch, checkpoint, lowestMessageId, mergeStep, passiveCheckpoint, purgeStep, readIndexRecord, rebuildBatch, trashTables } from './indexer.js';

/** Work per write transaction the batch sizes adapt to. */
export const BATCH_TARGET_MS = 5;
/** Idle poll of data_version: a new message waits at most this long (plus one batch) before indexing starts. */
export const POLL_MS = 50;
/** The engine's writer counts as active this long after its last commit. */
export const ACTIVE_WINDOW_MS = 500;
/**
 * While the engine's writer stays active (a backlog being drained, a burst of sends), catch-up
 * waits for it to go quiet — the two would otherwise take turns at the write lock, and every turn
 * the writer waits for is time its event loop stands still — but never longer than this: under
 * sustained activity, new messages reach the index at most this late (plus the catch-up itself).
 * A search that asks for fresh results (whenCaughtUp) is never kept waiting by it.
 */
export const CATCH_UP_DEFER_MAX_MS = 5_000;
/** Merges outside a rebuild wait until the engine's writer has been quiet this long. */
export const QUIET_MS = 300;
/** After each write while the engine's writer is active, pause this many times the write's duration. */
const YIELD_FACTOR = 2;
/** A wait for the write lock longer than this means the engine's writer held it. */
const CONTENDED_WAIT_MS = 1;
/** Weight of the newest sample in the contention average, and the average above which merges wait. */
const CONTENTION_ALPHA = 0.2;
const CONTENTION_BUSY = 0.3;
const MIN_YIELD_MS = 2;
/** Leaf pages per FTS5 merge command. */
const MERGE_STEP_PAGES = 8;
/** A PASSIVE checkpoint after this many writes. */
const CHECKPOINT_EVERY_WRITES = 4;
/**
 * While this worker runs it is the one that copies the WAL back (the writer's automatic checkpoint
 * is off, service.ts), so none of that copying lands inside one of the writer's commits: a PASSIVE
 * checkpoint once the writer has committed and gone quiet (ACTIVE_WINDOW_MS), and while it stays
 * busy at most every CHECKPOINT_BUSY_INTERVAL_MS (a checkpoint's writes and fsync slow the writer's
 * concurrent commits down, so a burst is better checkpointed after it; the WAL grows meanwhile by
 * at most that interval's writes).
 */
const CHECKPOINT_BUSY_INTERVAL_MS = 2_000;
/** At most one rebuilding progress event per interval. */
export const PROGRESS_INTERVAL_MS = 250;
const FIRST_BATCH = 64;
const MIN_BATCH = 8;
const MAX_BATCH = 20_000;
/** After a failed turn (busy past the timeout, schema changed under us): wait, then retry. */
const ERROR_BACKOFF_MS = 100;

export type StepKind = 'catch-up' | 'purge' | 'rebuild' | 'checkpoint' | 'merge';

/** Figures of the loop's work since it started (tests and the benchmark read them). */
export type MaintenanceStats = {
  /** Rebuild: batches, rows covered, and whether it finished in this session. */
  rebuildBatches: number;
  rebuildScanned: number;
  rebuildCompleted: boolean;
  rebuildMs: number;
  /** Catch-up: batches and rows covered. */
  catchUpBatches: number;
  catchUpScanned: number;
  purgeSteps: number;
  purgeRows: number;
  mergeSteps: number;
  /** Longest step of each kind: ms holding the write lock (the work and its commit, not the wait for the lock). */
  maxStepMs: Record<StepKind, number>;
  /** Time holding the write lock, waiting for it (the engine's writer had it), and pausing for that writer. */
  busyMs: number;
  waitedMs: number;
  yieldedMs: number;
  errors: number;
  lastError: string | null;
};

export type MaintenanceOptions = {
  readonly db: WriteDb;
  /** Runs its argument with FTS5 shadow tables writable (the connection's defensive mode off). */
  readonly shadowWritable: <T>(fn: () => T) => T;
  readonly emit: (progress: SearchIndexProgress) => void;
  readonly batchTargetMs?: number | undefined;
  readonly progressIntervalMs?: number | undefined;
  readonly pollMs?: number | undefined;
  readonly now?: () => number;
};

type Waiter = { readonly until: 'caught-up' | 'idle'; readonly resolve: () => void };

function newStats(): MaintenanceStats {
  return {
    rebuildBatches: 0,
    rebuildScanned: 0,
    rebuildCompleted: false,
    rebuildMs: 0,
    catchUpBatches: 0,
    catchUpScanned: 0,
    purgeSteps: 0,
    purgeRows: 0,
    mergeSteps: 0,
    maxStepMs: { 'catch-up': 0, purge: 0, rebuild: 0, checkpoint: 0, merge: 0 },
    busyMs: 0,
    waitedMs: 0,
    yieldedMs: 0,
    errors: 0,
    lastError: null,
  };
}

/** Adapts a batch size towards `target` ms of work: grows at most 2x per step, shrinks as far as needed. */
function adapt(size: number, ms: number, target: number): number {
  return Math.round(Math.min(MAX_BATCH, Math.max(MIN_BATCH, size * Math.min(2, target / Math.max(0.05, ms)))));
}

export class IndexMaintenance {
  #stats: MaintenanceStats = newStats();
  readonly #db: WriteDb;
  readonly #shadowWritable: <T>(fn: () => T) => T;
  readonly #emit: (progress: SearchIndexProgress) => void;
  readonly #target: number;
  readonly #progressIntervalMs: number;
  readonly #pollMs: number;
  readonly #now: () => number;
  #closing = false;
  #wake: (() => void) | null = null;
  #waiters: Waiter[] = [];
  #dataVersion = -1;
  /** Moving average of how often this loop had to wait for the write lock (0-1). */
  #contention = 0;
  /** The last step's kind, and whether the last idle step left merges waiting for a quiet writer. */
  #last: StepKind | null = null;
  #deferred = false;
  #lastForeignWrite = -Infinity;
  #writesSinceCheckpoint = 0;
  #lastCheckpointAt = -Infinity;
  #mergeDue = false;
  #catchUpSize = FIRST_BATCH;
  /** Since when catch-up has been deferring to an active writer (null: it is not). */
  #deferringSince: number | null = null;
  #rebuildSize = FIRST_BATCH;
  #purgeSize = FIRST_BATCH;
  #purgeTable: string | null = null;
  /** The rebuild seen running: where it started (for progress) and when. */
  #rebuild: { from: number; lowest: number; startedAt: number; lastEmit: number } | null = null;

  constructor(o: MaintenanceOptions) {
    this.#db = o.db;
    this.#shadowWritable = o.shadowWritable;
    this.#emit = o.emit;
    this.#target = o.batchTargetMs ?? BATCH_TARGET_MS;
    this.#progressIntervalMs = o.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
    this.#pollMs = o.pollMs ?? POLL_MS;
    this.#now = o.now ?? (() => performance.now());
  }

  /** Runs until close(). */
  async run(): Promise<void> {
    while (!this.#closing) {
      let done: { kind: StepKind; ms: number } | null;
      try {
        done = this.step();
      } catch (e) {
        this.#stats.errors += 1;
        this.#stats.lastError = e instanceof Error ? `${e.name}: ${e.message}` : 'error';
        await sleep(ERROR_BACKOFF_MS);
        continue;
      }
      if (done === null) {
        if (!this.#deferred) this.#settle('idle');
        await this.#idleWait();
        continue;
      }
      // Give the engine's writer the lock while it is active; otherwise only let messages in.
      const pause = this.#writerActive() ? Math.max(MIN_YIELD_MS, YIELD_FACTOR * done.ms) : 0;
      this.#stats.yieldedMs += pause;
      await (pause > 0 ? sleep(pause) : new Promise<void>((resolve) => setImmediate(resolve)));
    }
    for (const w of this.#waiters.splice(0)) w.resolve();
  }

  get stats(): MaintenanceStats {
    return this.#stats;
  }

  /** Starts counting again (the benchmark measures phases separately). */
  resetStats(): void {
    this.#stats = newStats();
  }

  /** Stops after the current step. */
  close(): void {
    this.#closing = true;
    this.#wake?.();
  }

  /** New work may be there (a setting changed, a search wants fresh results): look now. */
  nudge(): void {
    this.#wake?.();
  }

  /** Resolves once every message committed before the call is indexed (the rebuild aside). */
  whenCaughtUp(): Promise<void> {
    return this.#wait('caught-up');
  }

  /** Resolves once nothing is left to do (caught up, rebuilt, purged, merged). */
  whenIdle(): Promise<void> {
    return this.#wait('idle');
  }

  #wait(until: Waiter['until']): Promise<void> {
    if (this.#closing) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters.push({ until, resolve });
      this.nudge();
    });
  }

  #settle(reached: Waiter['until']): void {
    const keep: Waiter[] = [];
    for (const w of this.#waiters) {
      if (reached === 'idle' || w.until === reached) w.resolve();
      else keep.push(w);
    }
    this.#waiters = keep;
  }

  async #idleWait(): Promise<void> {
    if (this.#closing) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => done(), this.#pollMs);
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = null;
        resolve();
      };
      this.#wake = done;
    });
  }

  /** Notes whether another connection (the engine's writer) committed since the last look. */
  #observeWriter(): void {
    const version = this.#db.get<{ data_version: number }>(sql`PRAGMA data_version`)!.data_version;
    if (this.#dataVersion !== -1 && version !== this.#dataVersion) this.#lastForeignWrite = this.#now();
    this.#dataVersion = version;
  }

  #writerActive(): boolean {
    return this.#now() - this.#lastForeignWrite < ACTIVE_WINDOW_MS;
  }

  /** Whether catch-up waits for the writer to go quiet (CATCH_UP_DEFER_MAX_MS). */
  #deferCatchUp(): boolean {
    if (!this.#writerActive() || this.#waiters.length > 0) {
      this.#deferringSince = null;
      return false;
    }
    const now = this.#now();
    this.#deferringSince ??= now;
    return now - this.#deferringSince < CATCH_UP_DEFER_MAX_MS;
  }

  /**
   * Runs `work` in one write transaction (or, for `repeat`, in consecutive ones while it returns
   * true and the batch target allows) and measures the time the lock was held — the work and its
   * commit — apart from the time spent waiting for it. Batch sizes adapt to `workMs`, the work
   * without its commit: a commit costs the same few milliseconds (its fsync) however small the
   * batch, so adapting to it shrank catch-up to the smallest batches, which then could not keep up
   * with a steady inbound stream and starved the rebuild behind it.
   */
  #timed<T>(kind: StepKind, work: () => T, repeat?: (value: T) => boolean): { value: T; ms: number; workMs: number } {
    let held = 0;
    let worked = 0;
    let value: T;
    const t0 = this.#now();
    for (;;) {
      const asked = this.#now();
      let entered = asked;
      value = this.#db.transaction(() => {
        entered = this.#now();
        const v = work();
        worked += this.#now() - entered;
        return v;
      });
      this.#stats.waitedMs += entered - asked;
      this.#contention += CONTENTION_ALPHA * ((entered - asked > CONTENDED_WAIT_MS ? 1 : 0) - this.#contention);
      held += this.#now() - entered;
      if (!repeat?.(value) || this.#now() - t0 >= this.#target) break;
    }
    this.#stats.busyMs += held;
    this.#stats.maxStepMs[kind] = Math.max(this.#stats.maxStepMs[kind], held);
    return { value, ms: held, workMs: worked };
  }

  /**
   * One unit of work, or null when there is none (or what is left must wait for a quiet writer).
   * Public for tests, which drive the loop by hand.
   */
  step(): { kind: StepKind; ms: number } | null {
    const db = this.#db;
    this.#observeWriter();
    this.#deferred = false;

    // 0. The WAL: the engine's writer does not checkpoint while this worker runs (service.ts).
    if (this.#lastForeignWrite > this.#lastCheckpointAt && (!this.#writerActive() || this.#now() - this.#lastCheckpointAt >= CHECKPOINT_BUSY_INTERVAL_MS)) {
      return { kind: 'checkpoint', ms: this.#checkpointNow() };
    }

    // 1. Catch-up (looked for with a read first: no write lock taken for nothing).
    if ((catchUpBacklog(db, 1) ?? 0) > 0) {
      if (this.#deferCatchUp()) {
        this.#deferred = true;
        return null;
      }
      const catchUp = this.#timed('catch-up', () => catchUpBatch(db, this.#catchUpSize));
      this.#catchUpSize = adapt(this.#catchUpSize, catchUp.workMs, this.#target);
      this.#stats.catchUpBatches += 1;
      this.#stats.catchUpScanned += catchUp.value.scanned;
      if (catchUp.value.indexed > 0) this.#mergeDue = true;
      this.#wrote('catch-up');
      if (!catchUp.value.more) this.#settle('caught-up');
      return { kind: 'catch-up', ms: catchUp.ms };
    }
    this.#settle('caught-up');

    // 2. A PASSIVE checkpoint every few writes (so SQLite's own 1000-page one rarely lands in a commit of the engine's writer).
    if (this.#writesSinceCheckpoint >= CHECKPOINT_EVERY_WRITES) {
      return { kind: 'checkpoint', ms: this.#checkpointNow() };
    }

    // 3. Purge a retired index.
    if (trashTables(db).length > 0) {
      const purge = this.#timed('purge', () => purgeStep(db, this.#shadowWritable, this.#purgeSize));
      // Rows of another table cost differently (4 KiB leaf pages, term index rows, vocabulary rows): start small again.
      this.#purgeSize = purge.value.table === this.#purgeTable ? adapt(this.#purgeSize, purge.workMs, this.#target) : FIRST_BATCH;
      this.#purgeTable = purge.value.table;
      this.#stats.purgeSteps += 1;
      this.#stats.purgeRows += purge.value.deleted;
      this.#wrote('purge');
      if (!purge.value.remaining) {
        // The last retired table is gone; copies of its pages may still sit in the WAL: copy the WAL
        // into the (zeroed) file pages and empty it. Waits for readers on this thread only.
        const t0 = this.#now();
        const truncated = checkpoint(db);
        this.#stats.maxStepMs.checkpoint = Math.max(this.#stats.maxStepMs.checkpoint, this.#now() - t0);
        this.#writesSinceCheckpoint = truncated ? 0 : CHECKPOINT_EVERY_WRITES;
      }
      return { kind: 'purge', ms: purge.ms };
    }

    const record = readIndexRecord(db);
    if (record === null) {
      this.#rebuild = null;
      this.#mergeDue = false;
      return null;
    }
    const writerBusy = this.#writerActive() && this.#contention > CONTENTION_BUSY;

    // 4. Rebuild, a merge step after each batch (so segments never pile up to FTS5's crisis merge
    //    inside a batch) unless the engine's writer is busy.
    if (record.indexedFrom !== 0) {
      if (this.#mergeDue && this.#last === 'rebuild' && !writerBusy) return this.#merge();
      this.#rebuild ??= { from: record.indexedFrom, lowest: lowestMessageId(db) ?? 0, startedAt: this.#now(), lastEmit: -Infinity };
      const batch = this.#timed('rebuild', () => rebuildBatch(db, this.#rebuildSize));
      this.#rebuildSize = adapt(this.#rebuildSize, batch.workMs, this.#target);
      this.#stats.rebuildBatches += 1;
      this.#stats.rebuildScanned += batch.value.scanned;
      this.#mergeDue = true;
      this.#wrote('rebuild');
      const r = this.#rebuild;
      const now = this.#now();
      if (batch.value.indexedFrom !== 0 && now - r.lastEmit >= this.#progressIntervalMs) {
        r.lastEmit = now;
        const span = Math.max(1, r.from - r.lowest);
        this.#emit({ state: 'rebuilding', progress: Math.min(1, Math.max(0, (r.from - batch.value.indexedFrom) / span)) });
      }
      return { kind: 'rebuild', ms: batch.ms };
    }

    // 5. Merges: after a rebuild at once, else once the engine's writer has been quiet for QUIET_MS;
    //    never while it is busy (it found the lock taken often of late), however long merges wait.
    const rebuilding = this.#rebuild !== null;
    if (this.#mergeDue) {
      if (!writerBusy && (rebuilding || this.#now() - this.#lastForeignWrite >= QUIET_MS)) return this.#merge();
      this.#deferred = true;
      return null;
    }

    if (rebuilding) {
      this.#stats.rebuildCompleted = true;
      this.#stats.rebuildMs = this.#now() - this.#rebuild!.startedAt;
      this.#rebuild = null;
      this.#emit({ state: 'ready', progress: 1 });
    }
    return null;
  }

  /** Merge steps (up to the batch target), in transactions of MERGE_STEP_PAGES each. */
  #merge(): { kind: StepKind; ms: number } {
    const merge = this.#timed('merge', () => mergeStep(this.#db, MERGE_STEP_PAGES), (more) => more);
    this.#stats.mergeSteps += 1;
    this.#mergeDue = merge.value;
    this.#wrote('merge');
    return { kind: 'merge', ms: merge.ms };
  }

  /** A PASSIVE checkpoint (takes no write lock); returns its duration. */
  #checkpointNow(): number {
    this.#writesSinceCheckpoint = 0;
    const t0 = this.#now();
    passiveCheckpoint(this.#db);
    const ms = this.#now() - t0;
    this.#lastCheckpointAt = this.#now();
    this.#stats.maxStepMs.checkpoint = Math.max(this.#stats.maxStepMs.checkpoint, ms);
    return ms;
  }

  #wrote(kind: StepKind): void {
    // (Our own commits do not change data_version on this connection: only the engine's count.)
    this.#writesSinceCheckpoint += 1;
    this.#last = kind;
  }
}

// ── The worker's message protocol (maintenance-worker.ts ⇄ service.ts) ──────────────────────────

/** workerData: where the database is and its key (transferred, wiped by the worker once it is keyed). */
export type WorkerInit = {
  readonly path: string;
  readonly key: Uint8Array;
  /** Tests only: the database is not encrypted (db/database.ts OpenOptions.unencryptedForTests). */
  readonly unencryptedForTests?: boolean | undefined;
  readonly nativeBinding?: string | undefined;
  readonly batchTargetMs?: number | undefined;
  readonly progressIntervalMs?: number | undefined;
  readonly pollMs?: number | undefined;
};

export type ToWorker =
  | { readonly type: 'nudge' }
  | { readonly type: 'wait'; readonly id: number; readonly until: 'caught-up' | 'idle' }
  /** The figures so far; with `reset`, counting starts again after the reply. */
  | { readonly type: 'stats'; readonly id: number; readonly reset?: boolean }
  | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'opened' }
  | { readonly type: 'failed'; readonly message: string }
  | { readonly type: 'progress'; readonly progress: SearchIndexProgress }
  | { readonly type: 'reply'; readonly id: number; readonly stats: MaintenanceStats };
