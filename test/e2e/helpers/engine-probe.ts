/**
 * Which contract channels the engine serves right now, read from the engine itself (a throwaway
 * engine in a temporary profile with an in-memory keychain: nothing touches the OS). The messaging
 * specs are marked fixme while issue 4 phase 2 has not registered the channels they need.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Channel } from '../../../shared/api/contract.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { Engine } from '../../../electron/engine/engine.js';
import { KeychainKeyStore } from '../../../electron/engine/keys/keychain.js';
import { PassphraseKeyFile } from '../../../electron/engine/keys/passphrase-key-file.js';
import { resolveProfile } from '../../../electron/engine/profile.js';

let served: Promise<ReadonlySet<string>> | undefined;

async function probe(): Promise<ReadonlySet<string>> {
  const base = mkdtempSync(path.join(os.tmpdir(), 'parley-probe-'));
  try {
    const profile = resolveProfile(base, 'probe');
    const secrets = new Map<string, Uint8Array>();
    const engine = await Engine.start({
      profile,
      keychain: new KeychainKeyStore(
        {
          getSecret: async (s, a) => secrets.get(`${s}|${a}`) ?? null,
          setSecret: async (s, a, v) => void secrets.set(`${s}|${a}`, v),
          deleteSecret: async (s, a) => secrets.delete(`${s}|${a}`),
        },
        profile.keychainAccount,
        systemRng,
      ),
      passphrase: new PassphraseKeyFile(profile.keyFilePath, systemRng),
    });
    const channels = new Set(Object.keys(engine.handlers()));
    await engine.close();
    return channels;
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

/** The messaging channels (issue 4 phase 2) the engine does not serve yet; empty once it does. */
export async function missingMessagingChannels(): Promise<Channel[]> {
  const have = await (served ??= probe());
  const needed: Channel[] = ['contacts:add', 'messages:send', 'messages:retry', 'conversations:setTyping'];
  return needed.filter((c) => !have.has(c));
}
