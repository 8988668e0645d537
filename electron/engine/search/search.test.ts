import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { SearchIndexProgress } from '../../../shared/api/view-models.js';
import { insertContact } from '../db/contacts.js';
import { getOrCreateDirectConversation } from '../db/conversations.js';
import { openDatabase, type EngineDatabase } from '../db/database.js';
import { insertMessage } from '../db/messages.js';
import { MIGRATIONS } from '../db/migrations/index.js';
import { writeSettings } from '../db/settings.js';
import { sql } from '../db/sql.js';
import { EngineError } from '../errors.js';
import { parseQuery } from './query.js';
import { matchQuery, searchMessages, type DisplayKey, type SearchRequest } from './search.js';
import { SPAN_BITS } from './schema.js';
import { SearchService } from './service.js';
import { fold, INDEX_TEXT_FORMAT } from './text.js';

const dirs: string[] = [];
const opened: EngineDatabase[] = [];
const services: SearchService[] = [];
afterEach(async () => {
  for (const s of services.splice(0)) {
    s.detach();
    await s.idle();
  }
  for (const db of opened.splice(0)) db.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const KEY = randomBytes(32);
const PEER_A = new Uint8Array(16).fill(7);
const PEER_B = new Uint8Array(16).fill(8);
const SELF = new Uint8Array(16).fill(9);
const T0 = Date.UTC(2026, 0, 1);

type Fixture = {
  db: EngineDatabase;
  path: string;
  service: SearchService;
  events: SearchIndexProgress[];
  conversations: [number, number];
  /** Adds a text message (incoming from the conversation's peer unless outgoing); returns its id. */
  add(body: string | null, o?: { at?: number; conversation?: 0 | 1; outgoing?: boolean; kind?: 'text' | 'key-changed' }): number;
  search(query: string, o?: Partial<Omit<SearchRequest, 'query'>>): ReturnType<typeof searchMessages>;
  ids(query: string, o?: Partial<Omit<SearchRequest, 'query'>>): number[];
  /** Every match, page by page. */
  allIds(query: string): number[];
  reopen(): Fixture;
};

function openFixture(path: string, o: { migrations?: typeof MIGRATIONS; attach?: boolean; progressIntervalMs?: number; batchTargetMs?: number } = {}): Fixture {
  const db = openDatabase({ path, key: KEY, ...(o.migrations ? { migrations: o.migrations } : {}) });
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
  const service = new SearchService({ emit: (e) => events.push(e), progressIntervalMs: o.progressIntervalMs ?? 0, ...(o.batchTargetMs ? { batchTargetMs: o.batchTargetMs } : {}) });
  services.push(service);
  if (o.attach !== false) service.attach(db);
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
    search(query, r = {}) {
      return searchMessages(db.reader, { query, limit: 50, ...r });
    },
    ids(query, r = {}) {
      return f.search(query, r).hits.map((h) => h.id);
    },
    allIds(query) {
      const out: number[] = [];
      for (let p: ReturnType<Fixture['search']> | null = f.search(query); p; p = p.next ? f.search(query, { cursor: p.next }) : null) {
        out.push(...p.hits.map((h) => h.id));
      }
      return out;
    },
    reopen() {
      service.detach();
      db.close();
      opened.splice(opened.indexOf(db), 1);
      return openFixture(path);
    },
  };
  return f;
}

function fixture(o: Parameters<typeof openFixture>[1] = {}): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'parley-search-'));
  dirs.push(dir);
  return openFixture(join(dir, 'parley.db'), o);
}

function searchObjects(db: EngineDatabase): string[] {
  return db.reader
    .all<{ name: string }>(sql`SELECT name FROM sqlite_schema WHERE name LIKE 'search%' ORDER BY name`)
    .map((r) => r.name);
}

/** Turns the setting on or off the way the engine does (write, then reconcile). */
function setSearch(f: Fixture, enabled: boolean): void {
  f.db.writer.transaction(() => writeSettings(f.db.writer, { searchEnabled: enabled }));
  f.service.reconcile();
}

describe('matching', () => {
  it('finds words, prefixes, substrings and accents ("Zürich" by "zurich" and "uric")', async () => {
    const f = fixture();
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
    const f = fixture();
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
    const f = fixture();
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
    const f = fixture();
    f.add(null, { kind: 'key-changed' });
    const text = f.add('keyword here');
    expect(f.ids('keyword')).toEqual([text]);
    expect(f.db.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM messages`)!.n).toBe(2);
  });
});

describe('keeping in step with messages', () => {
  it('reflects edits and deletes, conversation deletes included, and deletes leave no term behind (secure-delete)', () => {
    const f = fixture();
    const a = f.add('the zzsecretzz plan');
    const b = f.add('another message about pineapples', { conversation: 1 });
    // Terms sit in the word index's leaf pages (prefix-compressed: "zz…" sorts last, so its bytes show).
    const dataHas = (needle: string) =>
      f.db.writer.all<{ block: Uint8Array | null }>(sql`SELECT block FROM search_words_data`).some((r) => r.block !== null && Buffer.from(r.block).includes(needle));
    expect(dataHas('secretzz')).toBe(true); // the check can see the term

    f.db.writer.run(sql`UPDATE messages SET body = 'the revised plan' WHERE id = ${a}`);
    expect(f.ids('zzsecretzz')).toEqual([]);
    expect(f.ids('revised')).toEqual([a]);
    expect(dataHas('secretzz')).toBe(false);

    f.db.writer.run(sql`UPDATE messages SET kind = 'key-changed' WHERE id = ${a}`);
    expect(f.ids('revised')).toEqual([]);
    f.db.writer.run(sql`UPDATE messages SET kind = 'text' WHERE id = ${a}`);
    expect(f.ids('revised')).toEqual([a]);

    f.db.writer.run(sql`DELETE FROM messages WHERE id = ${a}`);
    expect(f.ids('revised')).toEqual([]);
    expect(f.ids('plan')).toEqual([]);

    // Cascade: deleting the conversation deletes its messages, and the triggers follow.
    expect(f.ids('pineapple')).toEqual([b]);
    f.db.writer.run(sql`DELETE FROM conversations WHERE id = ${f.conversations[1]}`);
    expect(f.ids('pineapple')).toEqual([]);
    for (const table of ['search_words', 'search_trigrams'] as const) {
      const config = f.db.reader.get<{ v: number }>(
        table === 'search_words' ? sql`SELECT v FROM search_words_config WHERE k = 'secure-delete'` : sql`SELECT v FROM search_trigrams_config WHERE k = 'secure-delete'`,
      );
      expect(config?.v, table).toBe(1);
    }
    expect(() => f.db.writer.run(sql`INSERT INTO search_words (search_words) VALUES ('integrity-check')`)).not.toThrow();
    expect(() => f.db.writer.run(sql`INSERT INTO search_trigrams (search_trigrams) VALUES ('integrity-check')`)).not.toThrow();
  });

  it('the database files contain none of the indexed text', () => {
    const f = fixture();
    const secrets = ['Zebrafinch-Quarterly-7781', 'マグロ丼がおいしい店', 'café-au-lait-9921'];
    for (const s of secrets) f.add(`note: ${s}`);
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
    f.service.detach();
    f.db.close();
    opened.splice(opened.indexOf(f.db), 1);
    check();
  });
});

describe('the searchEnabled setting', () => {
  it('off drops every index table and trigger, checkpoints the WAL, and search says it is off', () => {
    const f = fixture();
    f.add('findable text');
    expect(searchObjects(f.db)).toContain('search_words');
    setSearch(f, false);
    expect(searchObjects(f.db)).toEqual([]);
    expect(f.events.at(-1)).toEqual({ state: 'off', progress: 0 });
    expect(statSync(`${f.path}-wal`).size).toBe(0);
    expect(() => f.search('findable')).toThrow('there is no search index');
    expect(() => f.service.search(f.db, { query: 'findable', limit: 5 }, SELF)).toThrow(EngineError);
    try {
      f.service.search(f.db, { query: 'findable', limit: 5 }, SELF);
    } catch (e) {
      expect((e as EngineError).code).toBe('SEARCH_DISABLED');
    }
    // Messages written while off are not indexed anywhere (there is nowhere to put them).
    f.add('written while off');
    expect(searchObjects(f.db)).toEqual([]);
    // Reopening keeps it off.
    const g = f.reopen();
    expect(searchObjects(g.db)).toEqual([]);
  });

  it('on again rebuilds in the background, newest first, with progress events, and then finds everything', async () => {
    const f = fixture({ batchTargetMs: 1 });
    const ids: number[] = [];
    f.db.writer.transaction(() => {
      for (let i = 0; i < 1500; i++) ids.push(f.add(i % 3 === 0 ? `alpha message ${i}` : `beta message ${i}`));
    });
    setSearch(f, false);
    f.events.length = 0;
    setSearch(f, true);
    // The index exists at once but covers nothing yet; the rebuild runs between event-loop turns.
    expect(f.search('alpha').indexComplete).toBe(false);
    let sawPartial = false;
    while (f.events.at(-1)?.state !== 'ready') {
      await new Promise((r) => setImmediate(r));
      const page = f.search('alpha', { limit: 5 });
      if (!page.indexComplete && page.hits.length > 0) {
        sawPartial = true;
        // Newest first even while partial: the rebuild indexes from the newest id down.
        expect(page.hits[0]!.id).toBe(ids.filter((_, i) => i % 3 === 0).at(-1));
      }
    }
    await f.service.idle();
    expect(sawPartial).toBe(true);
    const progress = f.events.map((e) => e.progress);
    expect(f.events[0]!.state).toBe('rebuilding');
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(f.events.at(-1)).toEqual({ state: 'ready', progress: 1 });
    const stats = f.service.lastRebuild!;
    expect(stats.completed).toBe(true);
    expect(stats.scanned).toBe(1500);
    expect(stats.batches).toBeGreaterThan(5);
    // Batches adapt to the target (1 ms here); the bound leaves room for a slow, shared machine.
    expect(stats.maxTurnByKind.batch.cpuMs).toBeLessThan(20);
    expect(f.search('alpha').indexComplete).toBe(true);
    expect(f.allIds('alpha')).toEqual(ids.filter((_, i) => i % 3 === 0).reverse());
    const automerge = f.db.reader.get<{ v: number }>(sql`SELECT v FROM search_words_config WHERE k = 'automerge'`);
    expect(automerge?.v).toBe(4); // restored after the rebuild
  });

  it('a rebuild interrupted by closing the database resumes at the next open without indexing anything twice', async () => {
    const f = fixture({ batchTargetMs: 1 });
    f.db.writer.transaction(() => {
      for (let i = 0; i < 600; i++) f.add(`gamma ${i}`);
    });
    setSearch(f, false);
    setSearch(f, true);
    for (let i = 0; i < 6; i++) await new Promise((r) => setImmediate(r));
    const g = f.reopen();
    expect(g.search('gamma').indexComplete).toBe(false);
    await g.service.idle();
    const all = g.allIds('gamma');
    expect(all).toHaveLength(600);
    expect(new Set(all).size).toBe(600);
    expect(() => g.db.writer.run(sql`INSERT INTO search_words (search_words) VALUES ('integrity-check')`)).not.toThrow();
  });

  it('writes during a rebuild (inserts, edits, deletes) end up exactly as a fresh index would have them', async () => {
    const vocabulary = ['apple', 'banana', 'cherry', 'damson', 'elder', 'fig'];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.constantFrom(...vocabulary), { minLength: 1, maxLength: 3 }), { minLength: 20, maxLength: 120 }),
        fc.array(
          fc.oneof(
            fc.record({ op: fc.constant('insert' as const), words: fc.array(fc.constantFrom(...vocabulary), { minLength: 1, maxLength: 3 }) }),
            fc.record({ op: fc.constant('edit' as const), pick: fc.nat(), words: fc.array(fc.constantFrom(...vocabulary), { minLength: 1, maxLength: 3 }) }),
            fc.record({ op: fc.constant('delete' as const), pick: fc.nat() }),
          ),
          { maxLength: 40 },
        ),
        async (initial, ops) => {
          const f = fixture({ batchTargetMs: 0.2 });
          const live = new Map<number, string>();
          f.db.writer.transaction(() => {
            for (const words of initial) {
              const body = words.join(' ');
              live.set(f.add(body), body);
            }
          });
          setSearch(f, false);
          setSearch(f, true);
          for (const op of ops) {
            await new Promise((r) => setImmediate(r));
            const ids = [...live.keys()];
            if (op.op === 'insert') {
              const body = op.words.join(' ');
              live.set(f.add(body), body);
            } else if (ids.length > 0 && op.op === 'edit') {
              const id = ids[op.pick % ids.length]!;
              const body = op.words.join(' ');
              f.db.writer.run(sql`UPDATE messages SET body = ${body} WHERE id = ${id}`);
              live.set(id, body);
            } else if (ids.length > 0 && op.op === 'delete') {
              const id = ids[op.pick % ids.length]!;
              f.db.writer.run(sql`DELETE FROM messages WHERE id = ${id}`);
              live.delete(id);
            }
          }
          await f.service.idle();
          for (const word of vocabulary) {
            // Display times follow ids here, so newest first is descending id.
            const expected = [...live.entries()].filter(([, body]) => body.includes(word)).map(([id]) => id).sort((a, b) => b - a);
            expect(f.allIds(word), word).toEqual(expected);
          }
          f.db.writer.run(sql`INSERT INTO search_words (search_words) VALUES ('integrity-check')`);
          f.db.writer.run(sql`INSERT INTO search_trigrams (search_trigrams) VALUES ('integrity-check')`);
        },
      ),
      { numRuns: 15 },
    );
  });

  it('an index built under another text format is rebuilt under the current one', async () => {
    const f = fixture();
    const id = f.add('format check');
    f.db.writer.run(sql`UPDATE search_state SET text_format = 'older'`);
    const g = f.reopen();
    await g.service.idle();
    expect(g.db.reader.get<{ text_format: string }>(sql`SELECT text_format FROM search_state`)!.text_format).toBe(INDEX_TEXT_FORMAT);
    expect(g.ids('format')).toEqual([id]);
  });

  it('migration 0002 indexes the messages of a version-1 database through the background rebuild', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-search-'));
    dirs.push(dir);
    const path = join(dir, 'parley.db');
    // A database as the first release left it: schema 1, written with version-1 SQL only.
    const v1 = openDatabase({ path, key: KEY, migrations: MIGRATIONS.slice(0, 1) });
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
    await now.service.idle();
    expect(now.ids('before search')).toEqual([1]);
    expect(now.search('existed').indexComplete).toBe(true);
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
          const f = fixture();
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
          f.service.detach();
        },
      ),
      { numRuns: 40 },
    );
  });

  it('the query plans go index → rowids → messages by primary key, never a scan of messages; the probe needs no sort', () => {
    const f = fixture();
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
    const f = fixture();
    const mine = f.add('lunch at noon?', { outgoing: true, conversation: 1 });
    const theirs = f.add('Lunch sounds good', { conversation: 1 });
    const page = f.search('lunch');
    expect(page.hits.map((h) => [h.id, h.conversationId, h.direction])).toEqual([
      [theirs, f.conversations[1], 'incoming'],
      [mine, f.conversations[1], 'outgoing'],
    ]);
    expect(f.service.search(f.db, { query: 'lunch', limit: 1 }, SELF)).toMatchObject({
      results: [{ messageId: String(theirs), conversationId: String(f.conversations[1]), senderId: Buffer.from(PEER_B).toString('hex') }],
      nextCursor: { messageId: String(theirs) },
      indexComplete: true,
    });
    expect(f.search('   ')).toEqual({ hits: [], next: null, indexComplete: true });
  });
});
