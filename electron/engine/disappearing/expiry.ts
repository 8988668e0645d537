/**
 * Expiry of disappearing messages (DESIGN §3.8, docs/protocol.md §23, ADR 0030): deletes every
 * timed message whose time ran out, with everything derived from it, and keeps a timer for the
 * next one. Also the removal a delete-for-everyone request makes (`removeMessages`), so both go
 * exactly the same way:
 *
 *   - the row, in a writer transaction; its search entries go in the same transaction (the index's
 *     triggers, FTS5 secure-delete on), and ON DELETE CASCADE takes its attachment row (the file's
 *     key and thumbnail live only there), per-device statuses and any queued send;
 *   - its files, through Attachments.discard (a running transfer stopped first, then the
 *     ciphertext spool, a partial download and a decrypted temporary copy);
 *   - `message:removed` (the renderer drops the row and withdraws its notification);
 *   - once a run deleted anything, a WAL checkpoint (TRUNCATE), so the deleted pages (zeroed by
 *     secure_delete in the main file) do not survive in the write-ahead log either.
 *
 * Many due at once (a device back after weeks) are deleted in batches of about
 * EXPIRY_BATCH_BUDGET_MS of work each (the size adapts to the measured time of whole batches),
 * yielding to the event loop between them, so the window stays responsive (bench/disappearing).
 * Between batches the WAL is checkpointed as every write is (SQLite's automatic checkpoint, or the
 * search maintenance worker's off this thread while it runs); the TRUNCATE comes at the end. At start, before any
 * window shows anything, `purgeExpired` deletes the rows that ran out while the app was closed
 * (their files go with the attachments folder's clean-up at start, which deletes the files of rows
 * that no longer exist).
 *
 * Does not own the rules (timers.ts), the timer columns (db/disappearing.ts) or the files
 * (files/attachments.ts).
 */
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../../shared/crypto/random.js';
import type { EngineDatabase, WriteDb } from '../db/database.js';
import { dueForExpiry, nextExpiry } from '../db/disappearing.js';
import { deleteMessage } from '../db/messages.js';
import { sql } from '../db/sql.js';

/** Work per deletion batch (its transaction, commit included) before yielding to the event loop. */
export const EXPIRY_BATCH_BUDGET_MS = 20;
/** The first batch's size; later ones follow the measured cost per row. */
const FIRST_BATCH_ROWS = 32;
const MAX_BATCH_ROWS = 1_000;
/**
 * The expiry timer never sleeps longer than this while a deletion is less than an hour away (and
 * EXPIRY_IDLE_RECHECK_MS otherwise): a wall clock moved forward (or a machine back from sleep) is
 * noticed this soon, not only when the original delay has run out.
 */
export const EXPIRY_RECHECK_MS = 5_000;
export const EXPIRY_IDLE_RECHECK_MS = 60_000;
const HOUR_MS = 3_600_000;

export type RemovedRow = { readonly id: number; readonly conversationId: number };

export type ExpiryOptions = {
  readonly db: EngineDatabase;
  readonly clock: Clock;
  /**
   * Attachments.discard: stops the transfers of `rowIds`, runs `remove` (which deletes the rows),
   * then deletes their files.
   */
  readonly discard: (rowIds: readonly number[], remove: () => void) => Promise<void>;
  /** After each batch: the rows are gone (events, conversation list). */
  readonly removed: (rows: readonly RemovedRow[]) => void;
  readonly stopped: () => boolean;
};

/** Checkpoints the WAL into the main file and truncates it; false when a reader kept it busy. */
export function checkpointTruncate(db: WriteDb): boolean {
  const r = db.get<{ busy: number }>(sql`PRAGMA wal_checkpoint(TRUNCATE)`);
  return (r?.busy ?? 0) === 0;
}

/**
 * Runs `fn` (a deletion transaction) with synchronous=NORMAL: in WAL mode its commit does not wait
 * for an fsync — on a busy disk that wait, not the deletes, dominated a batch (bench/disappearing).
 * A deletion lost to a power cut is simply made again at the next start (the rows are still due);
 * the next durable commit (synchronous=FULL, restored right after) fsyncs the log with it. Nothing
 * else can commit in between: the writer is used from this thread only, synchronously.
 */
function withoutCommitSync<T>(db: WriteDb, fn: () => T): T {
  db.run(sql`PRAGMA synchronous = NORMAL`);
  try {
    return fn();
  } finally {
    db.run(sql`PRAGMA synchronous = FULL`);
  }
}

/**
 * At start (engine open, before the state becomes ready): deletes every row due at `now`, then
 * checkpoints. Synchronous — nothing is shown yet. Returns how many rows went.
 */
export function purgeExpired(db: WriteDb, now: number): number {
  let total = 0;
  for (;;) {
    const due = dueForExpiry(db, now, MAX_BATCH_ROWS);
    if (due.length === 0) break;
    db.transaction(() => {
      for (const r of due) deleteMessage(db, r.id);
    });
    total += due.length;
  }
  if (total > 0) checkpointTruncate(db);
  return total;
}

export class Expiry {
  readonly #o: ExpiryOptions;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | null = null;
  #again = false;
  #started = false;
  #batchRows = FIRST_BATCH_ROWS;

  constructor(o: ExpiryOptions) {
    this.#o = o;
  }

  start(): void {
    this.#started = true;
    this.reschedule();
  }

  stop(): void {
    this.#started = false;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** A timed row was added or its timer started: the timer follows the earliest deletion. */
  reschedule(): void {
    if (!this.#started || this.#o.stopped()) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    clearTimeout(this.#timer);
    const next = nextExpiry(this.#o.db.writer);
    if (next === null) return;
    const delta = Math.max(0, next - this.#o.clock());
    const wait = Math.min(delta, delta <= HOUR_MS ? EXPIRY_RECHECK_MS : EXPIRY_IDLE_RECHECK_MS);
    this.#timer = setTimeout(() => void this.run(), wait);
    this.#timer.unref?.();
  }

  /** Deletes everything due now (one run at a time), then schedules the next. Resolves when done. */
  run(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#runDue()
      .catch(() => {
        // A storage failure: tried again at the next timer (the rows are still there).
      })
      .finally(() => {
        this.#running = null;
        this.#again = false;
        this.reschedule();
      });
    return this.#running;
  }

  async #runDue(): Promise<void> {
    const o = this.#o;
    let deleted = 0;
    do {
      this.#again = false;
      for (;;) {
        if (o.stopped()) return;
        const due = dueForExpiry(o.db.writer, o.clock(), this.#batchRows);
        if (due.length === 0) break;
        await this.removeBatch(due.map((r) => ({ id: r.id, conversationId: r.conversationId })), due.filter((r) => r.attachment).map((r) => r.id));
        deleted += due.length;
        // Let the window breathe between batches.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    } while (this.#again);
    if (deleted > 0 && !o.stopped()) {
      // A reader (the search worker) may hold the log for a moment: a few tries, then the next run.
      for (let attempt = 0; attempt < 5 && !checkpointTruncate(o.db.writer); attempt++) {
        await new Promise<void>((resolve) => setTimeout(resolve, 50));
        if (o.stopped()) return;
      }
    }
  }

  /**
   * Removes `rows` as expiry does: their files (`withFiles`, stopping transfers first) and rows in
   * one transaction, then the events. Adapts the next batch to the measured cost per row.
   */
  async removeBatch(rows: readonly RemovedRow[], withFiles: readonly number[], extra?: (db: WriteDb) => void): Promise<void> {
    const o = this.#o;
    const db = o.db.writer;
    let elapsed = 0;
    const remove = (): void => {
      const t0 = performance.now();
      withoutCommitSync(db, () =>
        db.transaction(() => {
          for (const r of rows) deleteMessage(db, r.id);
          extra?.(db);
        }),
      );
      elapsed = performance.now() - t0;
    };
    if (withFiles.length > 0) await o.discard(withFiles, remove);
    else remove();
    o.removed(rows);
    // A commit has a fixed cost (a durable fsync) besides the per-row work, so the size follows the
    // measured time of whole batches: grow while under the budget, shrink when over it.
    if (rows.length >= this.#batchRows) {
      if (elapsed < EXPIRY_BATCH_BUDGET_MS * 0.7) this.#batchRows = Math.min(MAX_BATCH_ROWS, Math.ceil(this.#batchRows * 1.5));
      else if (elapsed > EXPIRY_BATCH_BUDGET_MS) this.#batchRows = Math.max(1, Math.floor(this.#batchRows * Math.max(0.3, EXPIRY_BATCH_BUDGET_MS / elapsed)));
    }
  }
}
