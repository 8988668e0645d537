/**
 * electron/engine/search — local full-text search over the encrypted database (DESIGN §4, §3.8;
 * issue 6; docs/adr/0005-search.md). This module owns:
 *  - the index: FTS5 word and trigram indexes and the vocabulary inside the encrypted database,
 *    kept exact under edits and deletes by SQL triggers, filled by a worker thread (schema.ts,
 *    text.ts, indexer.ts);
 *  - safe query parsing (query.ts), the newest-first keyset-paginated query plan (query-plan.ts) and
 *    snippets with match ranges (snippet.ts);
 *  - the index's upkeep off the UI-serving thread: a worker thread with its own connection indexes
 *    new messages shortly after they commit, rebuilds, merges and purges (maintenance.ts,
 *    maintenance-worker.ts), and this file, which starts and stops that worker with the open
 *    database and applies the searchEnabled setting: off retires the index (a cheap schema change
 *    here; the worker purges it), on creates it (the worker rebuilds it, with progress events).
 * It does not own the messages table or how messages are written (db/messages.ts — the triggers
 * follow whatever writes it), the setting's storage (db/settings.ts), or the search panel (renderer).
 * Logout needs nothing from here: the index lives in the database files it deletes.
 *
 * SearchService is what the engine holds: attach it to a database once it is open (handing over a
 * copy of the key for the worker), detach it before the database closes (the worker closes its
 * connection — dropping SQLCipher's copy of the key — and exits), call reconcile() after the setting
 * changes, and caughtUp() then search() for the channel.
 */
import { Worker } from 'node:worker_threads';
import type { RequestOf } from '../../../shared/api/types.js';
import type { SearchHit, SearchIndexProgress, SearchPage } from '../../../shared/api/view-models.js';
import { bytesEqual } from '../../../shared/crypto/bytes.js';
import type { EngineDatabase } from '../db/database.js';
import { readSettings } from '../db/settings.js';
import { sql } from '../db/sql.js';
import { EngineError } from '../errors.js';
import { workerEntry } from '../worker-entry.js';
import { contactIdOf, rowIdOf } from '../views.js';
import { catchUpBacklog, createIndex, isCurrent, readIndexRecord, retireIndex } from './indexer.js';
import type { FromWorker, MaintenanceStats, ToWorker, WorkerInit } from './maintenance.js';
import { SearchIndexMissing, searchMessages, type SearchHitRecord } from './query-plan.js';
import { INDEX_TEXT_TABLES } from './schema.js';

/**
 * A search waits for the worker to index what was committed just before it (read-your-writes for
 * a message that has just arrived) when at most this many messages wait…
 */
export const CATCH_UP_WAIT_MAX_ROWS = 2_000;
/** …and for at most this long; then it answers with what is indexed (indexComplete: false). */
export const CATCH_UP_WAIT_MS = 500;
/** How long a closing worker may take to finish its step before it is terminated. */
const CLOSE_TIMEOUT_MS = 5_000;

export type SearchServiceOptions = {
  readonly emit: (progress: SearchIndexProgress) => void;
  /** Electron's build of the native module (DESIGN §4), for the worker's connection too. */
  readonly nativeBinding?: string | undefined;
  /** Tuning for tests and the benchmark (maintenance.ts defaults otherwise). */
  readonly batchTargetMs?: number | undefined;
  readonly progressIntervalMs?: number | undefined;
  readonly pollMs?: number | undefined;
  /** The worker entry; by default the compiled maintenance-worker.js next to this module. */
  readonly workerScript?: URL | undefined;
};

/** The main thread's handle on one maintenance worker (one per attach). */
class MaintenanceWorker {
  readonly #worker: Worker;
  readonly #pending = new Map<number, (stats: MaintenanceStats | null) => void>();
  #nextId = 1;
  #alive = true;
  failure: string | null = null;
  readonly exited: Promise<void>;

  constructor(
    script: URL,
    init: WorkerInit,
    onProgress: (p: SearchIndexProgress) => void,
    /** The worker's connection is open (true), or it failed or exited (false): it checkpoints the WAL only while open. */
    onCheckpointing: (running: boolean) => void,
  ) {
    this.#worker = new Worker(script, { workerData: init, transferList: [init.key.buffer as ArrayBuffer] });
    // The worker must not keep the process alive (a CLI or a test that forgets to detach still exits).
    this.#worker.unref();
    this.#worker.on('message', (m: FromWorker) => {
      switch (m.type) {
        case 'opened':
          onCheckpointing(true);
          return;
        case 'failed':
          this.failure = m.message;
          onCheckpointing(false);
          return;
        case 'progress':
          onProgress(m.progress);
          return;
        case 'reply':
          this.#pending.get(m.id)?.(m.stats);
          this.#pending.delete(m.id);
          return;
      }
    });
    this.#worker.on('error', (e) => {
      this.failure ??= e instanceof Error ? `${e.name}: ${e.message}` : 'worker error';
    });
    this.exited = new Promise((resolve) =>
      this.#worker.once('exit', () => {
        this.#alive = false;
        onCheckpointing(false);
        for (const reply of this.#pending.values()) reply(null);
        this.#pending.clear();
        resolve();
      }),
    );
  }

  #post(message: ToWorker): void {
    if (this.#alive) this.#worker.postMessage(message);
  }

  nudge(): void {
    this.#post({ type: 'nudge' });
  }

  request(message: { type: 'wait'; until: 'caught-up' | 'idle' } | { type: 'stats'; reset?: boolean }): Promise<MaintenanceStats | null> {
    if (!this.#alive) return Promise.resolve(null);
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#post({ ...message, id });
    });
  }

  /** Asks the worker to finish its step, close its connection and exit; terminates it if it does not. */
  close(): Promise<void> {
    this.#post({ type: 'close' });
    const timer = setTimeout(() => void this.#worker.terminate(), CLOSE_TIMEOUT_MS);
    timer.unref();
    return this.exited.finally(() => clearTimeout(timer));
  }
}

/**
 * While the maintenance worker runs, it checkpoints the WAL (PASSIVE, off this thread: see
 * maintenance.ts) and the engine's writer does not: SQLite's automatic checkpoint would otherwise
 * copy 1000 pages inside one of the writer's commits now and then, a stall of tens of milliseconds on
 * the event loop. Without the worker (it failed, it exited, it is being replaced) the writer
 * checkpoints again (SQLite's default, every 1000 pages), so the WAL never grows without bound.
 */
function setWriterCheckpoints(db: EngineDatabase, on: boolean): void {
  try {
    // (PRAGMA takes no bound parameters: two fixed statements.)
    db.writer.get(on ? sql`PRAGMA wal_autocheckpoint = 1000` : sql`PRAGMA wal_autocheckpoint = 0`);
  } catch {
    // The database closed first: nothing to checkpoint.
  }
}

export class SearchService {
  readonly #o: SearchServiceOptions;
  #db: EngineDatabase | null = null;
  #worker: MaintenanceWorker | null = null;
  #stopping: Promise<void> = Promise.resolve();

  constructor(o: SearchServiceOptions) {
    this.#o = o;
  }

  /**
   * Starts serving `db`: brings the index in line with the setting and starts the maintenance worker
   * with `key` — a copy of the database key the service takes over (its buffer is transferred to the
   * worker and detached here; the worker wipes it once its connection is keyed).
   */
  attach(db: EngineDatabase, key: Uint8Array): void {
    this.detach();
    this.#db = db;
    const own = new Uint8Array(key.length);
    own.set(key);
    key.fill(0);
    try {
      this.#worker = new MaintenanceWorker(
        this.#o.workerScript ?? maintenanceWorkerScript(),
        {
          path: db.path,
          key: own,
          unencryptedForTests: db.unencryptedForTests,
          nativeBinding: this.#o.nativeBinding,
          batchTargetMs: this.#o.batchTargetMs,
          progressIntervalMs: this.#o.progressIntervalMs,
          pollMs: this.#o.pollMs,
        },
        (p) => {
          if (this.#db === db) this.#o.emit(p);
        },
        (running) => setWriterCheckpoints(db, !running),
      );
    } catch (e) {
      own.fill(0);
      throw e;
    }
    this.reconcile();
  }

  /**
   * Stops the worker (it finishes its current step — a few milliseconds — closes its connection and
   * exits; whatever it was doing resumes at the next attach). Call before closing the database.
   */
  detach(): void {
    const worker = this.#worker;
    this.#worker = null;
    this.#db = null;
    if (worker) this.#stopping = Promise.all([this.#stopping, worker.close()]).then(() => undefined);
  }

  /** Resolves when every worker started so far has exited (logout awaits it before deleting files). */
  stopped(): Promise<void> {
    return this.#stopping;
  }

  /** Why the worker could not open the database, if it could not (its index then stops following). */
  get workerFailure(): string | null {
    return this.#worker?.failure ?? null;
  }

  /**
   * Makes the index match the searchEnabled setting, on the engine's writer, in one short
   * transaction: off → the index is retired (no trigger or bookkeeping left; its text tables wait
   * for the worker's purge); on → an index under the current layout and text format exists
   * (replacing one of another format), and the worker is told to fill it.
   */
  reconcile(): void {
    const db = this.#db;
    if (!db) return;
    const enabled = readSettings(db.writer).searchEnabled;
    const record = readIndexRecord(db.writer);
    if (!enabled) {
      const live = db.writer.all<{ name: string }>(sql`SELECT name FROM sqlite_schema WHERE type = 'table' AND name GLOB 'search_*'`);
      if (record || live.some((t) => INDEX_TEXT_TABLES.some((x) => x.name === t.name))) {
        db.writer.transaction(() => retireIndex(db.writer));
        if (record) this.#o.emit({ state: 'off', progress: 0 });
      }
    } else if (!record || !isCurrent(record)) {
      db.writer.transaction(() => {
        retireIndex(db.writer);
        createIndex(db.writer);
      });
      if (readIndexRecord(db.writer)!.indexedFrom === 0) this.#o.emit({ state: 'ready', progress: 1 });
    }
    this.#worker?.nudge();
  }

  /**
   * Before a search: if a few messages committed just now are not indexed yet, waits (at most
   * CATCH_UP_WAIT_MS) for the worker to index them, so a message that has just arrived is found.
   * A larger backlog (a burst being caught up, a rebuild) is not waited for: the search answers
   * from what is indexed, with indexComplete false.
   */
  async caughtUp(): Promise<void> {
    const db = this.#db;
    const worker = this.#worker;
    if (!db || !worker) return;
    const backlog = catchUpBacklog(db.reader, CATCH_UP_WAIT_MAX_ROWS + 1);
    if (backlog === null || backlog === 0 || backlog > CATCH_UP_WAIT_MAX_ROWS) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      worker.request({ type: 'wait', until: 'caught-up' }),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, CATCH_UP_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }

  /** Resolves once every message committed before the call is indexed, however long that takes (the rebuild aside). Tests and the benchmark. */
  async whenCaughtUp(): Promise<void> {
    await this.#worker?.request({ type: 'wait', until: 'caught-up' });
  }

  /** Resolves once the worker has nothing left to do (caught up, rebuilt, purged, merged). Tests and the benchmark. */
  async idle(): Promise<void> {
    await this.#worker?.request({ type: 'wait', until: 'idle' });
  }

  /** The worker's figures (null when none runs); `reset` starts counting again after these. */
  async stats(options: { reset?: boolean } = {}): Promise<MaintenanceStats | null> {
    return (await this.#worker?.request({ type: 'stats', reset: options.reset === true })) ?? null;
  }

  /** The search channel. Throws SEARCH_DISABLED when the setting is off. */
  search(db: EngineDatabase, req: RequestOf<'search:query'>, self: Uint8Array): SearchPage {
    if (!readSettings(db.reader).searchEnabled) throw new EngineError('SEARCH_DISABLED', 'search is turned off in settings');
    let result;
    try {
      result = searchMessages(db.reader, {
        query: req.query,
        conversationId: req.conversationId === undefined ? undefined : rowIdOf(req.conversationId),
        cursor: req.cursor ? { displayAt: req.cursor.displayAt, id: rowIdOf(req.cursor.messageId) } : undefined,
        limit: req.limit,
      });
    } catch (e) {
      if (e instanceof SearchIndexMissing) throw new EngineError('SEARCH_DISABLED', 'search is turned off in settings');
      throw e;
    }
    return {
      results: result.hits.map((h) => searchHitView(h, self)),
      nextCursor: result.next && { displayAt: result.next.displayAt, messageId: String(result.next.id) },
      indexComplete: result.indexComplete,
    };
  }
}

export function searchHitView(h: SearchHitRecord, self: Uint8Array): SearchHit {
  const own = h.direction === 'outgoing' || bytesEqual(h.senderAccountId, self);
  return {
    messageId: String(h.id),
    conversationId: String(h.conversationId),
    direction: h.direction,
    senderId: own ? null : contactIdOf(h.senderAccountId),
    displayAt: h.displayAt,
    snippet: { ...h.snippet, ranges: [...h.snippet.ranges] },
  };
}

// ── The worker's entry ──────────────────────────────────────────────────────────────────────────

/** The maintenance worker's entry: compiled JS next to this module, or bundled from source under the test runner. */
export function maintenanceWorkerScript(): URL {
  return workerEntry(import.meta.url, './maintenance-worker');
}
