/**
 * SearchState with a scripted bridge: the requests it makes and the answers it gets are the test's,
 * so debouncing, the dropping of stale answers (the person kept typing) and the index events can be
 * driven exactly. The same class against the real engine: test/renderer/state.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { ApiResult, Bridge, SearchHit, SearchPage } from '../../../../shared/api/types.js';
import { DEBOUNCE_MS, MAX_QUERY_LENGTH, SearchState } from './search.svelte.js';
import { ManualTimers } from '../../../../test/support/timers.js';

type Request = { query: string; cursor?: { displayAt: number; messageId: string }; limit: number };

/** A bridge whose `search` answers are resolved by the test, in any order. */
function scripted() {
  const requests: { request: Request; answer: (r: ApiResult<SearchPage>) => void }[] = [];
  const bridge = {
    search: (request: Request) => new Promise<ApiResult<SearchPage>>((answer) => requests.push({ request, answer })),
  } as unknown as Bridge;
  return { bridge, requests };
}

function hit(messageId: string, conversationId: string, text = `message ${messageId}`): SearchHit {
  return {
    messageId,
    conversationId,
    direction: 'incoming',
    senderId: 'aa'.repeat(16),
    displayAt: Number(messageId),
    snippet: { text, ranges: [{ start: 0, end: 7 }], truncatedStart: false, truncatedEnd: false },
  };
}

function page(results: SearchHit[], next: string | null = null, indexComplete = true): ApiResult<SearchPage> {
  return { ok: true, value: { results, nextCursor: next === null ? null : { displayAt: Number(next), messageId: next }, indexComplete } };
}

const settled = () => new Promise((r) => setTimeout(r, 0));

describe('SearchState', () => {
  it('searches once the typing pauses, and groups the results by conversation, newest first', async () => {
    const timers = new ManualTimers();
    const { bridge, requests } = scripted();
    const s = new SearchState(bridge, { timers });
    expect(s.status).toBe('empty');
    s.setQuery('z');
    s.setQuery('zu');
    s.setQuery('zur');
    timers.advance(DEBOUNCE_MS - 1);
    expect(requests).toHaveLength(0);
    timers.advance(1);
    expect(requests.map((r) => r.request.query)).toEqual(['zur']);
    expect(s.status).toBe('searching');
    requests[0]!.answer(page([hit('9', 'a'), hit('8', 'b'), hit('7', 'a')]));
    await settled();
    expect(s.status).toBe('done');
    expect(s.searched).toBe('zur');
    expect(s.groups.map((g) => [g.conversationId, g.hits.map((h) => h.messageId)])).toEqual([
      ['a', ['9', '7']],
      ['b', ['8']],
    ]);
  });

  it('drops the answer to an older query that arrives after the newer one', async () => {
    const timers = new ManualTimers();
    const { bridge, requests } = scripted();
    const s = new SearchState(bridge, { timers });
    s.setQuery('first');
    timers.advance(DEBOUNCE_MS);
    s.setQuery('second');
    timers.advance(DEBOUNCE_MS);
    expect(requests.map((r) => r.request.query)).toEqual(['first', 'second']);
    requests[1]!.answer(page([hit('2', 'a')]));
    await settled();
    requests[0]!.answer(page([hit('1', 'a')]));
    await settled();
    expect(s.searched).toBe('second');
    expect(s.hits.map((h) => h.messageId)).toEqual(['2']);
    // Emptying the box cancels what is on its way.
    s.setQuery('third');
    timers.advance(DEBOUNCE_MS);
    s.setQuery('   ');
    requests[2]!.answer(page([hit('3', 'a')]));
    await settled();
    expect(s.status).toBe('empty');
    expect(s.hits).toEqual([]);
  });

  it('loads more results from the cursor without repeating any, for the query the results belong to', async () => {
    const timers = new ManualTimers();
    const { bridge, requests } = scripted();
    const s = new SearchState(bridge, { timers, pageSize: 2 });
    s.setQuery('lunch');
    void s.run();
    requests[0]!.answer(page([hit('9', 'a'), hit('8', 'a')], '8'));
    await settled();
    expect(s.hasMore).toBe(true);
    s.setQuery('lunch at'); // typed, but not searched yet: "more" continues the shown results
    void s.loadMore();
    expect(requests[1]!.request).toEqual({ query: 'lunch', cursor: { displayAt: 8, messageId: '8' }, limit: 2 });
    requests[1]!.answer(page([hit('8', 'a'), hit('5', 'b')], null, false));
    await settled();
    expect(s.hits.map((h) => h.messageId)).toEqual(['9', '8', '5']);
    expect(s.hasMore).toBe(false);
    expect(s.indexComplete).toBe(false);
  });

  it('says search is off — from the setting without asking, from the engine’s SEARCH_DISABLED, from an "off" event — and searches again when it is back on', async () => {
    const timers = new ManualTimers();
    const { bridge, requests } = scripted();
    let enabled: boolean | null = false;
    const s = new SearchState(bridge, { timers, enabled: () => enabled });
    s.setQuery('anything');
    timers.advance(DEBOUNCE_MS);
    expect(requests).toHaveLength(0);
    expect(s.status).toBe('disabled');

    enabled = null; // settings not loaded: ask the engine
    void s.run();
    requests[0]!.answer({ ok: false, error: { code: 'SEARCH_DISABLED', message: 'off' } });
    await settled();
    expect(s.status).toBe('disabled');
    expect(s.error).toBeNull();

    enabled = true;
    s.onEnabledChanged(true);
    requests[1]!.answer(page([hit('4', 'a')]));
    await settled();
    expect(s.status).toBe('done');

    s.onProgress({ state: 'off', progress: 0 });
    expect(s.status).toBe('disabled');
    expect(s.hits).toEqual([]);
  });

  it('follows the index: progress while rebuilding, and a search again when the rebuild is done', async () => {
    const timers = new ManualTimers();
    const { bridge, requests } = scripted();
    const s = new SearchState(bridge, { timers });
    s.onProgress({ state: 'rebuilding', progress: 0.25 });
    expect(s.rebuilding).toBe(true);
    s.setQuery('harbour');
    void s.run();
    requests[0]!.answer(page([hit('9', 'a')], null, false));
    await settled();
    expect(s.indexComplete).toBe(false);
    s.onProgress({ state: 'rebuilding', progress: 0.5 });
    expect(requests).toHaveLength(1);
    s.onProgress({ state: 'ready', progress: 1 });
    expect(s.rebuilding).toBe(false);
    expect(requests).toHaveLength(2);
    requests[1]!.answer(page([hit('9', 'a'), hit('3', 'b')]));
    await settled();
    expect(s.hits).toHaveLength(2);
    expect(s.indexComplete).toBe(true);
  });

  it('turns a failure into one worded error, cuts overlong input to the contract’s limit, and clears', async () => {
    const timers = new ManualTimers();
    const { bridge, requests } = scripted();
    const s = new SearchState(bridge, { timers });
    s.setQuery('x'.repeat(MAX_QUERY_LENGTH + 10));
    expect(s.query).toHaveLength(MAX_QUERY_LENGTH);
    void s.run();
    requests[0]!.answer({ ok: false, error: { code: 'STORAGE_FAILURE', message: 'disk' } });
    await settled();
    expect(s.status).toBe('error');
    expect(s.error).toBe('Parley could not read or write its data.');
    s.clear();
    expect([s.query, s.status, s.error]).toEqual(['', 'empty', null]);
  });
});
