/**
 * Search queries over the index (docs/adr/0005-search.md "Query plan"): results in display order
 * (display_at, id), newest first, `limit` at a time, keyset-paginated on that pair — never a ranking
 * query, and never a sort of every match.
 *
 * The index returns rowids (= message ids), and id order is close to display order but not equal
 * (a late arrival gets a high id and an old display time). So:
 *  1. a probe asks FTS5 for the `limit + 1` matches with the highest ids (FTS5 walks its doclists
 *     backwards and stops there). Fewer means that is every match: done, one pass over the index —
 *     the usual answer for rare terms;
 *  2. otherwise the walk continues below the probe's lowest id in spans of 4096 ids, one FTS5 query
 *     per group of spans (1, 2, 4 … 64): MATCH + rowid range → messages by primary key → top
 *     `limit + 1` by display order (SQLite's sorter with a LIMIT keeps only that many).
 *     `search_spans` bounds the display times of every span, so the walk stops as soon as the
 *     `limit + 1`-th best result so far is at least as new as anything in the spans left — exact,
 *     not a heuristic. With a cursor, spans whose oldest message is newer than the cursor are
 *     skipped, so a later page does not redo the earlier ones.
 *
 * Does not own: the index (schema.ts, indexer.ts), query syntax (query.ts), snippets (snippet.ts),
 * the setting (service.ts).
 */
import type { ReadDb } from '../db/database.js';
import { blob } from '../db/rows.js';
import { sql, type SqlQuery } from '../db/sql.js';
import { readIndexRecord } from './indexer.js';
import { buildMatch, parseQuery, phrase, type ParsedQuery } from './query.js';
import { SPAN_BITS } from './schema.js';
import { makeSnippet } from './snippet.js';
import type { Snippet } from '../../../shared/api/view-models.js';

const SPAN_SIZE = 2 ** SPAN_BITS;
/** The widest group of spans one FTS5 query covers. */
const MAX_SPANS_PER_QUERY = 64;

export type DisplayKey = { readonly displayAt: number; readonly id: number };

export type SearchRequest = {
  readonly query: string;
  readonly conversationId?: number | undefined;
  /** Results strictly older than this key (the previous page's last result). */
  readonly cursor?: DisplayKey | undefined;
  readonly limit: number;
};

export type SearchHitRecord = {
  readonly id: number;
  readonly conversationId: number;
  readonly direction: 'incoming' | 'outgoing';
  readonly senderAccountId: Uint8Array;
  readonly displayAt: number;
  readonly snippet: Snippet;
};

export type SearchResult = {
  readonly hits: SearchHitRecord[];
  readonly next: DisplayKey | null;
  readonly indexComplete: boolean;
};

/** The index does not exist (search is off). */
export class SearchIndexMissing extends Error {
  override readonly name = 'SearchIndexMissing';
}

type Span = { span: number; min_display_at: number; max_display_at: number };
type Candidate = { id: number; displayAt: number };

const newestFirst = (a: Candidate, b: Candidate): number => b.displayAt - a.displayAt || b.id - a.id;

/**
 * One FTS5 query over the matches with ids in [lo, hi] that pass the filters, at most `k` of them:
 * by display order (`order: 'display'`, a span query: SQLite's sorter with a LIMIT keeps k rows) or
 * by id, highest first (`order: 'id'`, the probe: FTS5 walks its doclists backwards and stops after
 * k). Exported for the plan test.
 */
export function matchQuery(
  q: ParsedQuery,
  range: { readonly lo: number; readonly hi: number },
  filter: { readonly conversationId?: number | undefined; readonly cursor?: DisplayKey | undefined },
  k: number,
  order: 'display' | 'id' = 'display',
): SqlQuery {
  // FTS5 applies a rowid bound only when it is an INTEGER value (a REAL one is silently ignored and
  // the whole doclist is read); better-sqlite3 binds a JS number as REAL, a bigint as INTEGER.
  const lo = BigInt(range.lo);
  const hi = BigInt(range.hi);
  const seek = filter.cursor ? sql`AND (m.display_at, m.id) < (${filter.cursor.displayAt}, ${filter.cursor.id})` : sql``;
  // Unary + keeps the planner from driving the join from messages_by_order (a scan of the whole
  // conversation per query); CROSS JOIN fixes the order: index first, then messages by rowid.
  const inConversation = filter.conversationId !== undefined ? sql`AND +m.conversation_id = ${filter.conversationId}` : sql``;
  const byDisplay = order === 'display';
  if (q.words !== null && q.trigrams !== null) {
    return sql`
      SELECT m.id AS id, m.display_at AS displayAt
      FROM search_trigrams(${q.trigrams}) AS t
      CROSS JOIN search_words(${q.words}) AS w ON w.rowid = t.rowid
      CROSS JOIN messages AS m ON m.id = t.rowid
      WHERE t.rowid BETWEEN ${lo} AND ${hi} ${seek} ${inConversation}
      ORDER BY ${byDisplay ? sql`m.display_at DESC, m.id DESC` : sql`t.rowid DESC`} LIMIT ${k}`;
  }
  if (q.trigrams !== null) {
    return sql`
      SELECT m.id AS id, m.display_at AS displayAt
      FROM search_trigrams(${q.trigrams}) AS t
      CROSS JOIN messages AS m ON m.id = t.rowid
      WHERE t.rowid BETWEEN ${lo} AND ${hi} ${seek} ${inConversation}
      ORDER BY ${byDisplay ? sql`m.display_at DESC, m.id DESC` : sql`t.rowid DESC`} LIMIT ${k}`;
  }
  return sql`
    SELECT m.id AS id, m.display_at AS displayAt
    FROM search_words(${q.words}) AS w
    CROSS JOIN messages AS m ON m.id = w.rowid
    WHERE w.rowid BETWEEN ${lo} AND ${hi} ${seek} ${inConversation}
    ORDER BY ${byDisplay ? sql`m.display_at DESC, m.id DESC` : sql`w.rowid DESC`} LIMIT ${k}`;
}

/**
 * Whether every committed message is indexed: the rebuild is done (indexed_from = 0), nothing waits
 * in search_pending and no message lies above indexed_to. null: there is no index.
 */
export function indexComplete(db: ReadDb): boolean | null {
  const state = readIndexRecord(db);
  if (!state) return null;
  if (state.indexedFrom !== 0) return false;
  if (state.indexedTo === Infinity) return true; // a V1 index (its triggers indexed every insert)
  const lagging = db.get<{ x: number }>(sql`
    SELECT EXISTS (SELECT 1 FROM messages WHERE id >= ${state.indexedTo}) OR EXISTS (SELECT 1 FROM search_pending) AS x`)!.x;
  return lagging === 0;
}

/** Vocabulary terms looked up per query term at most; a term in more of them goes to the trigram index. */
export const MAX_VOCABULARY_EXPANSION = 32;
/** Terms the vocabulary can answer: ASCII letters and digits only, 3+ of them (text.ts vocabTokens). */
const VOCABULARY_TERM_RE = /^[a-z0-9]{3,}$/;

/**
 * Rewrites substring terms the vocabulary can answer into word-index alternatives (docs/adr/0005-search.md
 * "Rare whole words"): the vocabulary's trigram index finds every indexed token containing the
 * term, and `"t1" OR "t2" …` over the word index matches exactly the messages holding one of them —
 * the same messages the trigram index would find, but through doclists of rare tokens instead of
 * 6-10 common trigrams read to the end. A term found in no token matches nothing; a term in more
 * than MAX_VOCABULARY_EXPANSION tokens stays with the trigram index (its trigrams are then rarely
 * all common, and a full page is found early). `null`: the query cannot match anything.
 */
export function withVocabulary(db: ReadDb, q: ParsedQuery): ParsedQuery | null {
  if (q.trigrams === null || !db.get(sql`SELECT 1 AS x FROM sqlite_schema WHERE type = 'table' AND name = 'search_vocab'`)) return q;
  const expansions = new Map<string, readonly string[]>();
  for (const term of q.terms) {
    if (term.kind !== 'substring' || !VOCABULARY_TERM_RE.test(term.text)) continue;
    const tokens = db
      .all<{ term: string }>(sql`
        SELECT v.term AS term FROM search_vocab_trigrams(${phrase(term.text)}) AS t
        CROSS JOIN search_vocab AS v ON v.id = t.rowid LIMIT ${MAX_VOCABULARY_EXPANSION + 1}`)
      .map((r) => r.term);
    if (tokens.length === 0) return null;
    if (tokens.length <= MAX_VOCABULARY_EXPANSION) expansions.set(term.text, tokens);
  }
  return expansions.size === 0 ? q : buildMatch(q.terms, expansions);
}

/** The ids of the best `k` matches (newest first): the probe, then the span walk described above. */
function topMatches(db: ReadDb, q: ParsedQuery, req: SearchRequest, k: number): Candidate[] {
  const cursor = req.cursor;
  const filter = { conversationId: req.conversationId, cursor };
  const spans = db
    .all<Span>(sql`SELECT span, min_display_at, max_display_at FROM search_spans ORDER BY span DESC`)
    .filter((s) => !cursor || s.min_display_at <= cursor.displayAt);
  if (spans.length === 0) return [];
  // Probe: the k matches with the highest ids (below the spans a cursor skips). Fewer than k means
  // these are all of them — the common case for rare terms, answered by one pass over the index.
  const probe = db.all<Candidate>(matchQuery(q, { lo: 0, hi: (spans[0]!.span + 1) * SPAN_SIZE - 1 }, filter, k, 'id'));
  let best = [...probe].sort(newestFirst);
  if (probe.length < k) return best;
  // Every other match has a lower id than the probe's last: walk down from there.
  let ceiling = probe[probe.length - 1]!.id - 1;
  // newestBelow[i]: nothing in spans[i..] is newer than this.
  const newestBelow = new Array<number>(spans.length + 1).fill(-Infinity);
  for (let i = spans.length - 1; i >= 0; i--) newestBelow[i] = Math.max(newestBelow[i + 1]!, spans[i]!.max_display_at);
  let i = spans.findIndex((s) => s.span * SPAN_SIZE <= ceiling);
  let width = 1;
  while (i !== -1 && i < spans.length) {
    const bound = Math.min(newestBelow[i]!, cursor ? cursor.displayAt : Infinity);
    // Everything left is older than (or as old as, with a lower id) the k-th best: done.
    if (best[k - 1]!.displayAt >= bound) break;
    const group = spans.slice(i, i + width);
    const range = { lo: group[group.length - 1]!.span * SPAN_SIZE, hi: Math.min(ceiling, (group[0]!.span + 1) * SPAN_SIZE - 1) };
    const found = db.all<Candidate>(matchQuery(q, range, filter, k));
    if (found.length > 0) best = [...best, ...found].sort(newestFirst).slice(0, k);
    ceiling = range.lo - 1;
    i += group.length;
    width = Math.min(width * 2, MAX_SPANS_PER_QUERY);
  }
  return best;
}

type HitRow = {
  id: number;
  conversation_id: number;
  direction: 'incoming' | 'outgoing';
  sender_account_id: Uint8Array;
  display_at: number;
  body: string | null;
};

/** Runs a search. Throws SearchIndexMissing when search is off. */
export function searchMessages(db: ReadDb, req: SearchRequest, options: { readonly vocabulary?: boolean } = {}): SearchResult {
  const complete = indexComplete(db);
  if (complete === null) throw new SearchIndexMissing('there is no search index');
  const q = parseQuery(req.query);
  if (q.terms.length === 0) return { hits: [], next: null, indexComplete: complete };
  const plan = options.vocabulary === false ? q : withVocabulary(db, q);
  if (plan === null) return { hits: [], next: null, indexComplete: complete };
  const top = topMatches(db, plan, req, req.limit + 1);
  const page = top.slice(0, req.limit);
  const rows = new Map(
    db
      .all<HitRow>(sql`
        SELECT id, conversation_id, direction, sender_account_id, display_at, body FROM messages
        WHERE id IN (SELECT value FROM json_each(${JSON.stringify(page.map((c) => c.id))}))`)
      .map((r) => [r.id, r]),
  );
  const hits = page.flatMap((c): SearchHitRecord[] => {
    const r = rows.get(c.id);
    if (!r || r.body === null) return [];
    return [
      {
        id: r.id,
        conversationId: r.conversation_id,
        direction: r.direction,
        senderAccountId: blob(r.sender_account_id),
        displayAt: r.display_at,
        snippet: makeSnippet(r.body, q.terms),
      },
    ];
  });
  const last = page[page.length - 1];
  return { hits, next: top.length > req.limit && last ? { displayAt: last.displayAt, id: last.id } : null, indexComplete: complete };
}
