/**
 * Search through the engine's contract (issue 6), with messages that really travelled: two engines
 * on the real relay, real SQLCipher databases. Covers the search channel's view models, the
 * searchEnabled setting (off → SEARCH_DISABLED and no index; on → background rebuild with
 * search:indexProgress events; kept across a restart) and logout leaving no index behind. Index
 * details (matching, CJK, FTS5 syntax, pagination, plans) are tested in electron/engine/search.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { countOutbox } from '../../../electron/engine/db/outbox.js';
import { sql } from '../../../electron/engine/db/sql.js';
import { type TestEngine, uniqueName, waitFor, relayAndEngines } from '../../support/engines.js';

const fixture = relayAndEngines();

/**
 * Waits until both sides have sent everything (receipts included) — closing an engine while its
 * outbox is mid-delivery is the messaging layer's business, not this file's.
 */
async function quiesce(...es: TestEngine[]): Promise<void> {
  for (const e of es) {
    await waitFor(() => countOutbox(e.engine.current!.db.reader) === 0, 'outbox drained');
    await e.engine.messaging!.settled();
  }
}

const engine = (name: string) => fixture.engine(name);

function searchTables(e: TestEngine): string[] {
  return e.engine.current!.db.reader
    .all<{ name: string }>(sql`SELECT name FROM sqlite_schema WHERE name LIKE 'search%' ORDER BY name`)
    .map((r) => r.name);
}

describe('search through the engine', () => {
  it('finds messages sent and received through the relay, on both sides, with sender, conversation and match ranges', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    const sent = await alice.send(aToB, 'Meet me in Zürich at the café, 東京 later');
    const got = await bob.receive(alice, 'Meet me in Zürich at the café, 東京 later');
    const bToA = (await bob.conversationWith(alice))!;
    await bob.send(bToA, 'Zurich works for me');
    await alice.receive(bob, 'Zurich works for me');

    const page = await bob.call('search:query', { query: 'uric', limit: 10 });
    expect(page.indexComplete).toBe(true);
    expect(page.results.map((r) => [r.direction, r.senderId, r.conversationId])).toEqual([
      ['outgoing', null, bToA],
      ['incoming', alice.accountId, bToA],
    ]);
    const hit = page.results[1]!;
    expect(hit.messageId).toBe(got.id);
    expect(hit.snippet.text.slice(hit.snippet.ranges[0]!.start, hit.snippet.ranges[0]!.end)).toBe('üric');

    // Alice finds her own message by an accent-free word and by two CJK characters.
    const own = await alice.call('search:query', { query: 'cafe 東京', limit: 10 });
    expect(own.results.map((r) => [r.messageId, r.senderId])).toEqual([[sent.id, null]]);
    // Paging with the cursor, and a conversation filter.
    const first = await bob.call('search:query', { query: 'zurich', limit: 1 });
    expect(first.nextCursor).not.toBeNull();
    const second = await bob.call('search:query', { query: 'zurich', limit: 1, cursor: first.nextCursor! });
    expect(second).toMatchObject({ results: [{ messageId: got.id }], nextCursor: null });
    expect((await bob.call('search:query', { query: 'zurich', limit: 5, conversationId: '999' })).results).toEqual([]);
    // User text is never query syntax.
    expect((await bob.call('search:query', { query: 'NEAR(" OR *:^', limit: 5 })).results).toEqual([]);
    // The request is validated like every other: no limit above 50, no unknown keys.
    expect(await bob.errorOf('search:query', { query: 'x', limit: 51 })).toBe('INVALID_REQUEST');
    await quiesce(alice, bob);
  });

  it('turning search off drops the index (SEARCH_DISABLED); on rebuilds it in the background with progress events; the setting survives a restart', async () => {
    const alice = await engine('alice');
    let bob = await engine('bob');
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'first lighthouse note');
    await bob.receive(alice, 'first lighthouse note');

    expect(await bob.call('settings:set', { searchEnabled: false })).toMatchObject({ searchEnabled: false });
    expect(bob.payloads('search:indexProgress').at(-1)).toEqual({ state: 'off', progress: 0 });
    // The index is retired at once; its pages are purged by the search worker in the background.
    await bob.engine.search.idle();
    expect(searchTables(bob)).toEqual([]);
    expect(await bob.errorOf('search:query', { query: 'lighthouse', limit: 5 })).toBe('SEARCH_DISABLED');

    // Messages that arrive while search is off are stored; nothing indexes them.
    await alice.send(aToB, 'second lighthouse note');
    await bob.receive(alice, 'second lighthouse note');
    await quiesce(alice, bob);
    bob = await bob.restart();
    fixture.track(bob);
    expect((await bob.call('settings:get', {})).searchEnabled).toBe(false);
    expect(searchTables(bob)).toEqual([]);

    await bob.call('settings:set', { searchEnabled: true });
    await bob.waitEvent('search:indexProgress', (p) => p.state === 'ready');
    const page = await bob.call('search:query', { query: 'lighthouse', limit: 5 });
    expect(page.indexComplete).toBe(true);
    expect(page.results.map((r) => r.snippet.text)).toEqual(['second lighthouse note', 'first lighthouse note']);
    await quiesce(alice, bob);
  });

  it('logout deletes the index with the database: nothing of it remains, and a new account starts empty', async () => {
    const alice = await engine('alice');
    const bob = await engine('bob');
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'a very memorable pelican');
    await bob.receive(alice, 'a very memorable pelican');
    expect((await bob.call('search:query', { query: 'pelican', limit: 5 })).results).toHaveLength(1);
    await quiesce(alice, bob);
    const dataDir = bob.engine.profile.dataDir;
    expect(readdirSync(dataDir).length).toBeGreaterThan(0);

    await bob.call('account:logout', {});
    expect(existsSync(dataDir) ? readdirSync(dataDir) : []).toEqual([]);
    expect(existsSync(join(dataDir, 'parley.db'))).toBe(false);
    expect(await bob.errorOf('search:query', { query: 'pelican', limit: 5 })).toBe('NEEDS_ACCOUNT');

    await bob.call('account:create', { username: uniqueName('bob2'), relayUrl: fixture.relay.url });
    await waitFor(() => bob.engine.current !== null, 'new account open');
    expect((await bob.call('search:query', { query: 'pelican', limit: 5 })).results).toEqual([]);
    const rows = bob.engine.current!.db.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM search_words_data`)!.n;
    // A fresh FTS5 table holds only its structure record(s): no leaf pages of the old account.
    expect(rows).toBeLessThanOrEqual(2);
  });
});
