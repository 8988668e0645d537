import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { CHANNELS, CONTRACT, isChannel, type Channel } from './contract.js';
import { API_ERROR_CODES, resultSchema } from './errors.js';
import { EVENT_NAMES, EVENTS } from './events.js';
import { isRelayUrl } from './primitives.js';
import type { ApiResult, Bridge, EventPayload, RequestOf } from './types.js';
import type { MessageView } from './view-models.js';
import { DEFAULT_SETTINGS, SettingsSchema } from './view-models.js';

const CONTACT = '00112233445566778899aabbccddeeff';

/** A valid request for every channel (the table is checked against RequestOf at compile time). */
const EXAMPLES: { [C in Channel]: RequestOf<C> } = {
  'app:getState': {},
  'app:activity': {},
  'account:create': { username: 'alice', relayUrl: 'https://relay.example' },
  'account:unlock': { passphrase: 'correct horse' },
  'account:setPassphrase': { passphrase: 'correct horse battery', currentPassphrase: 'correct horse' },
  'account:lock': {},
  'account:logout': {},
  'account:delete': {},
  'profile:get': {},
  'profile:set': { displayName: 'Alice Liddell', about: 'Down the rabbit hole' },
  'profile:setAvatar': { picture: null },
  'contacts:add': { username: 'bob' },
  'contacts:list': {},
  'contacts:getAvatar': { contactId: CONTACT },
  'contacts:getSafetyNumber': { contactId: CONTACT },
  'contacts:markVerified': { contactId: CONTACT, verified: true },
  'contacts:acceptKeyChange': { contactId: CONTACT },
  'contacts:accept': { contactId: CONTACT },
  'contacts:deleteRequest': { contactId: CONTACT },
  'contacts:setBlocked': { contactId: CONTACT, blocked: true },
  'contacts:listBlocked': {},
  'link:start': { relayUrl: 'https://relay.example' },
  'link:status': {},
  'link:accept': { deviceName: "Alice's desktop" },
  'link:cancel': {},
  'devices:list': {},
  'devices:accountSafetyNumber': {},
  'devices:link': { code: '123456-1234-5678', history: 'recent' },
  'devices:rename': { deviceId: 2, name: "Alice's laptop" },
  'devices:remove': { deviceId: 2 },
  'history:list': {},
  'history:cancel': { transferId: '0123456789abcdef0123456789abcdef' },
  'conversations:list': {},
  'conversations:start': { username: 'bob' },
  'messages:openPage': { conversationId: '1', anchor: { kind: 'around', messageId: '42' }, limit: 50 },
  'messages:send': { conversationId: '1', body: 'hello' },
  'messages:retry': { messageId: '7' },
  'messages:markRead': { conversationId: '1', upToMessageId: '7' },
  'messages:info': { messageId: '7' },
  'messages:deleteForMe': { messageId: '7' },
  'messages:deleteForEveryone': { messageId: '7' },
  'conversations:setTimer': { conversationId: '1', seconds: 30 },
  'conversations:setTyping': { conversationId: '1', typing: true },
  'settings:get': {},
  'settings:set': { notifications: 'name-only' },
  'search:query': { query: 'zürich', conversationId: '1', cursor: { displayAt: 1_700_000_000_000, messageId: '42' }, limit: 50 },
  'attachments:stage': { name: 'photo.jpg', size: 1234 },
  'attachments:write': { stageId: '00112233445566778899aabbccddeeff', offset: 0, data: 'aGVsbG8=' },
  'attachments:send': { conversationId: '1', stageId: '00112233445566778899aabbccddeeff', caption: 'look', asFile: false },
  'attachments:cancel': { messageId: '7' },
  'attachments:retry': { messageId: '7' },
  'attachments:reveal': { messageId: '7' },
  'conversations:delete': { conversationId: '1' },
  'attachments:open': { messageId: '7' },
  'attachments:read': { messageId: '7', offset: 0, length: 65_536 },
  'backup:status': {},
  'backup:enable': {},
  'backup:confirm': { answers: [{ position: 1, word: 'abandon' }, { position: 12, word: 'zoo' }, { position: 24, word: 'art' }] },
  'backup:setPassphrase': { passphrase: null },
  'backup:configure': { automatic: true, includeAttachments: false },
  'backup:run': {},
  'backup:cancel': {},
  'backup:export': { path: '/home/alice/parley-backup.pbk' },
  'backup:viewWords': { passphrase: 'correct horse' },
  'backup:disable': {},
  'restore:inspect': { words: 'abandon abandon art', relayUrl: 'https://relay.example' },
  'restore:start': { words: 'abandon abandon art', file: '/home/alice/parley-backup.pbk', backupPassphrase: 'second factor' },
  'restore:discard': {},
};

/** Names that must never appear in anything crossing the bridge. */
const SECRET_NAMES = /private|secret|seed|ratchet|rootkey|chainkey|passphrase|databasekey/i;

function propertyNames(schema: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(schema)) for (const s of schema) propertyNames(s, out);
  else if (schema && typeof schema === 'object') {
    for (const [k, v] of Object.entries(schema)) {
      if (k === 'properties' && v && typeof v === 'object') for (const name of Object.keys(v)) out.add(name);
      propertyNames(v, out);
    }
  }
  return out;
}

describe('renderer↔engine contract', () => {
  it('maps every channel to a distinct bridge method and names channels area:verb', () => {
    const methods = CHANNELS.map((c) => CONTRACT[c].method);
    expect(new Set(methods).size).toBe(CHANNELS.length);
    for (const c of CHANNELS) expect(c).toMatch(/^[a-z]+:[a-zA-Z]+$/);
    expect(isChannel('messages:send')).toBe(true);
    expect(isChannel('toString')).toBe(false);
    expect(isChannel('__proto__')).toBe(false);
  });

  it('the bridge type has one typed function per channel, named by its method, and typed events', () => {
    expectTypeOf<Bridge['send']>().parameters.toEqualTypeOf<[RequestOf<'messages:send'>]>();
    expectTypeOf<Bridge['send']>().returns.toEqualTypeOf<Promise<ApiResult<MessageView>>>();
    expectTypeOf<Bridge['openPage']>().parameter(0).toHaveProperty('anchor');
    expectTypeOf<EventPayload<'message:added'>>().toEqualTypeOf<{ message: MessageView }>();
    expectTypeOf<keyof Bridge>().toEqualTypeOf<(typeof CONTRACT)[Channel]['method'] | 'on'>();
  });

  it('every request, response and event is plain JSON data (renders as JSON Schema)', () => {
    for (const c of CHANNELS) {
      expect(() => z.toJSONSchema(CONTRACT[c].request, { io: 'input' }), c).not.toThrow();
      expect(() => z.toJSONSchema(CONTRACT[c].response, { io: 'output' }), c).not.toThrow();
    }
    for (const e of EVENT_NAMES) expect(() => z.toJSONSchema(EVENTS[e], { io: 'output' }), e).not.toThrow();
  });

  it('no response or event field is named like key material or ratchet state', () => {
    const names = new Set<string>();
    for (const c of CHANNELS) propertyNames(z.toJSONSchema(CONTRACT[c].response, { io: 'output' }), names);
    for (const e of EVENT_NAMES) propertyNames(z.toJSONSchema(EVENTS[e], { io: 'output' }), names);
    expect(names.size).toBeGreaterThan(30);
    expect([...names].filter((n) => SECRET_NAMES.test(n))).toEqual([]);
  });

  it('recovery words cross the bridge only in backup:enable and backup:viewWords answers, never in an event', () => {
    const withWords = CHANNELS.filter((c) => propertyNames(z.toJSONSchema(CONTRACT[c].response, { io: 'output' })).has('words'));
    expect(withWords.sort()).toEqual(['backup:enable', 'backup:viewWords']);
    for (const e of EVENT_NAMES) expect(propertyNames(z.toJSONSchema(EVENTS[e], { io: 'output' })).has('words'), e).toBe(false);
    expect(CONTRACT['backup:enable'].response.safeParse({ words: Array(23).fill('abandon') }).success).toBe(false);
  });

  it('backup requests are bounded: exactly three confirmation answers at positions 1-24, bounded words and paths', () => {
    const confirm = CONTRACT['backup:confirm'].request;
    expect(confirm.safeParse({ answers: [{ position: 1, word: 'a' }, { position: 2, word: 'b' }] }).success).toBe(false);
    expect(confirm.safeParse({ answers: [{ position: 0, word: 'a' }, { position: 2, word: 'b' }, { position: 3, word: 'c' }] }).success).toBe(false);
    expect(confirm.safeParse({ answers: [{ position: 25, word: 'a' }, { position: 2, word: 'b' }, { position: 3, word: 'c' }] }).success).toBe(false);
    expect(CONTRACT['restore:start'].request.safeParse({ words: 'x'.repeat(1025), relayUrl: 'https://relay.example' }).success).toBe(false);
    expect(CONTRACT['restore:inspect'].request.safeParse({ words: 'a', relayUrl: 'http://relay.example' }).success).toBe(false);
    expect(CONTRACT['backup:export'].request.safeParse({ path: '' }).success).toBe(false);
  });

  it('accepts the example request of every channel and refuses an unknown key in each', () => {
    for (const c of CHANNELS) {
      expect(CONTRACT[c].request.safeParse(EXAMPLES[c]).success, c).toBe(true);
      expect(CONTRACT[c].request.safeParse({ ...EXAMPLES[c], extra: 1 }).success, c).toBe(false);
    }
  });

  it('refuses ids that are not ids, page sizes out of range and absurd bodies', () => {
    const page = CONTRACT['messages:openPage'].request;
    expect(page.safeParse({ conversationId: '0', anchor: { kind: 'latest' }, limit: 10 }).success).toBe(false);
    expect(page.safeParse({ conversationId: '1e3', anchor: { kind: 'latest' }, limit: 10 }).success).toBe(false);
    expect(page.safeParse({ conversationId: '1234567890123456', anchor: { kind: 'latest' }, limit: 10 }).success).toBe(false);
    expect(page.safeParse({ conversationId: '1', anchor: { kind: 'latest' }, limit: 0 }).success).toBe(false);
    expect(page.safeParse({ conversationId: '1', anchor: { kind: 'latest' }, limit: 201 }).success).toBe(false);
    expect(page.safeParse({ conversationId: '1', anchor: { kind: 'sideways', messageId: '1' }, limit: 5 }).success).toBe(false);
    const send = CONTRACT['messages:send'].request;
    expect(send.safeParse({ conversationId: '1', body: '' }).success).toBe(false);
    expect(send.safeParse({ conversationId: '1', body: 'x'.repeat(300_000) }).success).toBe(false);
    expect(CONTRACT['contacts:list'].request.safeParse(null).success).toBe(false);
    expect(CONTRACT['contacts:getSafetyNumber'].request.safeParse({ contactId: CONTACT.toUpperCase() }).success).toBe(false);
  });

  it('results are ok-values or errors with a code from the closed set', () => {
    const s = resultSchema(z.number());
    expect(s.safeParse({ ok: true, value: 1 }).success).toBe(true);
    expect(s.safeParse({ ok: false, error: { code: 'LOCKED', message: 'unlock first' } }).success).toBe(true);
    expect(s.safeParse({ ok: false, error: { code: 'NOPE', message: '' } }).success).toBe(false);
    expect(s.safeParse({ ok: false, error: { code: 'LOCKED', message: 'x', stack: 'y' } }).success).toBe(false);
    expect(new Set(API_ERROR_CODES).size).toBe(API_ERROR_CODES.length);
  });

  it('settings defaults satisfy the settings schema; a partial update may name any subset', () => {
    expect(SettingsSchema.parse(DEFAULT_SETTINGS)).toEqual(DEFAULT_SETTINGS);
    const set = CONTRACT['settings:set'].request;
    expect(set.safeParse({}).success).toBe(true);
    expect(set.safeParse({ appLockIdleMinutes: null }).success).toBe(true);
    expect(set.safeParse({ appLockIdleMinutes: 0 }).success).toBe(false);
    expect(set.safeParse({ notifications: 'everything' }).success).toBe(false);
  });

  it('search requests are bounded: limit 1-50, a query of at most 256 code units, a well-formed cursor', () => {
    const search = CONTRACT['search:query'].request;
    expect(search.safeParse({ query: '', limit: 1 }).success).toBe(true);
    expect(search.safeParse({ query: 'x'.repeat(256), limit: 50 }).success).toBe(true);
    expect(search.safeParse({ query: 'x'.repeat(257), limit: 50 }).success).toBe(false);
    expect(search.safeParse({ query: 'x', limit: 51 }).success).toBe(false);
    expect(search.safeParse({ query: 'x', limit: 0 }).success).toBe(false);
    expect(search.safeParse({ query: 'x' }).success).toBe(false);
    expect(search.safeParse({ query: 'x', limit: 5, cursor: { displayAt: -1, messageId: '1' } }).success).toBe(false);
    expect(search.safeParse({ query: 'x', limit: 5, cursor: { displayAt: 1, messageId: '1', extra: 1 } }).success).toBe(false);
    expect(search.safeParse({ query: 'x', limit: 5, conversationId: '0' }).success).toBe(false);
    expect(DEFAULT_SETTINGS.searchEnabled).toBe(true);
  });

  it('relay addresses are https, or http on the literal loopback addresses only (not localhost), without credentials', () => {
    expect(isRelayUrl('https://relay.example')).toBe(true);
    expect(isRelayUrl('https://relay.example:8443/parley')).toBe(true);
    expect(isRelayUrl('http://127.0.0.1:4000')).toBe(true);
    expect(isRelayUrl('http://[::1]:4000')).toBe(true);
    expect(isRelayUrl('http://relay.example')).toBe(false);
    expect(isRelayUrl('http://localhost:4000')).toBe(false);
    expect(isRelayUrl('http://LOCALHOST:4000')).toBe(false);
    expect(isRelayUrl('http://localhost.:4000')).toBe(false);
    expect(isRelayUrl('http://127.0.0.1.nip.io:4000')).toBe(false);
    expect(isRelayUrl('http://[::ffff:127.0.0.1]:4000')).toBe(false);
    expect(isRelayUrl('https://localhost:4000')).toBe(true); // TLS checks the name
    expect(isRelayUrl('https://user:pw@relay.example')).toBe(false);
    expect(isRelayUrl('https://relay.example/?q=1')).toBe(false);
    expect(isRelayUrl('ftp://relay.example')).toBe(false);
    expect(isRelayUrl('not a url')).toBe(false);
  });
});
