import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { SearchIndexProgress } from '../../../shared/api/view-models.js';
import { insertContact } from '../db/contacts.js';
import { getOrCreateDirectConversation } from '../db/conversations.js';
import { openTestDatabase } from '../../../test/support/database.js';
import { openSideConnection, type EngineDatabase } from '../db/database.js';
import { insertMessage } from '../db/messages.js';
import { MIGRATIONS } from '../db/migrations/index.js';
import { writeSettings } from '../db/settings.js';
import { sql } from '../db/sql.js';
import { EngineError } from '../errors.js';
import { catchUpBatch, createIndex, indexAllNow, purgeStep, readIndexRecord, rebuildBatch, retireIndex, trashTables } from './indexer.js';
import { CATCH_UP_DEFER_MAX_MS, IndexMaintenance, QUIET_MS } from './maintenance.js';
import { parseQuery } from './query.js';
import { indexComplete, matchQuery, MAX_VOCABULARY_EXPANSION, searchMessages, withVocabulary, type DisplayKey, type SearchRequest } from './query-plan.js';
import { SEARCH_INDEX_LAYOUT, SPAN_BITS } from './schema.js';
import { SearchService } from './service.js';
import { fold, INDEX_TEXT_FORMAT, SEARCH_SQL_FUNCTIONS } from './text.js';

const dirs: string[] = [];
const opened: EngineDatabase[] = [];
const services: SearchService[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) {
    s.detach();
    await s.stopped();
  }
  for (const db of opened.splice(0)) db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

// A Uint8Array, not a (pooled) Buffer: its .slice() is a copy, so a service that wipes the key it
// was handed never wipes this one.
const KEY = new Uint8Array(randomBytes(32));
const PEER_A = new Uint8Array(16).fill(7);
const PEER_B = new Uint8Array(16).fill(8);
const SELF = new Uint8Array(16).fill(9);
const T0 = Date.UTC(2026, 0, 1);

type Fixture = {
  db: EngineDatabase;
  path: string;
  /** The service with its worker (mode 'worker'), or null (mode 'direct': tests index by hand). */
  service: SearchService | null;
  events: SearchIndexProgress[];
  conversations: [number, number];
  /** Adds a text message (incoming from the conversation's peer unless outgoing); returns its id. */
  add(body: string | null, o?: { at?: number; conversation?: 0 | 1; outgoing?: boolean; kind?: 'text' | 'key-changed' }): number;
  /** Direct mode: indexes everything now on the engine's writer (what the worker does in slices). */
  index(): void;
  /** Direct mode indexes first; worker mode searches what the worker has indexed. */
  search(query: string, o?: Partial<Omit<SearchRequest, 'query'>>, options?: { vocabulary?: boolean }): ReturnType<typeof searchMessages>;
  ids(query: string, o?: Partial<Omit<SearchRequest, 'query'>>): number[];
  /** Every match, page by page. */
  allIds(query: string, options?: { vocabulary?: boolean }): number[];
  reopen(): Fixture;
};

type FixtureOptions = {
  migrations?: typeof MIGRATIONS;
  /** 'worker' (default): a SearchService with its maintenance worker; 'direct': no service. */
  mode?: 'worker' | 'direct';
  progressIntervalMs?: number;
  batchTargetMs?: number;
};

function openFixture(path: string, o: FixtureOptions = {}): Fixture {
  const db = openTestDatabase({ path, key: KEY, ...(o.migrations ? { migrations: o.migrations } : {}) });
  opened.push(db);
  const conversations = db.writer.transaction(() => {
    const ids: number[] = [];
    for (const peer of [PEER_A, PEER_B]) {
      const existing = db.writer.get<{ id: number }>(sql`SELECT id FROM conversations WHERE peer_account_id = ${peer}`);
      if (existing) {
        ids.push(existing.id);
        continue;
      }
      insertContact(db.writer, {
        accountId: peer,
        username: `peer${peer[0]}`,
        accountKey: new Uint8Array(32).fill(peer[0]!),
        deviceList: { signed: Uint8Array.of(1, 2, 3), version: 1, issuedAt: 0 },
        now: T0,
      });
      ids.push(getOrCreateDirectConversation(db.writer, peer, T0).id);
    }
    return ids as [number, number];
  });
  const events: SearchIndexProgress[] = [];
  const mode = o.mode ?? 'worker';
  let service: SearchService | null = null;
  if (mode === 'worker') {
    service = new SearchService({ emit: (e) => events.push(e), progressIntervalMs: o.progressIntervalMs ?? 0, batchTargetMs: o.batchTargetMs, pollMs: 10 });
    services.push(service);
    service.attach(db, KEY.slice());
  } else {
    // What the service does at attach (the migration's V1 index is replaced by the current one).
    const record = readIndexRecord(db.writer);
    if (!record || record.layout !== SEARCH_INDEX_LAYOUT || record.textFormat !== INDEX_TEXT_FORMAT) {
      db.writer.transaction(() => {
        retireIndex(db.writer);
        createIndex(db.writer);
      });
    }
  }
  let clock = T0;
  const f: Fixture = {
    db,
    path,
    service,
    events,
    conversations,
    add(body, a = {}) {
      const at = a.at ?? (clock += 1000);
      const conversation = conversations[a.conversation ?? 0];
      const peer = (a.conversation ?? 0) === 0 ? PEER_A : PEER_B;
      return db.writer.transaction(() =>
        insertMessage(db.writer, {
          conversationId: conversation,
          kind: a.kind ?? 'text',
          direction: a.outgoing ? 'outgoing' : 'incoming',
          senderAccountId: a.outgoing ? SELF : peer,
          senderDeviceId: 1,
          messageId: randomBytes(16),
          sentAt: at,
          receivedAt: at,
          body,
          status: a.outgoing ? 'sent' : null,
          readAt: null,
        }),
      );
    },
    index() {
      indexAllNow(db.writer);
    },
    search(query, r = {}, options = {}) {
      if (mode === 'direct') f.index();
      return searchMessages(db.reader, { query, limit: 50, ...r }, options);
    },
    ids(query, r = {}) {
      return f.search(query, r).hits.map((h) => h.id);
    },
    allIds(query, options = {}) {
      const out: number[] = [];
      for (let p: ReturnType<Fixture['search']> | null = f.search(query, {}, options); p; p = p.next ? f.search(query, { cursor: p.next }, options) : null) {
        out.push(...p.hits.map((h) => h.id));
      }
      return out;
    },
    reopen() {
      service?.detach();
      db.close();
      opened.splice(opened.indexOf(db), 1);
      return openFixture(path, { ...o, migrations: undefined });
    },
  };
  return f;
}

function fixture(o: FixtureOptions = {}): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'parley-search-'));
  dirs.push(dir);
  return openFixture(join(dir, 'parley.db'), o);
}

/** The direct mode: no worker, the test indexes on the engine's writer (deterministic). */
const direct = (o: FixtureOptions = {}): Fixture => fixture({ ...o, mode: 'direct' });

function searchObjects(db: EngineDatabase): string[] {
  return db.reader
    .all<{ name: string }>(sql`SELECT name FROM sqlite_schema WHERE name LIKE 'search%' ORDER BY name`)
    .map((r) => r.name);
}

/** Turns the setting on or off the way the engine does (write, then reconcile). */
function setSearch(f: Fixture, enabled: boolean): void {
  f.db.writer.transaction(() => writeSettings(f.db.writer, { searchEnabled: enabled }));
  f.service!.reconcile();
}

/** Bytes of the word index's leaf pages hold `needle` (terms are prefix-compressed: pick ones that sort last). */
function wordIndexHolds(f: Fixture, needle: string): boolean {
  return f.db.writer
    .all<{ block: Uint8Array | null }>(sql`SELECT block FROM search_words_data`)
    .some((r) => r.block !== null && Buffer.from(r.block).includes(needle));
}

function vocabulary(f: Fixture): Record<string, number> {
  return Object.fromEntries(f.db.reader.all<{ term: string; docs: number }>(sql`SELECT term, docs FROM search_vocab ORDER BY term`).map((r) => [r.term, r.docs]));
}

function integrityCheck(f: Fixture): void {
  f.db.writer.run(sql`INSERT INTO search_words (search_words) VALUES ('integrity-check')`);
  f.db.writer.run(sql`INSERT INTO search_trigrams (search_trigrams) VALUES ('integrity-check')`);
  f.db.writer.run(sql`INSERT INTO search_vocab_trigrams (search_vocab_trigrams) VALUES ('integrity-check')`);
}

describe('matching', () => {
  it('finds words, prefixes, substrings and accents ("Zürich" by "zurich" and "uric")', () => {
    const f = direct();
    const zurich = f.add('Meeting in Zürich tomorrow at the Hauptbahnhof');
    const zug = f.add('the train to zug is late');
    const kazuo = f.add('Kazuo says hi');
    const cafe = f.add('Café crème, naïve résumé');
    const lodz = f.add('Łódź and Straße and ÆRØ');
    const wide = f.add('ＦＵＬＬＷＩＤＴＨ letters');
    expect(f.ids('zurich')).toEqual([zurich]);
    expect(f.ids('uric')).toEqual([zurich]);
    expect(f.ids('ZÜRICH')).toEqual([zurich]);
    expect(f.ids('Zu\u0308rich')).toEqual([zurich]);
    expect(f.ids('hauptbahn')).toEqual([zurich]); // prefix
    expect(f.ids('bahnho')).toEqual([zurich]); // substring
    expect(f.ids('zu')).toEqual([zug, zurich]); // short term: word starts only, not "kazuo"
    expect(f.ids('z')).toEqual([zug, zurich]);
    expect(f.ids('azu')).toEqual([kazuo]);
    expect(f.ids('cafe creme resume')).toEqual([cafe]);
    expect(f.ids('lodz strasse aero')).toEqual([lodz]);
    expect(f.ids('fullwidth')).toEqual([wide]);
    expect(f.ids('zurich zug')).toEqual([]); // every term must match
    expect(f.ids('nothing-like-this')).toEqual([]);
    const [hit] = f.search('uric').hits;
    expect(hit!.snippet).toEqual({
      text: 'Meeting in Zürich tomorrow at the Hauptbahnhof',
      ranges: [{ start: 12, end: 16 }],
      truncatedStart: false,
      truncatedEnd: false,
    });
  });

  it('finds CJK text by 1, 2 and 3+ characters, and Hangul words by their syllables', () => {
    const f = direct();
    const tokyo = f.add('東京タワーに行きました');
    const kyoto = f.add('京都のお寺は静かです');
    const seoul = f.add('서울에서 만나요');
    const mixed = f.add('Meet at 東京駅 at 9');
    expect(f.ids('東')).toEqual([mixed, tokyo]);
    expect(f.ids('京')).toEqual([mixed, kyoto, tokyo]);
    expect(f.ids('東京')).toEqual([mixed, tokyo]);
    expect(f.ids('京都')).toEqual([kyoto]);
    expect(f.ids('タワー')).toEqual([tokyo]);
    expect(f.ids('東京タワー')).toEqual([tokyo]);
    expect(f.ids('東京駅')).toEqual([mixed]);
    expect(f.ids('お寺は静か')).toEqual([kyoto]);
    expect(f.ids('서울')).toEqual([seoul]);
    expect(f.ids('울')).toEqual([seoul]);
    expect(f.ids('만나요')).toEqual([seoul]);
    expect(f.ids('京 meet')).toEqual([mixed]);
    expect(f.ids('都京')).toEqual([]); // a phrase, not two letters anywhere
    expect(f.search('東京').hits.find((h) => h.id === tokyo)!.snippet.ranges).toEqual([{ start: 0, end: 2 }]);
  });

  it('treats quotes, AND/OR/NOT/NEAR, *, ^, parentheses and colons as plain text that cannot fail', () => {
    const f = direct();
    const tricky = f.add('he said "hi" (AND) NOT near: a*b ^x col:val');
    const plain = f.add('and or not near hi');
    expect(f.ids('"hi"')).toEqual([tricky]);
    expect(f.ids('(AND)')).toEqual([tricky]);
    expect(f.ids('a*b')).toEqual([tricky]);
    expect(f.ids('col:val')).toEqual([tricky]);
    expect(f.ids('near:')).toEqual([tricky]);
    expect(f.ids('AND')).toEqual([plain, tricky]);
    expect(f.ids('NOT OR')).toEqual([plain]); // "or" must start a word: only the plain message has one
    expect(f.ids('^x')).toEqual([tricky]); // the short term is the word "x"
    for (const q of ['"', '""', '"""', '*', '^', '(', ')', ':', 'NEAR(', 'NEAR(a b)', 'a OR b', '-x', '+', '{a b}', "'", '\\', '\u0000', 'body:hi', '*hi*', '"hi', 'hi"']) {
      expect(() => f.search(q), q).not.toThrow();
    }
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (q) => {
        expect(() => f.search(q)).not.toThrow();
      }),
      { numRuns: 300 },
    );
  });

  it('indexes text messages only; notices and empty bodies are not searchable', () => {
    const f = direct();
    f.add(null, { kind: 'key-changed' });
    const text = f.add('keyword here');
    expect(f.ids('keyword')).toEqual([text]);
    expect(f.db.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM messages`)!.n).toBe(2);
  });

  it('splits words at every character that is not a letter or digit, emoji included (unicode61 would glue "hello🦊world")', () => {
    const f = direct();
    const glued = f.add('hello🦊world, ok👍thanks');
    expect(f.ids('wo')).toEqual([glued]); // "world" starts a word
    expect(f.ids('th')).toEqual([glued]);
    expect(f.ids('world')).toEqual([glued]);
    expect(f.ids('lo🦊wo')).toEqual([glued]); // substrings still span the emoji
  });
});

describe('rare whole words through the vocabulary', () => {
  it('answers an ASCII term from the vocabulary and the word index, a term in no token at once, and leaves other terms to the trigrams', () => {
    const f = direct();
    const a = f.add('the shaivutoshol arrived');
    const b = f.add('preshaivutosholing, twice');
    f.add('nothing here 東京タワー a-b-c');
    f.index();
    const plan = withVocabulary(f.db.reader, parseQuery('shaivutoshol'))!;
    expect(plan.trigrams).toBeNull();
    expect(plan.words).toMatch(/^\("(pre)?shaivutoshol(ing)?" OR "(pre)?shaivutoshol(ing)?"\)$/);
    expect(f.ids('shaivutoshol')).toEqual([b, a]);
    expect(f.ids('ivutos tw')).toEqual([b]);
    expect(withVocabulary(f.db.reader, parseQuery('qqqzzz'))).toBeNull(); // in no token: nothing can match
    expect(f.ids('qqqzzz')).toEqual([]);
    // Not ASCII letters and digits only: the trigram index answers.
    expect(withVocabulary(f.db.reader, parseQuery('東京タ'))!.trigrams).toBe('"東京タ"');
    expect(withVocabulary(f.db.reader, parseQuery('a-b-c'))!.trigrams).toBe('"a-b-c"');
    // Folded first: "Shaivutoshol" and "shäivutoshol" are the same ASCII term.
    expect(withVocabulary(f.db.reader, parseQuery('Shäivutoshol'))!.trigrams).toBeNull();
  });

  it('a term in more than MAX_VOCABULARY_EXPANSION tokens stays with the trigram index, with the same results', () => {
    const f = direct();
    const ids = Array.from({ length: MAX_VOCABULARY_EXPANSION + 5 }, (_, i) => f.add(`x${i}zzq${i} filler`));
    f.index();
    expect(withVocabulary(f.db.reader, parseQuery('zzq'))!.trigrams).toBe('"zzq"');
    expect(f.allIds('zzq')).toEqual([...ids].reverse());
  });

  it('the vocabulary counts indexed messages per token and forgets a token with its last message', () => {
    const f = direct();
    const a = f.add('alpha beta 123 ab');
    const b = f.add('alpha gamma');
    f.index();
    expect(vocabulary(f)).toEqual({ '123': 1, alpha: 2, beta: 1, gamma: 1 }); // "ab": too short to hold an ASCII term
    f.db.writer.run(sql`DELETE FROM messages WHERE id = ${a}`);
    expect(vocabulary(f)).toEqual({ alpha: 1, gamma: 1 });
    f.db.writer.run(sql`UPDATE messages SET body = 'delta' WHERE id = ${b}`);
    expect(vocabulary(f)).toEqual({}); // the edit removed the old tokens at once; the new text waits for the worker
    f.index();
    expect(vocabulary(f)).toEqual({ delta: 1 });
    expect(f.ids('gam')).toEqual([]);
    integrityCheck(f);
  });

  it('returns exactly what the trigram index returns: same messages, same order, same pages (property)', () => {
    // Fragments that stress the equivalence: ASCII words sharing substrings, digits, accents that
    // fold to ASCII, letters that do not (ß → ss, ł → l, Ж), CJK, emoji and combining marks glued to
    // words, punctuation, New Tai Lue vowels (letters to JavaScript, separators to unicode61).
    const fragments = ['abc', 'bcd', 'cab', 'abcabc', 'x12', '123', 'zü', 'ÄBC', 'ß', 'łab', 'Жab', '東京', 'abc京', '🦊', 'a🦊bc', 'ab\u20d0c', 'ᦰab', '-', '.', ' ', ' ', ' '];
    const body = fc.array(fc.constantFrom(...fragments), { minLength: 1, maxLength: 10 }).map((xs) => xs.join(''));
    const term = fc.oneof(
      fc.stringMatching(/^[abcdxz123]{3,5}$/),
      fc.constantFrom('abc', 'bca', 'cab', 'abca', 'x12', '123', 'zua', 'ssl', 'abc abc', 'abc 12', 'ab bcd', 'bc🦊', 'lab', 'zzz'),
    );
    let expanded = 0;
    fc.assert(
      fc.property(fc.array(body, { minLength: 1, maxLength: 40 }), fc.array(term, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 7 }), (bodies, queries, limit) => {
        const f = direct();
        const added = bodies.map((b) => ({ id: f.add(b), body: b }));
        f.index();
        for (const query of queries) {
          const q = parseQuery(query);
          const plan = withVocabulary(f.db.reader, q);
          if (plan === null || plan.words !== q.words) expanded += 1;
          // The trigram index's semantics, also checked against a plain model of them for ASCII terms.
          const reference = f.allIds(query, { vocabulary: false });
          expect(f.allIds(query), query).toEqual(reference);
          if (/^[a-z0-9]{3,}$/.test(query)) {
            expect(reference, query).toEqual(added.filter((m) => fold(m.body).includes(query)).map((m) => m.id).reverse());
          }
          // Page by page too.
          let cursor: DisplayKey | undefined;
          const paged: number[] = [];
          for (let pages = 0; pages <= added.length; pages++) {
            const page = f.search(query, { limit, cursor });
            paged.push(...page.hits.map((h) => h.id));
            if (!page.next) break;
            cursor = page.next;
          }
          expect(paged, query).toEqual(reference);
        }
        integrityCheck(f);
      }),
      { numRuns: 40 },
    );
    expect(expanded).toBeGreaterThan(20); // the property exercised the vocabulary, not only the fallback
  });
});

describe('keeping in step with messages', () => {
  it('an insert is not indexed inside the writer’s transaction; the catch-up indexes it after commit', () => {
    const f = direct();
    const before = f.db.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM search_words_data`)!.n;
    const id = f.add('freshly arrived kumquat');
    // The writer's transaction touched no index table: only the worker's catch-up will.
    expect(f.db.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM search_words_data`)!.n).toBe(before);
    expect(indexComplete(f.db.reader)).toBe(false);
    expect(searchMessages(f.db.reader, { query: 'kumquat', limit: 5 }).hits).toEqual([]);
    expect(f.db.writer.transaction(() => catchUpBatch(f.db.writer, 100))).toEqual({ scanned: 1, indexed: 1, more: false });
    expect(indexComplete(f.db.reader)).toBe(true);
    expect(searchMessages(f.db.reader, { query: 'kumquat', limit: 5 }).hits.map((h) => h.id)).toEqual([id]);
  });

  it('edits and deletes take effect in the writer’s transaction, cascades included, and leave no term behind (secure-delete)', () => {
    const f = direct();
    const a = f.add('the zzsecretzz plan');
    const b = f.add('another message about pineapples', { conversation: 1 });
    f.index();
    expect(wordIndexHolds(f, 'secretzz')).toBe(true); // the check can see the term

    f.db.writer.run(sql`UPDATE messages SET body = 'the revised plan' WHERE id = ${a}`);
    // Gone at once (no indexing step in between), from the pages themselves.
    expect(searchMessages(f.db.reader, { query: 'zzsecretzz', limit: 5 }).hits).toEqual([]);
    expect(wordIndexHolds(f, 'secretzz')).toBe(false);
    expect(f.db.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM search_pending`)!.n).toBe(1);
    expect(f.ids('revised')).toEqual([a]);

    // Edited again before the worker got to it: nothing of the pending text is in the index to remove.
    f.db.writer.run(sql`UPDATE messages SET body = 'zzinterimzz text' WHERE id = ${a}`);
    f.db.writer.run(sql`UPDATE messages SET body = 'final words' WHERE id = ${a}`);
    expect(f.ids('zzinterimzz')).toEqual([]);
    expect(f.ids('final')).toEqual([a]);

    f.db.writer.run(sql`UPDATE messages SET kind = 'key-changed' WHERE id = ${a}`);
    expect(f.ids('final')).toEqual([]);
    f.db.writer.run(sql`UPDATE messages SET kind = 'text' WHERE id = ${a}`);
    expect(f.ids('final')).toEqual([a]);

    f.db.writer.run(sql`DELETE FROM messages WHERE id = ${a}`);
    expect(f.ids('final')).toEqual([]);
    expect(f.ids('words')).toEqual([]);

    // A message deleted while its text was pending: nothing to remove, nothing left behind.
    const c = f.add('zzpendingzz note');
    f.index();
    f.db.writer.run(sql`UPDATE messages SET body = 'zzlaterzz note' WHERE id = ${c}`);
    f.db.writer.run(sql`DELETE FROM messages WHERE id = ${c}`);
    expect(f.db.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM search_pending`)!.n).toBe(0);
    expect(f.ids('note')).toEqual([]);

    // Cascade: deleting the conversation deletes its messages, and the triggers follow.
    expect(f.ids('pineapple')).toEqual([b]);
    f.db.writer.run(sql`DELETE FROM conversations WHERE id = ${f.conversations[1]}`);
    expect(f.ids('pineapple')).toEqual([]);
    for (const table of ['search_words', 'search_trigrams', 'search_vocab_trigrams'] as const) {
      const config = f.db.reader.get<{ v: number }>(
        table === 'search_words'
          ? sql`SELECT v FROM search_words_config WHERE k = 'secure-delete'`
          : table === 'search_trigrams'
            ? sql`SELECT v FROM search_trigrams_config WHERE k = 'secure-delete'`
            : sql`SELECT v FROM search_vocab_trigrams_config WHERE k = 'secure-delete'`,
      );
      expect(config?.v, table).toBe(1);
    }
    expect(vocabulary(f)).toEqual({});
    integrityCheck(f);
  });

  it('a message inserted with an id the index already covers (an id reused below indexed_to) waits in search_pending', () => {
    const f = direct();
    const a = f.add('first');
    const b = f.add('second');
    f.index();
    f.db.writer.run(sql`DELETE FROM messages WHERE id = ${b}`);
    const reused = f.add('second again'); // max(id) + 1: the deleted id comes back
    expect(reused).toBe(b);
    expect(f.db.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM search_pending`)!.n).toBe(1);
    expect(f.ids('again')).toEqual([reused]);
    expect(f.ids('first')).toEqual([a]);
    integrityCheck(f);
  });

  it('writes interleaved with catch-up and rebuild batches end up exactly as a fresh index would have them (property)', () => {
    const vocabularyWords = ['apple', 'banana', 'cherry', 'damson', 'elder', 'fig'];
    const words = fc.array(fc.constantFrom(...vocabularyWords), { minLength: 1, maxLength: 3 });
    fc.assert(
      fc.property(
        fc.array(words, { minLength: 10, maxLength: 80 }),
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('insert' as const), words }),
            fc.record({ op: fc.constant('edit' as const), pick: fc.nat(), words }),
            fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }),
            fc.record({ op: fc.constant('catch-up' as const), size: fc.integer({ min: 1, max: 8 }) }),
            fc.record({ op: fc.constant('rebuild' as const), size: fc.integer({ min: 1, max: 8 }) }),
          ),
          { maxLength: 60 },
        ),
        (initial, ops) => {
          const f = direct();
          const live = new Map<number, string>();
          // Existing messages, then a fresh index over them (as turning search on does).
          f.db.writer.transaction(() => {
            retireIndex(f.db.writer);
            for (const w of initial) live.set(f.add(w.join(' ')), w.join(' '));
            createIndex(f.db.writer);
          });
          for (const op of ops) {
            const ids = [...live.keys()];
            if (op.op === 'insert') live.set(f.add(op.words.join(' ')), op.words.join(' '));
            else if (op.op === 'catch-up') f.db.writer.transaction(() => catchUpBatch(f.db.writer, op.size));
            else if (op.op === 'rebuild') f.db.writer.transaction(() => rebuildBatch(f.db.writer, op.size));
            else if (ids.length > 0 && op.op === 'edit') {
              const id = ids[op.pick % ids.length]!;
              f.db.writer.run(sql`UPDATE messages SET body = ${op.words.join(' ')} WHERE id = ${id}`);
              live.set(id, op.words.join(' '));
            } else if (ids.length > 0 && op.op === 'delete') {
              const id = ids[op.pick % ids.length]!;
              f.db.writer.run(sql`DELETE FROM messages WHERE id = ${id}`);
              live.delete(id);
            }
          }
          f.index();
          for (const word of vocabularyWords) {
            // Display times follow ids here, so newest first is descending id.
            const expected = [...live.entries()].filter(([, body]) => body.includes(word)).map(([id]) => id).sort((a, b) => b - a);
            expect(f.allIds(word), word).toEqual(expected);
            if (word.length >= 4) expect(f.allIds(word.slice(1, 4)), word).toEqual(expected); // a substring (3+ characters)
          }
          const counts: Record<string, number> = {};
          for (const body of live.values()) for (const w of new Set(body.split(' '))) counts[w] = (counts[w] ?? 0) + 1;
          expect(vocabulary(f)).toEqual(Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b))));
          integrityCheck(f);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('the database files contain none of the indexed text', async () => {
    const f = fixture();
    const secrets = ['Zebrafinch-Quarterly-7781', 'マグロ丼がおいしい店', 'café-au-lait-9921'];
    for (const s of secrets) f.add(`note: ${s}`);
    await f.service!.idle();
    expect(f.ids('zebrafinch')).toHaveLength(1);
    const dir = join(f.path, '..');
    const check = () => {
      const files = readdirSync(dir).map((n) => join(dir, n));
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        const bytes = readFileSync(file);
        for (const s of [...secrets, ...secrets.map(fold)]) {
          for (const form of [Buffer.from(s, 'utf8'), Buffer.from(s, 'utf16le'), Buffer.from(s.slice(0, 8), 'utf8')]) {
            expect(bytes.includes(form), `${file} holds ${s}`).toBe(false);
          }
        }
      }
    };
    check(); // WAL included
    f.service!.detach();
    await f.service!.stopped();
    f.db.close();
    opened.splice(opened.indexOf(f.db), 1);
    check();
  });
});

describe('the maintenance worker', () => {
  it('takes the key as bytes (the caller’s copy is wiped, the buffer transferred) and indexes new messages shortly after commit', async () => {
    const f = fixture();
    const handed = KEY.slice();
    const service = new SearchService({ emit: () => {}, pollMs: 10 });
    services.push(service);
    f.service!.detach();
    service.attach(f.db, handed);
    expect([...handed].every((b) => b === 0)).toBe(true);
    const id = f.add('a persimmon arrives');
    // No explicit wait on the worker: polling data_version finds the commit within pollMs.
    const t0 = performance.now();
    while (!indexComplete(f.db.reader)) {
      expect(performance.now() - t0).toBeLessThan(10_000);
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(searchMessages(f.db.reader, { query: 'persimmon', limit: 5 }).hits.map((h) => h.id)).toEqual([id]);
    // caughtUp(): what a search awaits when a few messages are not indexed yet.
    const more = Array.from({ length: 50 }, (_, i) => f.add(`quince number ${i}`));
    await service.caughtUp();
    expect(searchMessages(f.db.reader, { query: 'quince', limit: 50 }).hits.map((h) => h.id)).toEqual([...more].reverse());
    expect(indexComplete(f.db.reader)).toBe(true);
    expect(service.workerFailure).toBeNull();
  });

  it('checkpoints the WAL in place of the engine’s writer while it runs (writer’s automatic checkpoint off), and hands it back when it stops', async () => {
    const f = fixture();
    const autocheckpoint = () => f.db.writer.get<{ wal_autocheckpoint: number }>(sql`PRAGMA wal_autocheckpoint`)!.wal_autocheckpoint;
    await f.service!.idle();
    expect(autocheckpoint()).toBe(0);
    // The writer's commits grow the WAL only; the worker copies it into the database file once the writer is quiet.
    const before = statSync(f.path).size;
    f.db.writer.transaction(() => {
      for (let i = 0; i < 500; i++) f.add(`kiwi ${i} ${'padding '.repeat(40)}`);
    });
    const deadline = Date.now() + 10_000;
    while (statSync(f.path).size < before + 100_000) {
      if (Date.now() > deadline) throw new Error('the worker did not checkpoint the WAL');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    f.service!.detach();
    await f.service!.stopped();
    expect(autocheckpoint()).toBe(1000);
  });

  it('stops with detach: the worker closes its connection and exits; a new attach resumes', async () => {
    const f = fixture({ batchTargetMs: 0.5 });
    f.db.writer.transaction(() => {
      for (let i = 0; i < 2000; i++) f.add(`mango ${i}`);
    });
    f.service!.detach();
    await f.service!.stopped(); // resolves only once the worker thread has exited
    const g = f.reopen();
    await g.service!.idle();
    expect(g.allIds('mango')).toHaveLength(2000);
    const stats = await g.service!.stats();
    expect(stats!.errors).toBe(0);
  });

  it('purges and rebuilds an index off the engine’s thread: turning search off only renames the index (a schema change); the worker purges it and builds the new one', async () => {
    const f = fixture();
    const bodies = Array.from({ length: 20_000 }, (_, i) => `word${i % 997} common text with several more words number ${i} and ${i * 7}`);
    f.db.writer.transaction(() => {
      for (const body of bodies) f.add(body);
    });
    await f.service!.idle();
    setSearch(f, false);
    // What the engine's thread did synchronously: the index's text tables renamed into the trash,
    // every row still there (the old synchronous drop deleted — and zeroed — every page here).
    const trash = trashTables(f.db.reader);
    expect(trash.length).toBeGreaterThan(0);
    expect(readIndexRecord(f.db.reader)).toBeNull();
    await f.service!.idle();
    expect(trashTables(f.db.reader)).toEqual([]); // the worker purged it
    setSearch(f, true);
    await f.service!.idle();
    expect(f.allIds('word5')).toHaveLength(bodies.filter((b) => b.includes('word5')).length);
    // The engine's event-loop delay while this runs is a benchmark figure (bench/search), not a test.
  });
});

describe('the searchEnabled setting', () => {
  it('off retires the index at once (no trigger, search says it is off), the worker purges it page by page, and the WAL ends empty', async () => {
    const f = fixture();
    f.add('findable zzfindablezz text');
    await f.service!.idle();
    expect(wordIndexHolds(f, 'findablezz')).toBe(true);
    setSearch(f, false);
    // At once: no trigger, no bookkeeping, nothing under the live names; the text tables wait in the trash.
    expect(searchObjects(f.db).filter((n) => !n.startsWith('search_trash_'))).toEqual([]);
    expect(f.events.at(-1)).toEqual({ state: 'off', progress: 0 });
    expect(() => searchMessages(f.db.reader, { query: 'findable', limit: 5 })).toThrow('there is no search index');
    try {
      f.service!.search(f.db, { query: 'findable', limit: 5 }, SELF);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(EngineError);
      expect((e as EngineError).code).toBe('SEARCH_DISABLED');
    }
    await f.service!.idle();
    expect(searchObjects(f.db)).toEqual([]);
    expect((await f.service!.stats())!.purgeRows).toBeGreaterThan(0);
    expect(statSync(`${f.path}-wal`).size).toBe(0);
    // Messages written while off are not indexed anywhere (there is nowhere to put them).
    f.add('written while off');
    await f.service!.idle();
    expect(searchObjects(f.db)).toEqual([]);
    // Reopening keeps it off.
    const g = f.reopen();
    await g.service!.idle();
    expect(searchObjects(g.db)).toEqual([]);
  });

  it('on again rebuilds in the worker, newest first, with progress events, and then finds everything', async () => {
    const f = fixture({ batchTargetMs: 0.5 });
    const ids: number[] = [];
    f.db.writer.transaction(() => {
      for (let i = 0; i < 3000; i++) ids.push(f.add(i % 3 === 0 ? `alpha message ${i}` : `beta message ${i}`));
    });
    setSearch(f, false);
    await f.service!.idle();
    f.events.length = 0;
    setSearch(f, true);
    // The index exists at once but covers nothing yet; the rebuild runs in the worker.
    expect(f.search('alpha').indexComplete).toBe(false);
    let sawPartial = false;
    const newestAlpha = ids.filter((_, i) => i % 3 === 0).at(-1);
    while (f.events.at(-1)?.state !== 'ready') {
      await new Promise((r) => setTimeout(r, 2));
      const page = f.search('alpha', { limit: 5 });
      if (!page.indexComplete && page.hits.length > 0) {
        sawPartial = true;
        // Newest first even while partial: the rebuild indexes from the newest id down.
        expect(page.hits[0]!.id).toBe(newestAlpha);
      }
    }
    await f.service!.idle();
    expect(sawPartial).toBe(true);
    const progress = f.events.map((e) => e.progress);
    expect(f.events[0]!.state).toBe('rebuilding');
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(f.events.at(-1)).toEqual({ state: 'ready', progress: 1 });
    const stats = (await f.service!.stats())!;
    expect(stats.rebuildCompleted).toBe(true);
    expect(stats.rebuildScanned).toBe(3000);
    expect(stats.rebuildBatches).toBeGreaterThan(5);
    expect(f.search('alpha').indexComplete).toBe(true);
    expect(f.allIds('alpha')).toEqual(ids.filter((_, i) => i % 3 === 0).reverse());
    const automerge = f.db.reader.get<{ v: number }>(sql`SELECT v FROM search_words_config WHERE k = 'automerge'`);
    expect(automerge?.v).toBe(0); // merges are the worker's, in steps it chooses
  });

  it('off and on again quickly: the new index fills while the old one is purged, and no text of either is left over', async () => {
    const f = fixture();
    f.db.writer.transaction(() => {
      for (let i = 0; i < 1500; i++) f.add(`kiwi ${i}`);
    });
    await f.service!.idle();
    setSearch(f, false);
    setSearch(f, true);
    setSearch(f, false);
    setSearch(f, true);
    // Two retired indexes wait (the worker may have emptied and dropped a table of the first already).
    expect(trashTables(f.db.reader).some((t) => t.slot === 2)).toBe(true);
    await f.service!.idle();
    expect(trashTables(f.db.reader)).toEqual([]);
    expect(f.allIds('kiwi')).toHaveLength(1500);
  });

  it('an index of another text format or layout is replaced at attach and rebuilt', async () => {
    const f = fixture();
    const id = f.add('format check');
    await f.service!.idle();
    f.db.writer.run(sql`UPDATE search_state SET text_format = 'older'`);
    const g = f.reopen();
    await g.service!.idle();
    expect(readIndexRecord(g.db.reader)).toMatchObject({ textFormat: INDEX_TEXT_FORMAT, layout: SEARCH_INDEX_LAYOUT, indexedFrom: 0 });
    expect(g.ids('format')).toEqual([id]);
    expect(trashTables(g.db.reader)).toEqual([]);
  });

  it('a version-1 database gets the index through migration 0002 and the worker’s rebuild', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-search-'));
    dirs.push(dir);
    const path = join(dir, 'parley.db');
    // A database as the first release left it: schema 1, written with version-1 SQL only.
    const v1 = openTestDatabase({ path, key: KEY, migrations: MIGRATIONS.slice(0, 1) });
    expect(v1.schemaVersion).toBe(1);
    v1.writer.transaction(() => {
      v1.writer.run(sql`
        INSERT INTO contacts (account_id, username, account_key, device_list, device_list_version, device_list_issued_at, added_at, updated_at)
        VALUES (${PEER_A}, 'peer', ${new Uint8Array(32)}, ${Uint8Array.of(1)}, 1, 0, ${T0}, ${T0})`);
      v1.writer.run(sql`INSERT INTO conversations (id, kind, peer_account_id, created_at, last_activity_at) VALUES (1, 'direct', ${PEER_A}, ${T0}, ${T0})`);
      v1.writer.run(sql`
        INSERT INTO messages (id, conversation_id, kind, direction, sender_account_id, sender_device_id, message_id, sent_at, received_at, display_at, body)
        VALUES (1, 1, 'text', 'incoming', ${PEER_A}, 1, ${randomBytes(16)}, ${T0}, ${T0}, ${T0}, 'written before search existed')`);
    });
    v1.close();
    const now = openFixture(path);
    expect(now.db.schemaVersion).toBe(MIGRATIONS.length);
    expect(now.search('existed').indexComplete).toBe(false);
    await now.service!.idle();
    expect(now.ids('before search')).toEqual([1]);
    expect(now.search('existed').indexComplete).toBe(true);
  });

  it('a purge interrupted by closing the database resumes at the next attach', async () => {
    const f = fixture();
    f.db.writer.transaction(() => {
      for (let i = 0; i < 3000; i++) f.add(`lychee number ${i} with a little more text to fill some pages`);
    });
    await f.service!.idle();
    setSearch(f, false);
    const g = f.reopen(); // closes at once: the worker stops after its current step
    await g.service!.idle();
    expect(searchObjects(g.db)).toEqual([]);
  });

  it('purgeStep deletes pages in bounded steps with the shadow tables writable only inside it', () => {
    const f = direct();
    for (let i = 0; i < 300; i++) f.add(`plum ${i} ${'x'.repeat(i % 50)}`);
    f.index();
    f.db.writer.transaction(() => retireIndex(f.db.writer));
    const side = openSideConnection({ path: f.path, key: KEY, functions: SEARCH_SQL_FUNCTIONS });
    try {
      expect(() => side.run(sql`DELETE FROM search_trash_2_words_data`)).toThrow(/may not be modified/);
      let steps = 0;
      for (let more = true; more; steps++) more = side.transaction(() => purgeStep(side, (fn) => side.withShadowTablesWritable(fn), 4)).remaining;
      expect(steps).toBeGreaterThan(4);
      expect(trashTables(side)).toEqual([]);
    } finally {
      side.close();
    }
  });
});

describe('maintenance loop', () => {
  it('while the engine’s writer is busy: checkpoints the WAL itself, defers catch-up (at most CATCH_UP_DEFER_MAX_MS), and merges only once that writer has been quiet for QUIET_MS', () => {
    const f = direct();
    const side = openSideConnection({ path: f.path, key: KEY, functions: SEARCH_SQL_FUNCTIONS });
    try {
      let now = 0;
      const loop = new IndexMaintenance({ db: side, shadowWritable: (fn) => side.withShadowTablesWritable(fn), emit: () => {}, now: () => now });
      while (loop.step() !== null); // the migration's index, retired by the fixture, is purged first
      const drain = (): string[] => {
        const kinds: string[] = [];
        for (let step = loop.step(); step; step = loop.step()) kinds.push(step.kind);
        return kinds;
      };
      // A burst: a commit every 10 ms for 400 ms. The first commit is checkpointed; nothing is indexed.
      const burst: string[] = [];
      for (let i = 0; i < 40; i++) {
        f.add(`grape ${i}`);
        burst.push(...drain());
        now += 10;
      }
      expect(burst).toEqual(['checkpoint']);
      expect(indexComplete(f.db.reader)).toBe(false);
      // The writer is still busy past the deferral limit: catch-up runs anyway, after a checkpoint.
      now += CATCH_UP_DEFER_MAX_MS;
      f.add('grape 40');
      const late = drain();
      expect(late[0]).toBe('checkpoint');
      expect(late).toContain('catch-up');
      expect(late).not.toContain('merge'); // 41 segments to merge, but the writer was active just now
      expect(indexComplete(f.db.reader)).toBe(true);
      now += QUIET_MS;
      expect(loop.step()?.kind).toBe('merge');
      while (loop.step() !== null);
      expect(loop.stats.catchUpScanned).toBe(41);
      expect(f.allIds('grape')).toHaveLength(41);
    } finally {
      side.close();
    }
  });

  it('a writer that goes quiet is caught up at once, and its WAL checkpointed', () => {
    const f = direct();
    const side = openSideConnection({ path: f.path, key: KEY, functions: SEARCH_SQL_FUNCTIONS });
    try {
      let now = 0;
      const loop = new IndexMaintenance({ db: side, shadowWritable: (fn) => side.withShadowTablesWritable(fn), emit: () => {}, now: () => now });
      while (loop.step() !== null);
      f.add('grape 0');
      expect(loop.step()?.kind).toBe('checkpoint');
      now += 10;
      f.add('grape 1');
      expect(loop.step()).toBeNull(); // busy: deferred, and its commit is too recent to checkpoint again
      now += 1_000; // quiet for longer than the active window
      const kinds: string[] = [];
      for (let step = loop.step(); step; step = loop.step()) kinds.push(step.kind);
      expect(kinds.slice(0, 2)).toEqual(['checkpoint', 'catch-up']);
      expect(indexComplete(f.db.reader)).toBe(true);
      expect(f.allIds('grape')).toHaveLength(2);
    } finally {
      side.close();
    }
  });
});

describe('results and pagination', () => {
  /** Messages with chosen ids and display times (late arrivals: ids and display order disagree). */
  function insertAt(f: Fixture, rows: readonly { id: number; at: number; body: string; conversation: 0 | 1 }[]): void {
    f.db.writer.transaction(() => {
      for (const r of rows) {
        f.db.writer.run(sql`
          INSERT INTO messages (id, conversation_id, kind, direction, sender_account_id, sender_device_id, message_id,
            sent_at, received_at, display_at, body, status, read_at)
          VALUES (${r.id}, ${f.conversations[r.conversation]}, 'text', 'incoming', ${r.conversation === 0 ? PEER_A : PEER_B}, 1,
            ${randomBytes(16)}, ${r.at}, ${r.at}, ${r.at}, ${r.body}, NULL, NULL)`);
      }
    });
  }

  it('pages return every match exactly once, newest first by (display time, id), across id spans and late arrivals', () => {
    const words = ['red', 'green', 'blue', 'cyan'];
    const row = fc.record({
      id: fc.integer({ min: 1, max: 40 * 2 ** SPAN_BITS }),
      at: fc.integer({ min: T0, max: T0 + 5000 }), // few distinct times: many ties broken by id
      words: fc.subarray(words, { minLength: 1 }),
      conversation: fc.constantFrom(0 as const, 1 as const),
    });
    fc.assert(
      fc.property(
        fc.uniqueArray(row, { selector: (r) => r.id, minLength: 1, maxLength: 150 }),
        fc.constantFrom(...words, 're', 'ee', 'lue'),
        fc.integer({ min: 1, max: 9 }),
        fc.option(fc.constantFrom(0 as const, 1 as const), { nil: undefined }),
        (rows, query, limit, conversation) => {
          const f = direct();
          insertAt(f, rows.map((r) => ({ ...r, body: `${r.words.join(' ')} x` })));
          const expected = rows
            .filter((r) => (conversation === undefined || r.conversation === conversation) && r.words.some((w) => (query.length < 3 ? w.startsWith(query) : w.includes(query))))
            .sort((a, b) => b.at - a.at || b.id - a.id)
            .map((r) => r.id);
          const seen: number[] = [];
          let cursor: DisplayKey | undefined;
          for (let pages = 0; ; pages++) {
            expect(pages).toBeLessThanOrEqual(expected.length + 1);
            const page = f.search(query, { limit, cursor, conversationId: conversation === undefined ? undefined : f.conversations[conversation] });
            expect(page.hits.length).toBeLessThanOrEqual(limit);
            seen.push(...page.hits.map((h) => h.id));
            if (!page.next) break;
            expect(page.hits).toHaveLength(limit);
            cursor = page.next;
          }
          expect(seen).toEqual(expected);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('the query plans go index → rowids → messages by primary key, never a scan of messages; the probe needs no sort', () => {
    const f = direct();
    f.add('warm up the tables');
    const filters = { conversationId: f.conversations[0], cursor: { displayAt: T0 + 10_000, id: 99 } };
    for (const query of ['zurich', 'zu', '東京 zurich', 'zu zurich']) {
      for (const order of ['display', 'id'] as const) {
        const plan = f.db.reader
          .all<{ detail: string }>(sql`EXPLAIN QUERY PLAN ${matchQuery(parseQuery(query), { lo: 0, hi: 4095 }, filters, 51, order)}`)
          .map((r) => r.detail);
        const what = `${query} by ${order}`;
        expect(plan[0], what).toMatch(/^SCAN [tw] VIRTUAL TABLE INDEX \d+:M/);
        expect(plan, what).toContain('SEARCH m USING INTEGER PRIMARY KEY (rowid=?)');
        expect(plan.join('\n'), what).not.toMatch(/SCAN m\b|messages_by_order|messages_unread/);
        // By display order: SQLite's sorter with the LIMIT (k rows kept). By id: FTS5 delivers rowids
        // in descending order itself, and the LIMIT stops it.
        if (order === 'display') expect(plan, what).toContain('USE TEMP B-TREE FOR ORDER BY');
        else expect(plan.join('\n'), what).not.toContain('TEMP B-TREE');
      }
    }
  });

  it('results carry the conversation, direction and a snippet; an empty query finds nothing', () => {
    const f = direct();
    const mine = f.add('lunch at noon?', { outgoing: true, conversation: 1 });
    const theirs = f.add('Lunch sounds good', { conversation: 1 });
    const page = f.search('lunch');
    expect(page.hits.map((h) => [h.id, h.conversationId, h.direction])).toEqual([
      [theirs, f.conversations[1], 'incoming'],
      [mine, f.conversations[1], 'outgoing'],
    ]);
    f.index();
    expect(new SearchService({ emit: () => {} }).search(f.db, { query: 'lunch', limit: 1 }, SELF)).toMatchObject({
      results: [{ messageId: String(theirs), conversationId: String(f.conversations[1]), senderId: Buffer.from(PEER_B).toString('hex') }],
      nextCursor: { messageId: String(theirs) },
      indexComplete: true,
    });
    expect(f.search('   ')).toEqual({ hits: [], next: null, indexComplete: true });
  });
});
