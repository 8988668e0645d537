import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENTS } from '../../shared/api/events.js';
import type { Channel } from '../../shared/api/contract.js';
import type { ApiResult, EngineEvent, RequestOf, ResponseOf } from '../../shared/api/types.js';
import { toBase64Url, toHex } from '../../shared/crypto/bytes.js';
import { systemRng } from '../../shared/crypto/random.js';
import { safetyNumber } from '../../shared/protocol/safety-number.js';
import { deterministicRng, ManualClock } from '../../shared/testing/deterministic-rng.js';
import { makeAccount, makeDevice, signedListFor } from '../../shared/testing/protocol-fixtures.js';
import { insertContact, recordAccountKeyChange } from './db/contacts.js';
import { getOrCreateDirectConversation } from './db/conversations.js';
import { getMessage, insertMessage } from './db/messages.js';
import { pendingReceipts } from './db/receipts.js';
import { createDispatcher } from './dispatch.js';
import { Engine } from './engine.js';
import { ARGON2_BOUNDS } from './keys/argon2.js';
import { KeychainKeyStore } from './keys/keychain.js';
import { PassphraseKeyFile } from './keys/passphrase-key-file.js';
import { resolveProfile } from './profile.js';
import { openTestDatabase } from '../../test/support/database.js';
import { MemoryKeychain } from '../../test/support/keychain.js';
import { ManualTimers } from '../../test/support/timers.js';

const FAST = { memoryKiB: ARGON2_BOUNDS.memoryKiB.min, iterations: 3, parallelism: 1 };
const T0 = Date.UTC(2026, 10, 1);
const PASS = 'correct horse battery staple';
const RELAY = 'https://relay.example';

const bases: string[] = [];
const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  for (const b of bases.splice(0)) rmSync(b, { recursive: true, force: true });
});

/** The dispatcher as a typed client for valid calls, and untyped for the hostile ones. */
type Call = {
  <C extends Channel>(channel: C, request: RequestOf<C>): Promise<ApiResult<ResponseOf<C>>>;
  (channel: string, request: unknown): Promise<ApiResult<unknown>>;
};

type Harness = {
  engine: Engine;
  dispatch: Call;
  events: EngineEvent[];
  keychain: MemoryKeychain;
  timers: ManualTimers;
  clock: ManualClock;
  base: string;
  restart(): Promise<Harness>;
};

async function harness(opts: { base?: string; profile?: string; keychain?: MemoryKeychain } = {}): Promise<Harness> {
  const base = opts.base ?? mkdtempSync(join(tmpdir(), 'parley-engine-'));
  if (!opts.base) bases.push(base);
  const keychain = opts.keychain ?? new MemoryKeychain();
  const profile = resolveProfile(base, opts.profile ?? 'default');
  const events: EngineEvent[] = [];
  const timers = new ManualTimers();
  const clock = new ManualClock(T0);
  const engine = await Engine.start({
    profile,
    keychain: new KeychainKeyStore(keychain, profile.keychainAccount, systemRng),
    passphrase: new PassphraseKeyFile(profile.keyFilePath, systemRng, FAST),
    clock: clock.now,
    timers,
    // These tests cover the local parts; test/integration/engine runs engines against the relay.
    messaging: { localOnly: true },
    emit: (e) => {
      // Every pushed event satisfies its schema.
      expect(EVENTS[e.event].safeParse(e.payload).success, e.event).toBe(true);
      events.push(e);
    },
  });
  engines.push(engine);
  const dispatch = createDispatcher(engine.handlers()) as Call;
  const h: Harness = {
    engine,
    dispatch,
    events,
    keychain,
    timers,
    clock,
    base,
    async restart() {
      await engine.close();
      engines.splice(engines.indexOf(engine), 1);
      return harness({ base, profile: profile.name, keychain });
    },
  };
  return h;
}

function ok<T>(r: ApiResult<T>): T {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.value;
}

function errorCode(r: ApiResult<unknown>): string {
  if (r.ok) throw new Error('expected an error');
  return r.error.code;
}

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

/** No file anywhere under `dir` contains the key, raw or as hex (either case) or base64url. */
function expectKeyNowhere(dir: string, key: Uint8Array): void {
  const forms = [Buffer.from(key), Buffer.from(toHex(key)), Buffer.from(toHex(key).toUpperCase()), Buffer.from(toBase64Url(key))];
  const files = filesUnder(dir);
  expect(files.length).toBeGreaterThan(0);
  for (const f of files) {
    const bytes = readFileSync(f);
    for (const form of forms) expect(bytes.includes(form), f).toBe(false);
  }
}

describe('engine lifecycle (passphrase protection)', () => {
  it('creates an account behind a passphrase and never writes the database key in plaintext', async () => {
    const h = await harness();
    expect(ok(await h.dispatch('app:getState', {}))).toMatchObject({ state: 'needs-account', keyProtection: null, account: null });
    const account = ok(await h.dispatch('account:create', { username: 'Alice', relayUrl: RELAY, passphrase: PASS }));
    expect(account).toMatchObject({ username: 'alice', deviceId: 1, relayUrl: RELAY });
    expect(account.accountId).toMatch(/^[0-9a-f]{32}$/);
    expect(ok(await h.dispatch('app:getState', {}))).toMatchObject({ state: 'ready', keyProtection: 'passphrase' });
    const profile = h.engine.profile;
    expect(statSync(profile.keyFilePath).mode & 0o777).toBe(0o600);
    expect(statSync(profile.dataDir).mode & 0o777).toBe(0o700);
    const key = await new PassphraseKeyFile(profile.keyFilePath, systemRng, FAST).unlock(PASS);
    expectKeyNowhere(h.base, key);
    expect(h.keychain.secrets.size).toBe(0);
  });

  it('starts locked after a restart; a wrong passphrase is WRONG_PASSPHRASE; the right one unlocks', async () => {
    const first = await harness();
    ok(await first.dispatch('account:create', { username: 'alice', relayUrl: RELAY, passphrase: PASS }));
    const h = await first.restart();
    expect(h.engine.getState()).toMatchObject({ state: 'locked', keyProtection: 'passphrase', account: null });
    expect(errorCode(await h.dispatch('conversations:list', {}))).toBe('LOCKED');
    expect(errorCode(await h.dispatch('account:unlock', { passphrase: 'not the passphrase' }))).toBe('WRONG_PASSPHRASE');
    expect(ok(await h.dispatch('account:unlock', { passphrase: PASS }))).toMatchObject({ state: 'ready' });
    expect(ok(await h.dispatch('conversations:list', {}))).toEqual([]);
  });

  it('lock closes the database and drops the key; unlock reopens it', async () => {
    const h = await harness();
    ok(await h.dispatch('account:create', { username: 'alice', relayUrl: RELAY, passphrase: PASS }));
    expect(ok(await h.dispatch('account:lock', {}))).toMatchObject({ state: 'locked' });
    expect(h.engine.current).toBeNull();
    expect(errorCode(await h.dispatch('settings:get', {}))).toBe('LOCKED');
    ok(await h.dispatch('account:unlock', { passphrase: PASS }));
    expect(ok(await h.dispatch('settings:get', {})).readReceipts).toBe(true);
    expect(h.events.filter((e) => e.event === 'engine:state').map((e) => (e.payload as { state: string }).state)).toEqual(['ready', 'locked', 'ready']);
  });

  it('locks itself after the configured idle minutes and tells the renderer', async () => {
    const h = await harness();
    ok(await h.dispatch('account:create', { username: 'alice', relayUrl: RELAY, passphrase: PASS }));
    expect(h.timers.remaining()).toEqual([]);
    ok(await h.dispatch('settings:set', { appLockIdleMinutes: 5 }));
    expect(h.timers.remaining()).toEqual([5 * 60_000]);
    h.timers.advance(5 * 60_000 - 1);
    expect(h.engine.getState().state).toBe('ready');
    h.timers.advance(1);
    await h.engine.refreshState();
    expect(h.engine.getState().state).toBe('locked');
    expect(h.engine.current).toBeNull();
    expect(h.events.at(-1)).toMatchObject({ event: 'engine:state', payload: { state: 'locked' } });
    // After unlocking, the idle lock is armed again from the stored setting.
    ok(await h.dispatch('account:unlock', { passphrase: PASS }));
    expect(h.timers.remaining()).toEqual([5 * 60_000]);
  });

  it('changes the passphrase by re-keying the database: the old key stops opening it, progress is reported, nothing is lost', async () => {
    const h = await harness();
    ok(await h.dispatch('account:create', { username: 'alice', relayUrl: RELAY, passphrase: PASS }));
    ok(await h.dispatch('settings:set', { appLockIdleMinutes: 7 }));
    expect(errorCode(await h.dispatch('account:setPassphrase', { passphrase: 'another long one' }))).toBe('WRONG_PASSPHRASE');
    expect(errorCode(await h.dispatch('account:setPassphrase', { passphrase: 'short', currentPassphrase: PASS }))).toBe('WEAK_PASSPHRASE');
    expect(errorCode(await h.dispatch('account:setPassphrase', { passphrase: 'another long one', currentPassphrase: 'nope nope' }))).toBe('WRONG_PASSPHRASE');
    const profile = resolveProfile(h.base, 'default');
    const files = new PassphraseKeyFile(profile.keyFilePath, systemRng, FAST);
    const oldKey = await files.unlock(PASS);

    expect(ok(await h.dispatch('account:setPassphrase', { passphrase: 'another long one', currentPassphrase: PASS }))).toMatchObject({ state: 'ready' });
    const progress = h.events.filter((e) => e.event === 'account:rekeyProgress').map((e) => e.payload as { done: number; total: number });
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)!.done).toBe(progress.at(-1)!.total);
    expect(progress.at(-1)!.total).toBeGreaterThan(0);
    // Still usable right away, with what it held.
    expect(ok(await h.dispatch('settings:get', {}))).toMatchObject({ appLockIdleMinutes: 7 });

    ok(await h.dispatch('account:lock', {}));
    const newKey = await files.unlock('another long one');
    expect(Buffer.from(newKey).equals(Buffer.from(oldKey))).toBe(false);
    expect(() => openTestDatabase({ path: profile.databasePath, key: oldKey })).toThrow(expect.objectContaining({ code: 'WRONG_KEY' }));
    openTestDatabase({ path: profile.databasePath, key: newKey }).close();
    expect(await files.hasPending()).toBe(false);
    expectKeyNowhere(h.base, oldKey);
    expectKeyNowhere(h.base, newKey);
    expect(errorCode(await h.dispatch('account:unlock', { passphrase: PASS }))).toBe('WRONG_PASSPHRASE');
    ok(await h.dispatch('account:unlock', { passphrase: 'another long one' }));
    expect(ok(await h.dispatch('settings:get', {}))).toMatchObject({ appLockIdleMinutes: 7 });
  });

  it('refuses a weak passphrase, an invalid username and a second account', async () => {
    const h = await harness();
    expect(errorCode(await h.dispatch('account:create', { username: 'alice', relayUrl: RELAY, passphrase: 'short' }))).toBe('WEAK_PASSPHRASE');
    expect(errorCode(await h.dispatch('account:create', { username: 'no spaces!', relayUrl: RELAY, passphrase: PASS }))).toBe('INVALID_USERNAME');
    expect(errorCode(await h.dispatch('account:create', { username: 'alice', relayUrl: 'http://relay.example', passphrase: PASS }))).toBe('INVALID_REQUEST');
    expect(existsSync(h.engine.profile.dataDir)).toBe(false);
    ok(await h.dispatch('account:create', { username: 'alice', relayUrl: RELAY, passphrase: PASS }));
    expect(errorCode(await h.dispatch('account:create', { username: 'alice2', relayUrl: RELAY, passphrase: PASS }))).toBe('ACCOUNT_EXISTS');
    // Unlocking an unlocked engine is a harmless no-op.
    expect(ok(await h.dispatch('account:unlock', { passphrase: 'anything at all' }))).toMatchObject({ state: 'ready' });
  });
});

describe('engine lifecycle (keychain protection)', () => {
  it('keeps the key in the keychain only, and opens by itself after a restart', async () => {
    const first = await harness();
    ok(await first.dispatch('account:create', { username: 'alice', relayUrl: RELAY }));
    expect(first.engine.getState()).toMatchObject({ state: 'ready', keyProtection: 'keychain', keychainAvailable: true });
    expect(existsSync(first.engine.profile.keyFilePath)).toBe(false);
    const key = first.keychain.secrets.get('parley|default/db')!;
    expect(key).toHaveLength(32);
    expectKeyNowhere(first.base, key);
    const h = await first.restart();
    expect(h.engine.getState()).toMatchObject({ state: 'ready', keyProtection: 'keychain' });
  });

  it('a keychain that lost or replaced the key leaves the engine locked, and unlock says why', async () => {
    const first = await harness();
    ok(await first.dispatch('account:create', { username: 'alice', relayUrl: RELAY }));
    first.keychain.secrets.set('parley|default/db', randomBytes(32));
    const replaced = await first.restart();
    expect(replaced.engine.getState()).toMatchObject({ state: 'locked', keyProtection: 'keychain' });
    expect(errorCode(await replaced.dispatch('account:unlock', { passphrase: 'unused' }))).toBe('STORAGE_FAILURE');
    replaced.keychain.secrets.clear();
    expect(errorCode(await replaced.dispatch('account:unlock', { passphrase: 'unused' }))).toBe('KEY_MISSING');
    replaced.keychain.available = false;
    expect(errorCode(await replaced.dispatch('account:unlock', { passphrase: 'unused' }))).toBe('KEYCHAIN_UNAVAILABLE');
    expect(ok(await replaced.dispatch('app:getState', {}))).toMatchObject({ state: 'locked', keychainAvailable: false });
  });

  it('without a keychain: KEYCHAIN_UNAVAILABLE unless a passphrase is given', async () => {
    const keychain = new MemoryKeychain();
    keychain.available = false;
    const h = await harness({ keychain });
    expect(h.engine.getState().keychainAvailable).toBe(false);
    expect(errorCode(await h.dispatch('account:create', { username: 'alice', relayUrl: RELAY }))).toBe('KEYCHAIN_UNAVAILABLE');
    expect(existsSync(h.engine.profile.dataDir)).toBe(false);
    ok(await h.dispatch('account:create', { username: 'alice', relayUrl: RELAY, passphrase: PASS }));
    expect(h.engine.getState()).toMatchObject({ state: 'ready', keyProtection: 'passphrase', keychainAvailable: false });
  });

  it('the app lock needs a passphrase; setting one moves the key from the keychain into the key file and back', async () => {
    const h = await harness();
    ok(await h.dispatch('account:create', { username: 'alice', relayUrl: RELAY }));
    expect(errorCode(await h.dispatch('settings:set', { appLockIdleMinutes: 5 }))).toBe('PASSPHRASE_NOT_SET');
    expect(errorCode(await h.dispatch('account:lock', {}))).toBe('PASSPHRASE_NOT_SET');
    const key = h.keychain.secrets.get('parley|default/db')!.slice();

    ok(await h.dispatch('account:setPassphrase', { passphrase: PASS }));
    expect(h.keychain.secrets.size).toBe(0);
    expect(await new PassphraseKeyFile(h.engine.profile.keyFilePath, systemRng, FAST).unlock(PASS)).toEqual(key);
    ok(await h.dispatch('settings:set', { appLockIdleMinutes: 5 }));
    ok(await h.dispatch('account:lock', {}));
    ok(await h.dispatch('account:unlock', { passphrase: PASS }));

    ok(await h.dispatch('account:setPassphrase', { passphrase: null, currentPassphrase: PASS }));
    expect(existsSync(h.engine.profile.keyFilePath)).toBe(false);
    expect(h.keychain.secrets.get('parley|default/db')).toEqual(key);
    expect(ok(await h.dispatch('settings:get', {})).appLockIdleMinutes).toBeNull();
    expect(h.timers.remaining()).toEqual([]);
    expectKeyNowhere(h.base, key);
  });
});

describe('logout and profiles', () => {
  it('logout deletes the database files, the key file and the keychain entry', async () => {
    for (const passphrase of [PASS, undefined]) {
      const h = await harness();
      ok(await h.dispatch('account:create', { username: 'alice', relayUrl: RELAY, ...(passphrase ? { passphrase } : {}) }));
      expect(filesUnder(h.base).length).toBeGreaterThan(0);
      expect(ok(await h.dispatch('account:logout', {}))).toMatchObject({ state: 'needs-account', keyProtection: null });
      expect(filesUnder(h.base)).toEqual([]);
      expect(existsSync(h.engine.profile.dataDir)).toBe(false);
      expect(h.keychain.secrets.size).toBe(0);
      // The profile can start over.
      ok(await h.dispatch('account:create', { username: 'alice', relayUrl: RELAY, passphrase: PASS }));
    }
  });

  it('two profiles in one base directory are isolated (files and keychain namespace)', async () => {
    const keychain = new MemoryKeychain();
    const a = await harness({ profile: 'alice', keychain });
    const b = await harness({ base: a.base, profile: 'bob', keychain });
    const accountA = ok(await a.dispatch('account:create', { username: 'alice', relayUrl: RELAY }));
    const accountB = ok(await b.dispatch('account:create', { username: 'bob', relayUrl: RELAY }));
    expect(accountA.accountId).not.toBe(accountB.accountId);
    expect([...keychain.secrets.keys()].sort()).toEqual(['parley|alice/db', 'parley|bob/db']);
    expect(a.engine.profile.dataDir).not.toBe(b.engine.profile.dataDir);
    ok(await b.dispatch('account:logout', {}));
    expect([...keychain.secrets.keys()]).toEqual(['parley|alice/db']);
    expect(a.engine.getState().state).toBe('ready');
  });
});

describe('dispatcher', () => {
  it('validates every request and answers with typed errors, never a stringified exception', async () => {
    const h = await harness();
    expect(await h.dispatch('nope:nothing', {})).toEqual({ ok: false, error: { code: 'INVALID_REQUEST', message: 'unknown channel' } });
    expect(errorCode(await h.dispatch('__proto__', {}))).toBe('INVALID_REQUEST');
    expect(errorCode(await h.dispatch('messages:send', { conversationId: '1', body: 'hi', extra: 1 }))).toBe('INVALID_REQUEST');
    expect(errorCode(await h.dispatch('messages:send', { conversationId: '1', body: 'hi' }))).toBe('NEEDS_ACCOUNT');
    expect(errorCode(await h.dispatch('contacts:list', { extra: true }))).toBe('INVALID_REQUEST');
    expect(errorCode(await h.dispatch('contacts:list', 'x'))).toBe('INVALID_REQUEST');
    expect(errorCode(await h.dispatch('contacts:list', {}))).toBe('NEEDS_ACCOUNT');
    const evil = await h.dispatch('account:unlock', { passphrase: 'x'.repeat(5000) });
    expect(errorCode(evil)).toBe('INVALID_REQUEST');
    expect(JSON.stringify(evil)).not.toContain('xxxxx');
  });
});

describe('contacts, conversations and messages views', () => {
  async function seeded() {
    const h = await harness();
    ok(await h.dispatch('account:create', { username: 'alice', relayUrl: RELAY, passphrase: PASS }));
    const { db, account } = h.engine.current!;
    const rng = deterministicRng('views');
    const bobAccount = makeAccount(rng);
    const bob1 = makeDevice(rng, T0, { account: bobAccount, deviceId: 1 });
    const bob2 = makeDevice(rng, T0, { account: bobAccount, deviceId: 2, pq: false });
    const list = signedListFor(bobAccount, [bob1, bob2], 3, T0);
    const ids = db.writer.transaction(() => {
      insertContact(db.writer, {
        accountId: bobAccount.accountId,
        username: 'bob',
        accountKey: bobAccount.accountKey.publicKey,
        deviceList: { signed: list.signed, version: 3, issuedAt: T0 },
        now: T0,
      });
      const c = getOrCreateDirectConversation(db.writer, bobAccount.accountId, T0).id;
      const incoming = (t: number, body: string) =>
        insertMessage(db.writer, {
          conversationId: c,
          kind: 'text',
          direction: 'incoming',
          senderAccountId: bobAccount.accountId,
          senderDeviceId: 1,
          messageId: randomBytes(16),
          sentAt: T0 + t,
          receivedAt: T0 + t + 5,
          body,
          status: null,
          readAt: null,
        });
      const m1 = incoming(1000, 'hello alice');
      const m2 = incoming(2000, 'are you there?');
      const m3 = insertMessage(db.writer, {
        conversationId: c,
        kind: 'text',
        direction: 'outgoing',
        senderAccountId: account.accountId,
        senderDeviceId: 1,
        messageId: randomBytes(16),
        sentAt: T0 + 3000,
        receivedAt: T0 + 3000,
        body: 'yes! '.repeat(40),
        status: 'sent',
        readAt: null,
      });
      const m4 = incoming(4000, 'great');
      return { c, m: [m1, m2, m3, m4] };
    });
    return { h, bobAccount, ids, contactId: toHex(bobAccount.accountId), account };
  }

  it('lists contacts and conversations with unread count, preview and flags', async () => {
    const { h, contactId, ids } = await seeded();
    const [contact] = ok(await h.dispatch('contacts:list', {}));
    expect(contact).toEqual({
      id: contactId,
      username: 'bob',
      displayName: null,
      about: null,
      avatarId: null,
      accepted: true,
      blocked: false,
      verified: false,
      keyChangePending: false,
      quantumResistant: false, // device 2 lacks `pq`
      deviceListStale: false,
      deviceCount: 2,
      addedAt: T0,
    });
    const [conversation] = ok(await h.dispatch('conversations:list', {}));
    expect(conversation).toMatchObject({
      id: String(ids.c),
      kind: 'direct',
      contactId,
      title: 'bob',
      username: 'bob',
      request: false,
      unreadCount: 3,
      verified: false,
      quantumResistant: false,
      presence: { state: 'unknown', lastSeenAt: null },
      lastMessage: { id: String(ids.m[3]), kind: 'text', direction: 'incoming', preview: 'great', status: null },
    });
  });

  it('pages messages by display order through the contract', async () => {
    const { h, ids, contactId } = await seeded();
    const page = ok(await h.dispatch('messages:openPage', { conversationId: String(ids.c), anchor: { kind: 'latest' }, limit: 2 }));
    expect(page.messages.map((m) => m.id)).toEqual([String(ids.m[2]), String(ids.m[3])]);
    expect(page).toMatchObject({ hasOlder: true, hasNewer: false });
    expect(page.messages[0]).toMatchObject({ direction: 'outgoing', senderId: null, status: 'sent', read: true });
    expect(page.messages[1]).toMatchObject({ direction: 'incoming', senderId: contactId, status: null, read: false, body: 'great' });
    const older = ok(await h.dispatch('messages:openPage', { conversationId: String(ids.c), anchor: { kind: 'before', messageId: page.messages[0]!.id }, limit: 5 }));
    expect(older.messages.map((m) => m.body)).toEqual(['hello alice', 'are you there?']);
    expect(older.hasOlder).toBe(false);
    expect(errorCode(await h.dispatch('messages:openPage', { conversationId: '999', anchor: { kind: 'latest' }, limit: 5 }))).toBe('NOT_FOUND');
    expect(errorCode(await h.dispatch('messages:openPage', { conversationId: String(ids.c), anchor: { kind: 'around', messageId: '999' }, limit: 5 }))).toBe('NOT_FOUND');
  });

  it("only app:activity restarts the app lock's countdown: requests the renderer makes on its own (a page, mark read, lists, state) do not", async () => {
    const { h, ids } = await seeded();
    ok(await h.dispatch('settings:set', { appLockIdleMinutes: 1 }));
    h.timers.advance(59_000);
    // What an unattended window does when a contact writes: it loads the message and marks it read.
    ok(await h.dispatch('messages:openPage', { conversationId: String(ids.c), anchor: { kind: 'latest' }, limit: 50 }));
    ok(await h.dispatch('messages:markRead', { conversationId: String(ids.c), upToMessageId: String(ids.m[3]) }));
    ok(await h.dispatch('conversations:list', {}));
    ok(await h.dispatch('app:getState', {}));
    expect(h.timers.remaining()).toEqual([1_000]);
    h.timers.advance(1_000);
    await h.engine.refreshState();
    expect(h.engine.getState().state).toBe('locked');

    // Input from the person (keyboard, pointer, focus) does restart it; reported while locked, nothing.
    expect(ok(await h.dispatch('app:activity', {}))).toBeNull();
    expect(h.timers.remaining()).toEqual([]);
    ok(await h.dispatch('account:unlock', { passphrase: PASS }));
    h.timers.advance(59_000);
    ok(await h.dispatch('app:activity', {}));
    expect(h.timers.remaining()).toEqual([60_000]);
  });

  it('markRead marks up to a message, emits updates and queues a read receipt naming each message read', async () => {
    const { h, ids } = await seeded();
    const { unreadCount } = ok(await h.dispatch('messages:markRead', { conversationId: String(ids.c), upToMessageId: String(ids.m[2]) }));
    expect(unreadCount).toBe(1);
    const updated = h.events.filter((e) => e.event === 'message:updated').map((e) => (e.payload as { message: { id: string } }).message.id);
    expect(updated).toEqual([String(ids.m[0]), String(ids.m[1])]);
    expect(h.events.some((e) => e.event === 'conversation:updated')).toBe(true);
    const receipts = pendingReceipts(h.engine.current!.db.reader);
    expect(receipts).toHaveLength(1);
    expect(receipts[0]!.kind).toBe('read');
    const read = [ids.m[0]!, ids.m[1]!].map((id) => toHex(getMessage(h.engine.current!.db.reader, id)!.messageId!));
    expect(receipts[0]!.messageIds.map(toHex).sort()).toEqual(read.sort());
  });

  it('with read receipts off, reading queues no receipt', async () => {
    const { h, ids } = await seeded();
    ok(await h.dispatch('settings:set', { readReceipts: false }));
    ok(await h.dispatch('messages:markRead', { conversationId: String(ids.c), upToMessageId: String(ids.m[3]) }));
    expect(pendingReceipts(h.engine.current!.db.reader)).toEqual([]);
  });

  it('shows the same safety number both sides compute, and verified status resets on a key change', async () => {
    const { h, contactId, bobAccount, account } = await seeded();
    const view = ok(await h.dispatch('contacts:getSafetyNumber', { contactId }));
    const bobsView = safetyNumber(
      { accountId: bobAccount.accountId, accountKey: bobAccount.accountKey.publicKey },
      { accountId: account.accountId, accountKey: account.accountPublicKey },
    );
    expect(view.digits).toBe(bobsView.digits);
    expect(view.groups.join('')).toBe(view.digits);
    expect(view.contactDevices.map((d) => [d.deviceId, d.quantumResistant])).toEqual([[1, true], [2, false]]);
    expect(view.ownDevices).toHaveLength(1);

    expect(ok(await h.dispatch('contacts:markVerified', { contactId, verified: true })).verified).toBe(true);
    const newKey = makeAccount(deterministicRng('new key'));
    const { db } = h.engine.current!;
    const list = signedListFor({ accountId: bobAccount.accountId, accountKey: newKey.accountKey }, [makeDevice(deterministicRng('d'), T0, { account: bobAccount })], 4, T0);
    db.writer.transaction(() =>
      recordAccountKeyChange(db.writer, bobAccount.accountId, { accountKey: newKey.accountKey.publicKey, deviceList: { signed: list.signed, version: 4, issuedAt: T0 }, now: T0 }),
    );
    expect(ok(await h.dispatch('contacts:list', {}))[0]).toMatchObject({ verified: false, keyChangePending: true });
    expect(ok(await h.dispatch('contacts:getSafetyNumber', { contactId })).digits).not.toBe(view.digits);
    expect(ok(await h.dispatch('contacts:acceptKeyChange', { contactId }))).toMatchObject({ keyChangePending: false, verified: false });
    expect(errorCode(await h.dispatch('contacts:acceptKeyChange', { contactId: '0'.repeat(32) }))).toBe('NOT_FOUND');
  });
});
