// @vitest-environment node
// (Node: the engine's SQLite rows are Node Uint8Arrays, which jsdom's realm does not recognise.)
/**
 * The renderer's state classes against the real engine: an Engine in a temporary profile (keys in
 * an in-memory keychain), its dispatcher seen through a Bridge built from shared/api's table — the
 * object both hosts give the renderer — and history written with the engine's DB layer. Only the
 * clock and timers are the test's. Checks windowed paging in display order, events, read marking
 * only while active, typing throttling, the conversation list, avatars, the session's lifecycle.
 */
import { resolveObjectURL } from 'node:buffer';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CONTRACT } from '../../shared/api/contract.js';
import type { Bridge, EngineEvent, MessageView } from '../../shared/api/types.js';
import { fromHex } from '../../shared/crypto/bytes.js';
import { systemRng } from '../../shared/crypto/random.js';
import { getOrCreateDirectConversation } from '../../electron/engine/db/conversations.js';
import { insertContact } from '../../electron/engine/db/contacts.js';
import { insertMessage } from '../../electron/engine/db/messages.js';
import { receiveContactProfileKey, storeContactProfile } from '../../electron/engine/db/profiles.js';
import { createDispatcher } from '../../electron/engine/dispatch.js';
import { Engine } from '../../electron/engine/engine.js';
import { KeychainKeyStore } from '../../electron/engine/keys/keychain.js';
import { PassphraseKeyFile } from '../../electron/engine/keys/passphrase-key-file.js';
import { resolveProfile } from '../../electron/engine/profile.js';
import { AvatarsState } from '../../renderer/src/lib/state/avatars.svelte.js';
import { ChatState, TYPING_IDLE_MS, TYPING_REFRESH_MS } from '../../renderer/src/lib/state/chat.svelte.js';
import { ConversationListState, TYPING_EXPIRY_MS } from '../../renderer/src/lib/state/conversations.svelte.js';
import { Notifier, notificationText, type NotificationApi } from '../../renderer/src/lib/state/notifier.js';
import { SearchState } from '../../renderer/src/lib/state/search.svelte.js';
import { SessionState } from '../../renderer/src/lib/state/session.svelte.js';
import { startTestRelay, type TestRelay } from '../integration/relay/helpers/relay.js';
import { MemoryKeychain } from '../support/keychain.js';
import { ManualTimers } from '../support/timers.js';

// Accounts register at a relay when they are created: a real one, in process.
let relay: TestRelay;
let relayUrl = '';
let accounts = 0;
beforeAll(async () => {
  relay = await startTestRelay();
  relayUrl = relay.url;
});
afterAll(async () => {
  await relay.stop();
});
/** A username not yet taken on this file's relay. */
const fresh = (name: string) => `${name}${++accounts}`;

type Calls = { setTyping: boolean[]; markRead: string[] };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function engineBridge(options: { keychainAvailable?: boolean } = {}) {
  const base = mkdtempSync(path.join(os.tmpdir(), 'parley-renderer-state-'));
  const keychain = new MemoryKeychain();
  keychain.available = options.keychainAvailable ?? true;
  const listeners = new Map<string, Set<(p: unknown) => void>>();
  const events: EngineEvent[] = [];
  const make = async (name: string) => {
    const profile = resolveProfile(base, name);
    return Engine.start({
      profile,
      keychain: new KeychainKeyStore(keychain, profile.keychainAccount, systemRng),
      passphrase: new PassphraseKeyFile(profile.keyFilePath, systemRng, { memoryKiB: 64 * 1024, iterations: 3, parallelism: 1 }),
      emit: (e) => {
        events.push(e);
        for (const l of listeners.get(e.event) ?? []) l(e.payload);
      },
    });
  };
  const engine = await make('alice');
  const dispatch = createDispatcher(engine.handlers());
  const calls: Calls = { setTyping: [], markRead: [] };
  const methods: Record<string, unknown> = {};
  for (const [channel, spec] of Object.entries(CONTRACT)) methods[spec.method] = (request: unknown) => dispatch(channel, request);
  // Typing travels through the engine once its messaging half serves it; recorded here either way.
  methods.setTyping = async (r: { typing: boolean }) => {
    calls.setTyping.push(r.typing);
    return { ok: true, value: null };
  };
  const markRead = methods.markRead as (r: { upToMessageId: string }) => Promise<unknown>;
  methods.markRead = (r: { upToMessageId: string }) => {
    calls.markRead.push(r.upToMessageId);
    return markRead(r);
  };
  methods.on = (event: string, l: (p: unknown) => void) => {
    let set = listeners.get(event);
    if (!set) listeners.set(event, (set = new Set()));
    set.add(l);
    return () => set.delete(l);
  };
  const bridge = methods as unknown as Bridge;
  cleanups.push(async () => {
    await engine.close();
    rmSync(base, { recursive: true, force: true });
  });
  return { engine, bridge, calls, events, make };
}

/** Alice with a contact (a second real account) and `n` messages, one a minute, every 4th outgoing. */
async function withHistory(n: number, unreadFrom = n) {
  const env = await engineBridge();
  await env.engine.createAccount({ username: fresh('alice'), relayUrl });
  const other = await env.make('bob');
  await other.createAccount({ username: fresh('bob'), relayUrl });
  const bob = other.current!.account;
  await other.close();
  const { db, account } = env.engine.current!;
  const start = Date.UTC(2025, 0, 1);
  const conversationId = db.writer.transaction(() => {
    insertContact(db.writer, { accountId: bob.accountId, username: bob.username, accountKey: bob.accountPublicKey, deviceList: bob.deviceList, now: start });
    const c = getOrCreateDirectConversation(db.writer, bob.accountId, start);
    // Inserted newest first, so row ids run against display order.
    for (let i = n - 1; i >= 0; i--) {
      const out = i % 4 === 0;
      const at = start + i * 60_000;
      insertMessage(db.writer, {
        conversationId: c.id,
        kind: 'text',
        direction: out ? 'outgoing' : 'incoming',
        senderAccountId: out ? account.accountId : bob.accountId,
        senderDeviceId: out ? 1 : bob.deviceId,
        messageId: systemRng(16),
        sentAt: at,
        receivedAt: at,
        body: `m${i}`,
        status: out ? 'delivered' : null,
        readAt: out || i < unreadFrom ? at : null,
      });
    }
    return String(c.id);
  });
  return { ...env, conversationId };
}

const bodies = (ms: readonly MessageView[]) => ms.map((m) => m.body);

describe('ChatState windowed paging', () => {
  it('pages back through the whole history in display order, never holding more than the window', async () => {
    const { bridge, conversationId } = await withHistory(1_000);
    const chat = new ChatState(bridge, conversationId, { pageSize: 50, maxWindow: 150 });
    await chat.open();
    expect(bodies(chat.messages)).toEqual(Array.from({ length: 50 }, (_, i) => `m${950 + i}`));
    expect(chat.hasOlder).toBe(true);
    const seen: string[] = [...bodies(chat.messages)].reverse() as string[];
    let max = 0;
    while (chat.hasOlder) {
      const before = chat.messages[0]!.body;
      await chat.loadOlder();
      max = Math.max(max, chat.messages.length);
      const idx = chat.messages.findIndex((m) => m.body === before);
      seen.push(...(bodies(chat.messages.slice(0, idx)) as string[]).reverse());
      // Always in display order.
      expect(chat.messages.every((m, i, a) => i === 0 || a[i - 1]!.displayAt <= m.displayAt)).toBe(true);
    }
    expect(max).toBeLessThanOrEqual(150);
    expect(seen).toEqual(Array.from({ length: 1_000 }, (_, i) => `m${999 - i}`));
    expect(chat.hasNewer).toBe(true);
    // And forward again to the newest.
    while (chat.hasNewer) await chat.loadNewer();
    expect(chat.messages.at(-1)!.body).toBe('m999');
    expect(chat.messages.length).toBeLessThanOrEqual(150);
  });

  it('events: a late arrival slots in by display time; updates and statuses replace rows in the window', async () => {
    const { bridge, conversationId } = await withHistory(10);
    const chat = new ChatState(bridge, conversationId);
    await chat.open();
    const template = chat.messages[5]!;
    chat.onAdded({ ...template, id: '999', body: 'late', displayAt: template.displayAt + 1 });
    expect(bodies(chat.messages).slice(5, 8)).toEqual(['m5', 'late', 'm6']);
    chat.onAdded({ ...template, id: '999', body: 'late', displayAt: template.displayAt + 1 }); // redelivered event
    expect(chat.messages.filter((m) => m.id === '999')).toHaveLength(1);
    const outgoing = chat.messages.find((m) => m.direction === 'outgoing')!;
    chat.onStatus(outgoing.id, 'read');
    expect(chat.messages.find((m) => m.id === outgoing.id)!.status).toBe('read');
    chat.onAdded({ ...template, conversationId: '12345', id: '1000' });
    expect(chat.messages).toHaveLength(11);
  });

  it('drops arrivals beyond the window when the person has scrolled away from the newest', async () => {
    const { bridge, conversationId } = await withHistory(400);
    const chat = new ChatState(bridge, conversationId, { pageSize: 50, maxWindow: 100 });
    await chat.open();
    await chat.loadOlder();
    await chat.loadOlder();
    expect(chat.hasNewer).toBe(true);
    const last = chat.messages.at(-1)!;
    chat.onAdded({ ...last, id: '5000', body: 'new', displayAt: Date.UTC(2030, 0, 1) });
    expect(chat.messages.some((m) => m.id === '5000')).toBe(false);
  });
});

describe('ChatState read marking', () => {
  it('marks read only while active, once up to the newest unread, and the engine agrees', async () => {
    const { bridge, conversationId, calls } = await withHistory(20, 15);
    const list = new ConversationListState(bridge);
    await list.load();
    expect(list.items[0]!.unreadCount).toBe(4); // m15..m19 minus outgoing m16
    const chat = new ChatState(bridge, conversationId);
    await chat.open();
    await chat.markReadIfActive(false);
    expect(calls.markRead).toEqual([]);
    await chat.markReadIfActive(true);
    expect(calls.markRead).toEqual([chat.messages.find((m) => m.body === 'm19')!.id]);
    await chat.markReadIfActive(true);
    expect(calls.markRead).toHaveLength(1);
    await list.load();
    expect(list.items[0]!.unreadCount).toBe(0);
  });
});

describe('ChatState typing', () => {
  it('sends "typing" at most every refresh interval and "stopped" after idle or on send', async () => {
    const { bridge, conversationId, calls } = await withHistory(1);
    const timers = new ManualTimers(1_000_000);
    const chat = new ChatState(bridge, conversationId, { timers });
    chat.composing('h');
    chat.composing('he');
    timers.advance(TYPING_REFRESH_MS - 1);
    chat.composing('hel');
    expect(calls.setTyping).toEqual([true]);
    timers.advance(1);
    chat.composing('hell');
    expect(calls.setTyping).toEqual([true, true]);
    timers.advance(TYPING_IDLE_MS);
    expect(calls.setTyping).toEqual([true, true, false]);
    chat.composing('x');
    chat.composing('');
    expect(calls.setTyping).toEqual([true, true, false, true, false]);
  });

  it('sends nothing with typing indicators off', async () => {
    const { bridge, conversationId, calls } = await withHistory(1);
    const chat = new ChatState(bridge, conversationId, { timers: new ManualTimers(1_000_000), typingEnabled: () => false });
    chat.composing('hello');
    chat.stopTyping();
    expect(calls.setTyping).toEqual([]);
  });
});

describe('ConversationListState', () => {
  it('keeps newest activity first as updates arrive, and tracks presence and typing (which expires)', async () => {
    const { bridge } = await withHistory(3);
    const timers = new ManualTimers(1_000_000);
    const list = new ConversationListState(bridge, timers);
    await list.load();
    const c = list.items[0]!;
    list.upsert({ ...c, id: '77', title: 'newer', lastActivityAt: c.lastActivityAt + 1 });
    expect(list.items.map((x) => x.title)).toEqual(['newer', c.title]);
    list.upsert({ ...c, lastActivityAt: c.lastActivityAt + 2 });
    expect(list.items.map((x) => x.title)).toEqual([c.title, 'newer']);
    list.setPresence(c.contactId, { state: 'online', lastSeenAt: null });
    expect(list.byId(c.id)!.presence.state).toBe('online');
    list.setTyping(c.id, true);
    expect(list.isTyping(c.id)).toBe(true);
    timers.advance(TYPING_EXPIRY_MS);
    expect(list.isTyping(c.id)).toBe(false);
  });
});

describe('AvatarsState', () => {
  it('fetches an avatar once per id, shows the newest (revoking the one it replaces), and nothing for none', async () => {
    const env = await withHistory(1);
    let fetches = 0;
    const bridge: Bridge = {
      ...env.bridge,
      getAvatar: (r) => {
        fetches += 1;
        return env.bridge.getAvatar(r);
      },
    };
    const { db } = env.engine.current!;
    const listed = await env.bridge.listConversations({});
    if (!listed.ok) throw new Error(listed.error.message);
    const [c] = listed.value;
    const bob = fromHex(c!.contactId);
    const webp = (n: number) => Uint8Array.from([...Buffer.from('RIFF'), 4, 0, 0, 0, ...Buffer.from('WEBP'), n, n, n]);
    const store = (revision: number, avatar: Uint8Array | null) =>
      db.writer.transaction(() => {
        receiveContactProfileKey(db.writer, { accountId: bob, profileKey: new Uint8Array(32).fill(7), revision, usernameClaim: '', now: 0 });
        storeContactProfile(db.writer, { accountId: bob, revision, displayName: 'Bob', about: '', avatar, now: 0 });
      });
    const avatars = new AvatarsState(bridge);
    const shown = async (avatarId: string | null): Promise<Uint8Array | null> => {
      for (let i = 0; i < 200; i++) {
        const url = avatars.url(c!.contactId, avatarId);
        if (url !== null || avatarId === null) return url === null ? null : new Uint8Array(await resolveObjectURL(url)!.arrayBuffer());
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      throw new Error('the avatar never arrived');
    };

    store(3, webp(1));
    expect(await shown('3')).toEqual(webp(1));
    const first = avatars.url(c!.contactId, '3')!;
    expect(fetches).toBe(1);
    store(4, webp(2));
    // Until the new one arrives the old one shows; then it is replaced and its URL revoked.
    expect(avatars.url(c!.contactId, '4')).toBe(first);
    for (let i = 0; i < 200 && avatars.url(c!.contactId, '4') === first; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(new Uint8Array(await resolveObjectURL(avatars.url(c!.contactId, '4')!)!.arrayBuffer())).toEqual(webp(2));
    expect(resolveObjectURL(first)).toBeUndefined();
    expect(fetches).toBe(2);
    expect(await shown(null)).toBeNull();
    avatars.clear();
    expect(fetches).toBe(2);
  });
});

describe('SessionState', () => {
  it('creates an account and reaches ready; a missing keychain asks for a passphrase', async () => {
    const { bridge } = await engineBridge({ keychainAvailable: false });
    const session = new SessionState(bridge);
    await session.refresh();
    expect(session.phase).toBe('needs-account');
    expect(session.engine!.keychainAvailable).toBe(false);
    const username = fresh('alice');
    expect(await session.createAccount({ username, relayUrl })).toBe(false);
    expect(session.error).toMatch(/keychain is not available/);
    expect(await session.createAccount({ username, relayUrl, passphrase: 'a long passphrase' })).toBe(true);
    expect(session.phase).toBe('ready');
    expect(await session.lock()).toBe(true);
    expect(session.phase).toBe('locked');
    expect(await session.unlock('wrong passphrase')).toBe(false);
    expect(session.error).toBe('That passphrase is not correct.');
    expect(await session.unlock('a long passphrase')).toBe(true);
  });
});

describe('Notifier', () => {
  it('words a notification by the setting', () => {
    const notice = { sender: 'bob', body: 'secret plans' };
    expect(notificationText(notice, 'name-and-message')).toEqual({ title: 'bob', body: 'secret plans' });
    expect(notificationText(notice, 'name-only')).toEqual({ title: 'bob', body: 'New message' });
    expect(notificationText(notice, 'nothing')).toEqual({ title: 'Parley', body: 'New message' });
  });

  it("a new account's notifications show the sender's name only, not the message", async () => {
    const env = await engineBridge();
    await env.engine.createAccount({ username: fresh('alice'), relayUrl });
    const settings = await env.bridge.getSettings({});
    if (!settings.ok) throw new Error('settings:get failed');
    expect(settings.value.notifications).toBe('name-only');
    const shown: string[] = [];
    const api: NotificationApi = { permission: 'granted', requestPermission: async () => 'granted', show: (title, body) => shown.push(`${title}: ${body}`) };
    await new Notifier(api).notify({ sender: 'bob', body: 'secret plans' }, settings.value.notifications, () => {});
    expect(shown).toEqual(['bob: New message']);
  });

  it('asks for permission once and shows nothing when refused', async () => {
    const shown: string[] = [];
    let asked = 0;
    const api = (answer: NotificationPermission): NotificationApi => ({
      permission: 'default',
      requestPermission: async () => {
        asked++;
        return answer;
      },
      show: (title, body) => shown.push(`${title}: ${body}`),
    });
    expect(await new Notifier(api('denied')).notify({ sender: 'bob', body: 'hi' }, 'name-and-message', () => {})).toBe(false);
    expect(await new Notifier(api('granted')).notify({ sender: 'bob', body: 'hi' }, 'name-only', () => {})).toBe(true);
    expect(asked).toBe(2);
    expect(shown).toEqual(['bob: New message']);
    expect(await new Notifier(null).notify({ sender: 'bob', body: 'hi' }, 'nothing', () => {})).toBe(false);
  });
});

describe('ChatState first page', () => {
  it('keeps events that arrive while the first page is on its way', async () => {
    const { bridge, conversationId } = await withHistory(5);
    const chat = new ChatState(bridge, conversationId);
    const opening = chat.open();
    const template = { id: '4242', conversationId, kind: 'text', direction: 'incoming', senderId: null, body: 'early bird', sentAt: Date.UTC(2030, 0, 1), receivedAt: Date.UTC(2030, 0, 1), displayAt: Date.UTC(2030, 0, 1), status: null, read: false } as const;
    chat.onAdded(template);
    await opening;
    expect(chat.messages.at(-1)!.body).toBe('early bird');
    expect(chat.messages).toHaveLength(6);
  });
});

describe('SearchState and ChatState.openAround (issue 6)', () => {
  it('finds a message far back in history, and the chat opens the window around it with pages on both sides', async () => {
    const { bridge, conversationId, engine } = await withHistory(1_000);
    const search = new SearchState(bridge, { timers: new ManualTimers(1_000_000) });
    search.setQuery('M123');
    await search.run();
    expect(search.status).toBe('done');
    expect(search.groups.map((g) => g.conversationId)).toEqual([conversationId]);
    const [hit] = search.hits;
    expect(hit!.snippet).toEqual({ text: 'm123', ranges: [{ start: 0, end: 4 }], truncatedStart: false, truncatedEnd: false });

    const chat = new ChatState(bridge, conversationId, { pageSize: 50, maxWindow: 150 });
    await chat.openAround(hit!.messageId);
    expect(chat.found).toEqual({ id: hit!.messageId, seq: 1 });
    const at = chat.messages.findIndex((m) => m.id === hit!.messageId);
    expect(at).toBeGreaterThan(10);
    expect(at).toBeLessThan(chat.messages.length - 10);
    expect([chat.hasOlder, chat.hasNewer]).toEqual([true, true]);
    await chat.loadNewer();
    await chat.loadOlder();
    expect(chat.messages.some((m) => m.id === hit!.messageId)).toBe(true);
    // Asked again for a message in the window: no reload, a new request to show it.
    await chat.openAround(hit!.messageId);
    expect(chat.found!.seq).toBe(2);
    // Search off in Settings: the panel says so.
    await bridge.setSettings({ searchEnabled: false });
    await search.run();
    expect(search.status).toBe('disabled');
    await engine.search.idle();
  });
});
