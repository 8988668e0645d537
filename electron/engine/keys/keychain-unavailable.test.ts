/**
 * The real OS keychain backend with no Secret Service reachable (a D-Bus address that leads
 * nowhere): every call becomes KEYCHAIN_UNAVAILABLE and the engine asks for a passphrase. Runs in
 * the main project, in its own process (vitest isolates files), so the forced address affects nothing else.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemRng } from '../../../shared/crypto/random.js';
import { createDispatcher } from '../dispatch.js';
import { Engine } from '../engine.js';
import { resolveProfile } from '../profile.js';
import { ARGON2_BOUNDS } from './argon2.js';
import { isKeyError } from './errors.js';
import { KeychainKeyStore, osKeychainBackend } from './keychain.js';
import { PassphraseKeyFile } from './passphrase-key-file.js';

let saved: string | undefined;
let base: string;
beforeAll(() => {
  saved = process.env.DBUS_SESSION_BUS_ADDRESS;
  base = mkdtempSync(join(tmpdir(), 'parley-nokc-'));
  process.env.DBUS_SESSION_BUS_ADDRESS = `unix:path=${join(base, 'no-such-bus')}`;
});
afterAll(() => {
  if (saved === undefined) delete process.env.DBUS_SESSION_BUS_ADDRESS;
  else process.env.DBUS_SESSION_BUS_ADDRESS = saved;
  rmSync(base, { recursive: true, force: true });
});

describe('no Secret Service', () => {
  it('the OS keychain provider answers KEYCHAIN_UNAVAILABLE to every call', async () => {
    const store = new KeychainKeyStore(osKeychainBackend, 'nokc/db', systemRng);
    expect(await store.isAvailable()).toBe(false);
    for (const call of [() => store.load(), () => store.create(), () => store.exists(), () => store.destroy()]) {
      await expect(call()).rejects.toSatisfy((e) => isKeyError(e, 'KEYCHAIN_UNAVAILABLE'));
    }
  });

  it('the engine reports it and creates the account only with a passphrase', async () => {
    const profile = resolveProfile(base, 'nokc');
    const engine = await Engine.start({
      profile,
      keychain: new KeychainKeyStore(osKeychainBackend, profile.keychainAccount, systemRng),
      passphrase: new PassphraseKeyFile(profile.keyFilePath, systemRng, { memoryKiB: ARGON2_BOUNDS.memoryKiB.min, iterations: 3, parallelism: 1 }),
      // The keychain is under test, not the relay (test/integration/engine has both).
      messaging: { localOnly: true },
    });
    const dispatch = createDispatcher(engine.handlers());
    expect(engine.getState()).toMatchObject({ state: 'needs-account', keychainAvailable: false });
    const refused = await dispatch('account:create', { username: 'alice', relayUrl: 'https://relay.example' });
    expect(refused).toMatchObject({ ok: false, error: { code: 'KEYCHAIN_UNAVAILABLE' } });
    const created = await dispatch('account:create', { username: 'alice', relayUrl: 'https://relay.example', passphrase: 'correct horse battery staple' });
    expect(created.ok).toBe(true);
    expect(engine.getState()).toMatchObject({ state: 'ready', keyProtection: 'passphrase' });
    expect((await dispatch('account:logout', {})).ok).toBe(true);
    await engine.close();
  });
});
