/**
 * The search panel's state (issue 6): the query as the person types it, searched after a short
 * pause (DEBOUNCE_MS) through the bridge's `search` (the engine's `search:query`), the results newest
 * first and grouped by conversation, "more results" by the engine's keyset cursor, and the index's
 * state from `search:indexProgress` events (off, rebuilding with progress, ready).
 *
 * Only the latest request counts: a response to an older query (the person kept typing) is dropped.
 * When search is turned off in Settings, nothing is sent and the panel says so; turned back on, the
 * query runs again. Results are view models only: snippets come with match ranges, which the panel
 * renders as text with <mark> (format/search.ts). Does not open conversations (AppState does).
 */
import type { Bridge, SearchCursor, SearchHit, SearchIndexProgress } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { appendHits, groupByConversation, type SearchGroup } from '../format/search.js';
import { browserTimers, settle, type Timers } from './call.js';

/** Wait this long after the last keystroke before searching. */
export const DEBOUNCE_MS = 200;
/** Results per request (the contract allows up to 50). */
export const SEARCH_PAGE_SIZE = 30;
/**
 * The contract's limit on a query (shared/api MAX_SEARCH_QUERY_LENGTH; the renderer imports types
 * only): longer input is cut here rather than refused by the engine.
 */
export const MAX_QUERY_LENGTH = 256;

export type SearchStatus =
  /** No query (or only white space): the panel shows how to search. */
  | 'empty'
  | 'searching'
  | 'done'
  /** Search is turned off in Settings. */
  | 'disabled'
  | 'error';


export type SearchOptions = {
  readonly timers?: Timers;
  readonly debounceMs?: number;
  readonly pageSize?: number;
  /** The searchEnabled setting as the app knows it (null: not loaded yet — ask the engine). */
  readonly enabled?: () => boolean | null;
};

export class SearchState {
  readonly #bridge: Bridge;
  readonly #timers: Timers;
  readonly #debounceMs: number;
  readonly #pageSize: number;
  readonly #enabled: () => boolean | null;
  #query = $state('');
  /** The query the results belong to. */
  #searched = $state('');
  #hits = $state.raw<readonly SearchHit[]>([]);
  #cursor = $state.raw<SearchCursor | null>(null);
  #status = $state<SearchStatus>('empty');
  #error = $state<string | null>(null);
  #indexComplete = $state(true);
  #loadingMore = $state(false);
  #progress = $state.raw<SearchIndexProgress | null>(null);
  #groups = $derived(groupByConversation(this.#hits));
  #pending: unknown = null;
  /** Sequence number of the latest request; responses to earlier ones are dropped. */
  #latest = 0;

  constructor(bridge: Bridge, options: SearchOptions = {}) {
    this.#bridge = bridge;
    this.#timers = options.timers ?? browserTimers;
    this.#debounceMs = options.debounceMs ?? DEBOUNCE_MS;
    this.#pageSize = options.pageSize ?? SEARCH_PAGE_SIZE;
    this.#enabled = options.enabled ?? (() => null);
  }

  /** What the search box holds. */
  get query(): string {
    return this.#query;
  }
  /** The query the shown results were found for. */
  get searched(): string {
    return this.#searched;
  }
  get status(): SearchStatus {
    return this.#status;
  }
  get error(): string | null {
    return this.#error;
  }
  /** Newest first. */
  get hits(): readonly SearchHit[] {
    return this.#hits;
  }
  get groups(): readonly SearchGroup[] {
    return this.#groups;
  }
  get hasMore(): boolean {
    return this.#cursor !== null;
  }
  get loadingMore(): boolean {
    return this.#loadingMore;
  }
  /** false while older messages may be missing (the index is being rebuilt, or a burst caught up). */
  get indexComplete(): boolean {
    return this.#indexComplete;
  }
  /** The last index event: null until one arrives. */
  get progress(): SearchIndexProgress | null {
    return this.#progress;
  }
  get rebuilding(): boolean {
    return this.#progress?.state === 'rebuilding';
  }

  /** The search box changed: search after a pause. */
  setQuery(text: string): void {
    this.#query = text.slice(0, MAX_QUERY_LENGTH);
    this.#cancelPending();
    if (this.#query.trim() === '') {
      this.#latest += 1;
      this.#reset('empty');
      return;
    }
    this.#pending = this.#timers.setTimeout(() => {
      this.#pending = null;
      void this.run();
    }, this.#debounceMs);
  }

  /** Searches for the current query now (Enter, or the setting came back on). */
  async run(): Promise<void> {
    this.#cancelPending();
    const query = this.#query;
    const seq = ++this.#latest;
    if (query.trim() === '') {
      this.#reset('empty');
      return;
    }
    if (this.#enabled() === false) {
      this.#reset('disabled');
      return;
    }
    this.#status = 'searching';
    const result = await settle(this.#bridge.search({ query, limit: this.#pageSize }));
    if (seq !== this.#latest) return;
    this.#searched = query;
    if (!result.ok) {
      this.#reset(result.error.code === 'SEARCH_DISABLED' ? 'disabled' : 'error');
      if (result.error.code !== 'SEARCH_DISABLED') this.#error = describeError(result.error);
      return;
    }
    this.#hits = result.value.results;
    this.#cursor = result.value.nextCursor;
    this.#indexComplete = result.value.indexComplete;
    this.#error = null;
    this.#status = 'done';
  }

  /** The next (older) page of results for the same query. */
  async loadMore(): Promise<void> {
    const cursor = this.#cursor;
    if (cursor === null || this.#loadingMore || this.#status !== 'done') return;
    const seq = this.#latest;
    this.#loadingMore = true;
    const result = await settle(this.#bridge.search({ query: this.#searched, cursor, limit: this.#pageSize }));
    this.#loadingMore = false;
    if (seq !== this.#latest) return;
    if (!result.ok) {
      this.#error = describeError(result.error);
      return;
    }
    this.#hits = appendHits(this.#hits, result.value.results);
    this.#cursor = result.value.nextCursor;
    this.#indexComplete = result.value.indexComplete;
  }

  /** A `search:indexProgress` event. A rebuild that finished may find more: search again. */
  onProgress(progress: SearchIndexProgress): void {
    const wasIncomplete = this.#progress?.state === 'rebuilding' || !this.#indexComplete;
    this.#progress = progress;
    if (progress.state === 'off' && this.#query.trim() !== '') this.#reset('disabled');
    else if (progress.state === 'ready' && wasIncomplete && this.#status === 'done') void this.run();
  }

  /** The searchEnabled setting changed (Settings saved it). */
  onEnabledChanged(enabled: boolean): void {
    if (!enabled) {
      this.#latest += 1;
      this.#cancelPending();
      if (this.#query.trim() !== '') this.#reset('disabled');
    } else if (this.#status === 'disabled') void this.run();
  }

  /** Empties the box and the results (the panel was closed with Escape twice, or the app locked). */
  clear(): void {
    this.#cancelPending();
    this.#latest += 1;
    this.#query = '';
    this.#reset('empty');
  }

  #reset(status: SearchStatus): void {
    this.#hits = [];
    this.#cursor = null;
    this.#searched = status === 'empty' ? '' : this.#query;
    this.#indexComplete = true;
    this.#error = null;
    this.#status = status;
  }

  #cancelPending(): void {
    if (this.#pending !== null) this.#timers.clearTimeout(this.#pending);
    this.#pending = null;
  }
}
