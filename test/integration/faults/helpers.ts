/**
 * Fault tests' view of an engine: the built engine as a child process (EngineProcess, the contract
 * over JSON lines) with its profile kept across SIGKILLs, and the checks every fault test makes
 * through the contract alone — each conversation's texts in display order, each shown once, no
 * "could not be decrypted" notice, every outgoing text delivered.
 */
import { rmSync } from 'node:fs';
import { expect } from 'vitest';
import type { MessageView } from '../../../shared/api/view-models.js';
import { tempDir } from '../relay/helpers/relay.js';
import { EngineProcess } from '../engine/helpers/engine-process.js';
import { uniqueName } from '../../support/engines.js';

export const PASSPHRASE = 'correct horse battery staple';

/** One profile on disk, run as a sequence of engine processes (each killed or stopped in turn). */
export class Profile {
  readonly data = tempDir('parley-fault-');
  process: EngineProcess | undefined;
  username = '';
  accountId = '';
  #all: EngineProcess[] = [];

  /** Starts an engine process on this profile; an existing account is unlocked. */
  async start(env: Readonly<Record<string, string>> = {}): Promise<EngineProcess> {
    const p = await EngineProcess.start({ data: this.data, env });
    this.#all.push(p);
    this.process = p;
    if ((await p.ready).state === 'locked') await p.call('account:unlock', { passphrase: PASSPHRASE });
    return p;
  }

  async create(relayUrl: string, name: string, env: Readonly<Record<string, string>> = {}): Promise<EngineProcess> {
    const p = await this.start(env);
    this.username = uniqueName(name);
    const account = await p.call('account:create', { username: this.username, relayUrl, passphrase: PASSPHRASE });
    this.accountId = account.accountId;
    await online(p);
    return p;
  }

  get p(): EngineProcess {
    if (!this.process) throw new Error('no engine process');
    return this.process;
  }

  /** Waits for the current process to die by SIGKILL (a crash point). */
  async crashed(timeoutMs = 20_000): Promise<void> {
    const exit = await Promise.race([this.p.exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), timeoutMs))]);
    if (!exit) throw new Error(`${this.username}'s engine did not reach its crash point`);
    expect(exit.signal).toBe('SIGKILL');
  }

  async dispose(): Promise<void> {
    for (const p of this.#all) await p.kill();
    rmSync(this.data, { recursive: true, force: true });
  }
}

export async function online(p: EngineProcess, timeoutMs = 20_000): Promise<void> {
  await p.waitEvent((e) => e.event === 'connection' && e.payload.state === 'online', timeoutMs);
}

/** Adds `other` by username; returns the conversation id. */
export async function addContact(p: EngineProcess, other: Profile): Promise<string> {
  const contact = await p.call('contacts:add', { username: other.username });
  const conversation = (await p.call('conversations:list', {})).find((c) => c.contactId === contact.id);
  if (!conversation) throw new Error('no conversation after contacts:add');
  return conversation.id;
}

export async function conversationWith(p: EngineProcess, other: Profile): Promise<string> {
  const conversation = (await p.call('conversations:list', {})).find((c) => c.contactId === other.accountId);
  if (!conversation) throw new Error('no conversation with that contact');
  return conversation.id;
}

export async function page(p: EngineProcess, conversationId: string): Promise<MessageView[]> {
  return (await p.call('messages:openPage', { conversationId, anchor: { kind: 'latest' }, limit: 100 })).messages;
}

/** Polls the contract until `check` passes on the conversation's page. */
export async function waitForPage(p: EngineProcess, conversationId: string, check: (messages: MessageView[]) => boolean, what: string, timeoutMs = 20_000): Promise<MessageView[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const messages = await page(p, conversationId);
    if (check(messages)) return messages;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; page: ${JSON.stringify(messages.map((m) => [m.body ?? m.kind, m.status]))}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const texts = (messages: readonly MessageView[], direction?: 'incoming' | 'outgoing') =>
  messages.filter((m) => m.kind === 'text' && (direction === undefined || m.direction === direction)).map((m) => m.body!);

/** Texts in display order, or per direction (each side's own order) when both wrote at once. */
export type Expected = readonly string[] | { readonly outgoing: readonly string[]; readonly incoming: readonly string[] };

/**
 * The conversation shows exactly the expected texts, in order, each once; no decryption failure
 * notice; every outgoing text delivered (receipts came back through the same sessions).
 */
const inOrder = (e: Expected): e is readonly string[] => Array.isArray(e);

export async function expectConversation(p: EngineProcess, conversationId: string, expected: Expected, what: string): Promise<void> {
  const total = inOrder(expected) ? expected.length : expected.outgoing.length + expected.incoming.length;
  const messages = await waitForPage(
    p,
    conversationId,
    (ms) => texts(ms).length >= total && ms.filter((m) => m.direction === 'outgoing' && m.kind === 'text').every((m) => m.status === 'delivered' || m.status === 'read'),
    `${what}: ${total} texts, outgoing delivered`,
  );
  if (inOrder(expected)) {
    expect(texts(messages), what).toEqual(expected);
  } else {
    expect(texts(messages, 'outgoing'), `${what} (sent)`).toEqual(expected.outgoing);
    expect(texts(messages, 'incoming'), `${what} (received)`).toEqual(expected.incoming);
  }
  expect(messages.filter((m) => m.kind === 'decryption-failed'), `${what}: no decryption failure`).toEqual([]);
  expect(new Set(messages.map((m) => m.id)).size, `${what}: no row twice`).toBe(messages.length);
}
