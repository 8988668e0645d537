/**
 * Seeds profiles the way the engine itself stores them (bench/ui and the seeded e2e specs): real
 * accounts created through the engine (`Engine.createAccount`, OS keychain or passphrase), each
 * other's public account key and signed device list stored as contacts, the direct conversation,
 * and message rows written with the engine's own DB layer (insertMessage, recordAccountKeyChange),
 * in one transaction. Nothing here talks to the relay: it stands for history that arrived earlier.
 *
 * Run with the profiles' hosts stopped (one writer per database).
 */
import { systemRng } from '../../shared/crypto/random.js';
import { getOrCreateDirectConversation } from '../../electron/engine/db/conversations.js';
import { insertContact, recordAccountKeyChange } from '../../electron/engine/db/contacts.js';
import { insertMessage, updateMessageStatus } from '../../electron/engine/db/messages.js';
import type { LocalAccount } from '../../electron/engine/db/account.js';
import { Engine } from '../../electron/engine/engine.js';
import { KeychainKeyStore, osKeychainBackend } from '../../electron/engine/keys/keychain.js';
import { PassphraseKeyFile } from '../../electron/engine/keys/passphrase-key-file.js';
import { resolveProfile } from '../../electron/engine/profile.js';
import type { MessageStatus } from '../../shared/api/view-models.js';

export type SeedMessage = {
  /** As seen from the first profile of the pair. */
  readonly direction: 'incoming' | 'outgoing';
  readonly body: string;
  readonly sentAt: number;
  /** Defaults to sentAt + 300 ms. */
  readonly receivedAt?: number;
  /** Outgoing: defaults to 'read'. */
  readonly status?: MessageStatus;
  /** Incoming: defaults to true. */
  readonly read?: boolean;
};

export type SeedProfile = { readonly profile: string; readonly username: string; readonly passphrase?: string };

async function openEngine(dataRoot: string, p: SeedProfile, relayUrl: string): Promise<{ engine: Engine; account: LocalAccount }> {
  const profile = resolveProfile(dataRoot, p.profile);
  const engine = await Engine.start({
    profile,
    keychain: new KeychainKeyStore(osKeychainBackend, profile.keychainAccount, systemRng),
    passphrase: new PassphraseKeyFile(profile.keyFilePath, systemRng),
  });
  if (engine.getState().state === 'needs-account') {
    await engine.createAccount({ username: p.username, relayUrl, ...(p.passphrase ? { passphrase: p.passphrase } : {}) });
  } else if (engine.getState().state === 'locked' && p.passphrase) {
    await engine.unlock({ passphrase: p.passphrase });
  }
  const current = engine.current;
  if (current === null) throw new Error(`seed: profile ${p.profile} did not open`);
  return { engine, account: current.account };
}

function addContact(engine: Engine, peer: LocalAccount, now: number): number {
  const { db } = engine.current!;
  return db.writer.transaction(() => {
    insertContact(db.writer, { accountId: peer.accountId, username: peer.username, accountKey: peer.accountPublicKey, deviceList: peer.deviceList, now });
    return getOrCreateDirectConversation(db.writer, peer.accountId, now).id;
  });
}

function writeMessages(engine: Engine, conversationId: number, self: LocalAccount, peer: LocalAccount, messages: readonly SeedMessage[], mirror: boolean): void {
  const { db } = engine.current!;
  db.writer.transaction(() => {
    for (const m of messages) {
      const direction = mirror ? (m.direction === 'incoming' ? 'outgoing' : 'incoming') : m.direction;
      const receivedAt = m.receivedAt ?? m.sentAt + 300;
      const outgoing = direction === 'outgoing';
      insertMessage(db.writer, {
        conversationId,
        kind: 'text',
        direction,
        senderAccountId: outgoing ? self.accountId : peer.accountId,
        senderDeviceId: outgoing ? self.deviceId : peer.deviceId,
        messageId: systemRng(16),
        sentAt: m.sentAt,
        receivedAt: outgoing ? m.sentAt : receivedAt,
        body: m.body,
        status: outgoing ? (m.status ?? 'read') : null,
        readAt: outgoing ? null : m.read === false ? null : receivedAt,
      });
    }
  });
}

/**
 * Creates (or opens) two profiles that know each other, with `messages` in their conversation
 * (mirrored into the second profile when `mirror`), and optionally a pending key change of the
 * second profile's account as the first profile sees it. Returns the conversation ids.
 */
export async function seedPair(options: {
  readonly dataRoot: string;
  readonly relayUrl: string;
  readonly a: SeedProfile;
  readonly b: SeedProfile;
  readonly messages?: readonly SeedMessage[];
  readonly mirror?: boolean;
  /** The first profile sees a new account key for the second (banner, composer paused). */
  readonly keyChangeForA?: boolean;
}): Promise<{ conversationA: string; conversationB: string }> {
  const now = Date.now();
  const a = await openEngine(options.dataRoot, options.a, options.relayUrl);
  const b = await openEngine(options.dataRoot, options.b, options.relayUrl);
  try {
    const convA = addContact(a.engine, b.account, now);
    const convB = addContact(b.engine, a.account, now);
    const messages = options.messages ?? [];
    writeMessages(a.engine, convA, a.account, b.account, messages, false);
    if (options.mirror) writeMessages(b.engine, convB, b.account, a.account, messages, true);
    if (options.keyChangeForA) {
      // A new account key for b as a would receive it: a fresh account's key and signed list.
      const scratch = await openEngine(options.dataRoot, { profile: `${options.b.profile}-rekey`, username: `${options.b.username}.rekey` }, options.relayUrl);
      const { db } = a.engine.current!;
      db.writer.transaction(() =>
        recordAccountKeyChange(db.writer, b.account.accountId, { accountKey: scratch.account.accountPublicKey, deviceList: scratch.account.deviceList, now }),
      );
      await scratch.engine.logout();
      await scratch.engine.close();
    }
    return { conversationA: String(convA), conversationB: String(convB) };
  } finally {
    await a.engine.close();
    await b.engine.close();
  }
}

/** Sets one outgoing message's status (a seeded "failed" send, for Retry). */
export async function setStatus(dataRoot: string, p: SeedProfile, relayUrl: string, messageRowId: number, status: MessageStatus): Promise<void> {
  const { engine } = await openEngine(dataRoot, p, relayUrl);
  try {
    const { db } = engine.current!;
    db.writer.transaction(() => updateMessageStatus(db.writer, messageRowId, status));
  } finally {
    await engine.close();
  }
}

const WORDS = 'the quick brown fox jumps over a lazy dog while parley keeps every message end to end encrypted and small talk flows between two friends about lunch plans weekend hiking trips books music and the weather'.split(' ');

/**
 * `count` realistic messages: alternating runs of incoming and outgoing, 1-40 words, one every
 * 20 s to 40 min (several per day over months), all delivered and read.
 */
export function syntheticHistory(count: number, end: number, rng: (n: number) => number): SeedMessage[] {
  const messages: SeedMessage[] = [];
  let t = end;
  let direction: 'incoming' | 'outgoing' = 'incoming';
  for (let i = 0; i < count; i++) {
    if (rng(4) === 0) direction = direction === 'incoming' ? 'outgoing' : 'incoming';
    const words = 1 + rng(40);
    const body = Array.from({ length: words }, () => WORDS[rng(WORDS.length)]).join(' ');
    messages.push({ direction, body, sentAt: t, status: 'read', read: true });
    t -= 20_000 + rng(40 * 60_000);
  }
  return messages.reverse();
}
