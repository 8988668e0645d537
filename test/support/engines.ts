/**
 * The relay-and-engines fixture of the engine integration suites (test/integration/engine):
 * `relayAndEngines()` starts one in-process relay for the file, hands out engines that are disposed
 * after each test, and stops the relay at the end.
 *
 * Each engine is a real Engine over a real (SQLCipher) profile in a temporary directory, talking to
 * the real relay. The database key lives in an in-memory keychain (kept across restarts of the same
 * profile); the clock is the system clock plus an offset a test can move; typing timers are manual
 * (fired by advancing them). Calls go through the engine's dispatcher — the one contract layer
 * every host uses — and every pushed event is checked against its schema.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { EVENTS } from '../../shared/api/events.js';
import type { Channel } from '../../shared/api/contract.js';
import type { ApiResult, EngineEvent, EventName, EventPayload, RequestOf, ResponseOf } from '../../shared/api/types.js';
import { systemRng } from '../../shared/crypto/random.js';
import { countOutbox } from '../../electron/engine/db/outbox.js';
import { pendingReceipts } from '../../electron/engine/db/receipts.js';
import { createDispatcher, type Dispatch } from '../../electron/engine/dispatch.js';
import { Engine } from '../../electron/engine/engine.js';
import { ARGON2_BOUNDS } from '../../electron/engine/keys/argon2.js';
import { KeychainKeyStore } from '../../electron/engine/keys/keychain.js';
import { PassphraseKeyFile } from '../../electron/engine/keys/passphrase-key-file.js';
import { resolveProfile } from '../../electron/engine/profile.js';
import { startTestRelay, type TestRelay } from '../integration/relay/helpers/relay.js';
import type { LimitsOverride } from '../../server/limits/relay-limits.js';
import { MemoryKeychain } from './keychain.js';
import { ManualTimers } from './timers.js';
import type { RetryOptions } from '../../electron/engine/files/transfer.js';

const FAST_ARGON2 = { memoryKiB: ARGON2_BOUNDS.memoryKiB.min, iterations: 3, parallelism: 1 };

/** System time plus an adjustable offset (a device whose clock is wrong, or time passing). */
export class OffsetClock {
  offset = 0;
  readonly now = (): number => Date.now() + this.offset;
  advance(ms: number): void {
    this.offset += ms;
  }
}

export class ApiFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

let counter = 0;
let barriers = 0;
/** A valid username unique within this test process. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid % 100_000}_${++counter}`.slice(0, 32);
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export type TestEngineOptions = {
  readonly relayUrl: string;
  readonly name?: string;
  readonly base?: string;
  readonly keychain?: MemoryKeychain;
  readonly clock?: OffsetClock;
  readonly timers?: ManualTimers;
  /** Retries inside one attachment transfer before it pauses (the engine's default waits about a minute). */
  readonly transferRetry?: Partial<RetryOptions>;
  /** The profile's database without SQLCipher, so a test can scan its raw bytes (purge tests only). */
  readonly unencryptedDatabase?: boolean;
};

export class TestEngine {
  readonly events: EngineEvent[] = [];
  readonly dispatch: Dispatch;
  username = '';
  #accountId = '';

  private constructor(
    readonly engine: Engine,
    readonly options: Required<Omit<TestEngineOptions, 'name' | 'transferRetry' | 'unencryptedDatabase'>> & { readonly profileName: string; readonly unencryptedDatabase: boolean },
  ) {
    this.dispatch = createDispatcher(engine.handlers());
  }

  static async start(o: TestEngineOptions): Promise<TestEngine> {
    const base = o.base ?? mkdtempSync(join(tmpdir(), 'parley-engine-it-'));
    const keychain = o.keychain ?? new MemoryKeychain();
    const clock = o.clock ?? new OffsetClock();
    const timers = o.timers ?? new ManualTimers();
    const profile = resolveProfile(base, 'p');
    const holder: { t?: TestEngine } = {};
    const engine = await Engine.start({
      profile,
      keychain: new KeychainKeyStore(keychain, profile.keychainAccount, systemRng),
      passphrase: new PassphraseKeyFile(profile.keyFilePath, systemRng, FAST_ARGON2),
      clock: clock.now,
      emit: (e) => {
        const parsed = EVENTS[e.event].safeParse(e.payload);
        if (!parsed.success) throw new Error(`event ${e.event} breaks its schema`);
        holder.t?.events.push(e);
      },
      messaging: {
        typingTimers: timers,
        backoff: { initialDelayMs: 50, maxDelayMs: 300 },
        requestTimeoutMs: 5_000,
        ...(o.transferRetry && { transferRetry: o.transferRetry }),
      },
      ...(o.unencryptedDatabase === true && { unencryptedDatabaseForTests: true }),
    });
    const t = new TestEngine(engine, { relayUrl: o.relayUrl, base, keychain, clock, timers, profileName: 'p', unencryptedDatabase: o.unencryptedDatabase === true });
    holder.t = t;
    return t;
  }

  /** A fresh engine with a registered account, connected to the relay. */
  static async create(o: TestEngineOptions): Promise<TestEngine> {
    const t = await TestEngine.start(o);
    t.username = uniqueName(o.name ?? 'user');
    await t.call('account:create', { username: t.username, relayUrl: o.relayUrl });
    void t.accountId;
    await t.online();
    return t;
  }

  get clock(): OffsetClock {
    return this.options.clock;
  }

  get timers(): ManualTimers {
    return this.options.timers;
  }

  /** The account id (hex), also after the engine closed. */
  get accountId(): string {
    this.#accountId ||= this.engine.getState().account?.accountId ?? '';
    return this.#accountId;
  }

  async result<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ApiResult<ResponseOf<C>>> {
    return (await this.dispatch(channel, request)) as ApiResult<ResponseOf<C>>;
  }

  async call<C extends Channel>(channel: C, request: RequestOf<C>): Promise<ResponseOf<C>> {
    const r = await this.result(channel, request);
    if (!r.ok) throw new ApiFailure(r.error.code, r.error.message);
    return r.value;
  }

  async errorOf<C extends Channel>(channel: C, request: RequestOf<C>): Promise<string> {
    const r = await this.result(channel, request);
    if (r.ok) throw new Error(`expected ${channel} to fail`);
    return r.error.code;
  }

  payloads<E extends EventName>(event: E): EventPayload<E>[] {
    return this.events.filter((e) => e.event === event).map((e) => e.payload as EventPayload<E>);
  }

  async waitEvent<E extends EventName>(event: E, match: (p: EventPayload<E>) => boolean = () => true, timeoutMs = 10_000): Promise<EventPayload<E>> {
    let found: EventPayload<E> | undefined;
    await waitFor(() => (found = this.payloads(event).find(match)) !== undefined, `${event} on ${this.username}`, timeoutMs);
    return found!;
  }

  /** Connected and done with the work after connecting (contact list, presence, prekeys). */
  async online(timeoutMs = 10_000): Promise<void> {
    await waitFor(() => this.engine.messaging?.relay.state === 'open', `${this.username} online`, timeoutMs);
    await this.engine.messaging!.settled();
  }

  /** Adds `other` by username and returns the conversation id. */
  async add(other: { readonly username: string }): Promise<string> {
    const contact = await this.call('contacts:add', { username: other.username });
    const conversation = (await this.call('conversations:list', {})).find((c) => c.contactId === contact.id);
    if (!conversation) throw new Error('no conversation after contacts:add');
    return conversation.id;
  }

  async conversationWith(other: { readonly accountId: string }): Promise<string | undefined> {
    return (await this.call('conversations:list', {})).find((c) => c.contactId === other.accountId)?.id;
  }

  async messages(conversationId: string, limit = 200) {
    return (await this.call('messages:openPage', { conversationId, anchor: { kind: 'latest' }, limit })).messages;
  }

  async send(conversationId: string, body: string) {
    return this.call('messages:send', { conversationId, body });
  }

  /**
   * Waits until this engine has handed everything it queued to the relay: no outbox row and no
   * pending receipt (receipts wait a moment in their own table before they become sends).
   */
  async drained(timeoutMs = 10_000): Promise<void> {
    const db = () => this.engine.current!.db.reader;
    await waitFor(() => countOutbox(db()) === 0 && pendingReceipts(db()).length === 0, `${this.username} drained`, timeoutMs);
  }

  /**
   * An ordering barrier: sends a fresh sentinel text to `to` in `conversationId` and waits until
   * `to` shows it. Everything this device handed to the relay for `to` before (call drained() first
   * to include what is still queued) is processed there by then: a device's mailbox and its inbound
   * processing keep the order. Use it instead of "sleep, then check nothing happened". Returns the
   * sentinel's text.
   */
  async barrier(to: TestEngine, conversationId: string): Promise<string> {
    const body = `barrier ${++barriers}`;
    await this.send(conversationId, body);
    await to.receive(this, body);
    return body;
  }

  /** Waits until a text with `body` is in the conversation with `from`; returns it. */
  async receive(from: { readonly accountId: string }, body: string, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const conversationId = await this.conversationWith(from);
      if (conversationId) {
        const found = (await this.messages(conversationId)).find((m) => m.body === body && m.direction === 'incoming');
        if (found) return found;
      }
      if (Date.now() > deadline) throw new Error(`${this.username} did not receive "${body.slice(0, 40)}"`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async statusOf(messageId: string): Promise<string | null> {
    return (await this.call('messages:openPage', { conversationId: await this.conversationOf(messageId), anchor: { kind: 'around', messageId }, limit: 1 })).messages[0]!.status;
  }

  async conversationOf(messageId: string): Promise<string> {
    for (const c of await this.call('conversations:list', {})) {
      const page = await this.result('messages:openPage', { conversationId: c.id, anchor: { kind: 'around', messageId }, limit: 1 });
      if (page.ok && page.value.messages[0]?.id === messageId) return c.id;
    }
    throw new Error('no conversation holds that message');
  }

  async waitStatus(messageId: string, status: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.statusOf(messageId)) !== status) {
      if (Date.now() > deadline) throw new Error(`message ${messageId} of ${this.username} never became ${status} (is ${await this.statusOf(messageId)})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** Closes the engine (database closed, relay connection dropped); the profile stays. */
  async close(): Promise<void> {
    await this.engine.close();
  }

  /** A new engine on the same profile (same keychain, clock and timers), connected again. */
  async restart(): Promise<TestEngine> {
    await this.close();
    const t = await TestEngine.start({
      relayUrl: this.options.relayUrl,
      base: this.options.base,
      keychain: this.options.keychain,
      clock: this.options.clock,
      timers: this.options.timers,
      unencryptedDatabase: this.options.unencryptedDatabase,
    });
    t.username = this.username;
    void t.accountId;
    await t.online();
    return t;
  }

  /** Closes and deletes the profile directory. */
  async dispose(): Promise<void> {
    await this.close().catch(() => undefined);
    rmSync(this.options.base, { recursive: true, force: true });
  }
}

/** Bundle fetches are rate-limited per pair; engine suites fetch far more than a person would. */
const ENGINE_SUITE_LIMITS: LimitsOverride = { bundlesPerPair: { points: 1000, duration: 1 } };

/**
 * "Nothing arrived" without sleeping: `witness` writes to `to` after `from` handed everything it
 * queued to the relay; once `to` shows the witness's sentinel, it has processed all of it (one
 * mailbox per device, processed in order).
 */
export async function settledBetween(from: TestEngine, to: TestEngine, witness: TestEngine): Promise<void> {
  await from.drained();
  const c = (await witness.conversationWith(to)) ?? (await witness.add(to));
  await witness.barrier(to, c);
}

export type RelayAndEngines = {
  /** The file's relay (from beforeAll on). */
  readonly relay: TestRelay;
  /** A fresh engine with a registered account, online, disposed after the test. */
  engine(name: string, relayUrl?: string): Promise<TestEngine>;
  /** Disposes these engines after the test too (restarts, engines made by hand). */
  track(...engines: TestEngine[]): void;
};

/** Registers the hooks: a relay for the file, engines disposed after each test. */
export function relayAndEngines(options: { readonly limits?: LimitsOverride } = {}): RelayAndEngines {
  let relay: TestRelay | undefined;
  const engines: TestEngine[] = [];
  beforeAll(async () => {
    relay = await startTestRelay({ limits: { ...ENGINE_SUITE_LIMITS, ...options.limits } });
  });
  afterEach(async () => {
    for (const e of engines.splice(0)) await e.dispose();
  });
  afterAll(async () => {
    await relay?.stop();
  });
  const fixture: RelayAndEngines = {
    get relay(): TestRelay {
      if (!relay) throw new Error('the relay starts in beforeAll');
      return relay;
    },
    async engine(name, relayUrl) {
      const e = await TestEngine.create({ relayUrl: relayUrl ?? fixture.relay.url, name });
      engines.push(e);
      return e;
    },
    track(...more) {
      engines.push(...more);
    },
  };
  return fixture;
}
