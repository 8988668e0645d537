/**
 * electron/engine/search — local full-text search over the encrypted database (DESIGN §4, §3.8;
 * issue 6; docs/adr/0005-search.md). This module owns:
 *  - the index: two FTS5 tables (word index with prefixes, trigram index) inside the encrypted
 *    database, kept in step with `messages` by SQL triggers (schema.ts, text.ts);
 *  - safe query parsing (query.ts), the newest-first keyset-paginated query plan (search.ts) and
 *    snippets with match ranges (snippet.ts);
 *  - the searchEnabled setting's effect: off drops the index (secure delete, WAL TRUNCATE
 *    checkpoint), on rebuilds it in the background in short batches with progress events
 *    (indexer.ts, this file).
 * It does not own the messages table or how messages are written (db/messages.ts — the triggers
 * follow whatever writes it), the setting's storage (db/settings.ts), or the search panel (renderer).
 * Logout needs nothing from here: the index lives in the database files it deletes.
 *
 * SearchService is what the engine holds: attach it to a database once it is open, detach it before
 * the database closes, call reconcile() after the setting changes, and search() for the channel.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import type { RequestOf } from '../../../shared/api/types.js';
import type { SearchHit, SearchIndexProgress, SearchPage } from '../../../shared/api/view-models.js';
import { bytesEqual } from '../../../shared/crypto/bytes.js';
import type { EngineDatabase } from '../db/database.js';
import { readSettings } from '../db/settings.js';
import { EngineError } from '../errors.js';
import { contactIdOf, rowIdOf } from '../views.js';
import {
  checkpoint,
  createIndex,
  DEFAULT_AUTOMERGE,
  dropIndex,
  dropIndexObjects,
  indexNextBatch,
  lowestMessageId,
  mergeStep,
  passiveCheckpoint,
  readIndexRecord,
  setAutomerge,
} from './indexer.js';
import { SearchIndexMissing, searchMessages, type SearchHitRecord } from './search.js';
import { INDEX_TEXT_FORMAT } from './text.js';

/** Work per rebuild batch the batch size adapts to; DESIGN §4 allows ~20 ms per event-loop turn. */
export const REBUILD_BATCH_TARGET_MS = 6;
const FIRST_BATCH_SIZE = 64;
/** Leaf pages per FTS5 merge command (a few milliseconds of work). */
const MERGE_STEP_PAGES = 8;
/** A PASSIVE checkpoint after every few batches: small enough to stay in budget, so SQLite's own 1000-page one never runs. */
const CHECKPOINT_EVERY_BATCHES = 4;
const MIN_BATCH_SIZE = 8;
const MAX_BATCH_SIZE = 20_000;
/** At most one rebuilding progress event per interval (the first and the last are always sent). */
export const PROGRESS_INTERVAL_MS = 250;

export type SearchServiceOptions = {
  readonly emit: (progress: SearchIndexProgress) => void;
  readonly batchTargetMs?: number;
  readonly progressIntervalMs?: number;
};

type TurnKind = 'batch' | 'checkpoint' | 'merge' | 'automerge';

/** Figures of the last rebuild (tests and the benchmark read them). */
export type RebuildStats = {
  /** Index batches and the message rows they covered. */
  batches: number;
  scanned: number;
  /** Event-loop turns of rebuild work (batches, checkpoints, merge steps) and the longest, wall and CPU. */
  turns: number;
  maxTurnMs: number;
  maxTurnCpuMs: number;
  /** The longest turn of each kind: wall ms and process CPU ms (on a loaded machine wall time includes waiting for a core). */
  maxTurnByKind: Record<TurnKind, { wallMs: number; cpuMs: number }>;
  maxBatchMs: number;
  totalBatchMs: number;
  /** Time spent in rebuild turns; wallMs: from the start to the last turn. */
  busyMs: number;
  wallMs: number;
  completed: boolean;
};

type Job = { cancelled: boolean; readonly done: Promise<void> };

export class SearchService {
  readonly #emit: (progress: SearchIndexProgress) => void;
  readonly #batchTargetMs: number;
  readonly #progressIntervalMs: number;
  #db: EngineDatabase | null = null;
  #job: Job | null = null;
  lastRebuild: RebuildStats | null = null;

  constructor(o: SearchServiceOptions) {
    this.#emit = o.emit;
    this.#batchTargetMs = o.batchTargetMs ?? REBUILD_BATCH_TARGET_MS;
    this.#progressIntervalMs = o.progressIntervalMs ?? PROGRESS_INTERVAL_MS;
  }

  /** Starts serving `db`: brings the index in line with the setting and resumes an unfinished rebuild. */
  attach(db: EngineDatabase): void {
    this.detach();
    this.#db = db;
    this.reconcile();
  }

  /** Stops the rebuild (between batches; it resumes at the next attach). Call before closing the database. */
  detach(): void {
    if (this.#job) this.#job.cancelled = true;
    this.#job = null;
    this.#db = null;
  }

  /** Resolves when no rebuild is running. */
  async idle(): Promise<void> {
    while (this.#job) await this.#job.done;
  }

  /**
   * Makes the index match the searchEnabled setting: off → dropped; on → present under the current
   * text format (recreated if another format built it), and a rebuild running if it is incomplete.
   */
  reconcile(): void {
    const db = this.#db;
    if (!db) return;
    const enabled = readSettings(db.writer).searchEnabled;
    let record = readIndexRecord(db.writer);
    if (!enabled) {
      if (this.#job) this.#job.cancelled = true;
      this.#job = null;
      if (record) {
        dropIndex(db.writer);
        this.#emit({ state: 'off', progress: 0 });
      }
      return;
    }
    if (!record || record.textFormat !== INDEX_TEXT_FORMAT) {
      if (this.#job) this.#job.cancelled = true;
      this.#job = null;
      const replaced = record !== null;
      db.writer.transaction(() => {
        if (replaced) dropIndexObjects(db.writer);
        createIndex(db.writer);
      });
      if (replaced) checkpoint(db.writer);
      record = readIndexRecord(db.writer)!;
      if (record.indexedFrom === 0) this.#emit({ state: 'ready', progress: 1 });
    }
    if (record.indexedFrom !== 0 && !this.#job) this.#startRebuild(db, record.indexedFrom);
  }

  #startRebuild(db: EngineDatabase, startFrom: number): void {
    const job: { cancelled: boolean; done: Promise<void> } = { cancelled: false, done: Promise.resolve() };
    job.done = this.#rebuild(db, job, startFrom).finally(() => {
      if (this.#job === job) this.#job = null;
    });
    this.#job = job;
  }

  /**
   * The background rebuild: event-loop turns of three kinds, each bounded by the batch target —
   * an index batch (its size adapts to the target), a PASSIVE checkpoint, and merge steps (FTS5
   * automerge is off while it runs; see setAutomerge) until no level needs merging. Progress
   * events are throttled; 'ready' comes after the last merge, when automerge is back on.
   */
  async #rebuild(db: EngineDatabase, job: Job, startFrom: number): Promise<void> {
    const w = db.writer;
    const lowest = lowestMessageId(w) ?? startFrom;
    const span = Math.max(1, startFrom - lowest);
    const stats: RebuildStats = {
      batches: 0,
      scanned: 0,
      turns: 0,
      maxTurnMs: 0,
      maxTurnCpuMs: 0,
      maxTurnByKind: {
        batch: { wallMs: 0, cpuMs: 0 },
        checkpoint: { wallMs: 0, cpuMs: 0 },
        merge: { wallMs: 0, cpuMs: 0 },
        automerge: { wallMs: 0, cpuMs: 0 },
      },
      maxBatchMs: 0,
      totalBatchMs: 0,
      busyMs: 0,
      wallMs: 0,
      completed: false,
    };
    this.lastRebuild = stats;
    const started = performance.now();
    let lastEmit = -Infinity;
    let size = FIRST_BATCH_SIZE;
    let indexedFrom = startFrom;
    /**
     * One turn of work, measured: the time it kept the event loop (wall) and the process CPU it used
     * (on a loaded machine the wall time includes waiting for a core). null when cancelled or when
     * the database failed (the rebuild resumes at the next attach).
     */
    const turn = async (kind: TurnKind, work: () => void): Promise<{ ms: number; cpu: number } | null> => {
      await nextTurn();
      if (job.cancelled) return null;
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      try {
        work();
      } catch {
        return null;
      }
      const ms = performance.now() - t0;
      const used = process.cpuUsage(c0);
      const cpu = (used.user + used.system) / 1000;
      stats.turns += 1;
      stats.busyMs += ms;
      stats.maxTurnMs = Math.max(stats.maxTurnMs, ms);
      stats.maxTurnCpuMs = Math.max(stats.maxTurnCpuMs, cpu);
      const byKind = stats.maxTurnByKind[kind];
      byKind.wallMs = Math.max(byKind.wallMs, ms);
      byKind.cpuMs = Math.max(byKind.cpuMs, cpu);
      stats.wallMs = performance.now() - started;
      return { ms, cpu };
    };
    const mergeUntilDone = async (): Promise<boolean> => {
      for (let more = true; more; ) {
        const done = await turn('merge', () => {
          const t0 = performance.now();
          do more = w.transaction(() => mergeStep(w, MERGE_STEP_PAGES));
          while (more && performance.now() - t0 < this.#batchTargetMs);
        });
        if (!done) return false;
      }
      return true;
    };

    if (!(await turn('automerge', () => w.transaction(() => setAutomerge(w, 0))))) return;
    while (indexedFrom !== 0) {
      const done = await turn('batch', () => {
        const result = w.transaction(() => indexNextBatch(w, size));
        stats.batches += 1;
        stats.scanned += result.scanned;
        indexedFrom = result.indexedFrom;
      });
      if (!done) return;
      stats.totalBatchMs += done.ms;
      stats.maxBatchMs = Math.max(stats.maxBatchMs, done.ms);
      // Aim each batch at the target work; grow at most 2x per step, shrink as far as needed. The
      // work is the lesser of wall and CPU time: wall time waiting for a busy core is not ours.
      const work = Math.max(0.1, Math.min(done.ms, done.cpu));
      size = Math.round(Math.min(MAX_BATCH_SIZE, Math.max(MIN_BATCH_SIZE, size * Math.min(2, this.#batchTargetMs / work))));
      if (stats.batches % CHECKPOINT_EVERY_BATCHES === 0 && !(await turn('checkpoint', () => passiveCheckpoint(w)))) return;
      if (!(await mergeUntilDone())) return;
      const now = performance.now();
      if (indexedFrom !== 0 && now - lastEmit >= this.#progressIntervalMs) {
        lastEmit = now;
        this.#emit({ state: 'rebuilding', progress: Math.min(1, Math.max(0, (startFrom - indexedFrom) / span)) });
      }
    }
    if (!(await turn('automerge', () => w.transaction(() => setAutomerge(w, DEFAULT_AUTOMERGE))))) return;
    stats.completed = true;
    this.#emit({ state: 'ready', progress: 1 });
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
