/**
 * Runs under scripts/with-keyring.sh: a private D-Bus session with an unlocked gnome-keyring, the
 * Secret Service the OS keychain backend talks to.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findCredentials } from '@napi-rs/keyring';
import { afterEach, describe, expect, it } from 'vitest';
import { toHex } from '../../../shared/crypto/bytes.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { createDispatcher } from '../dispatch.js';
import { Engine } from '../engine.js';
import { resolveProfile } from '../profile.js';
import { ARGON2_BOUNDS } from './argon2.js';
import { isKeyError } from './errors.js';
import { KEYCHAIN_SERVICE, KeychainKeyStore, osKeychainBackend } from './keychain.js';
import { PassphraseKeyFile } from './passphrase-key-file.js';

const FAST = { memoryKiB: ARGON2_BOUNDS.memoryKiB.min, iterations: 3, parallelism: 1 };
const bases: string[] = [];
const engines: Engine[] = [];
afterEach(async () => {
  for (const e of engines.splice(0)) await e.close();
  for (const b of bases.splice(0)) rmSync(b, { recursive: true, force: true });
});

/** Unique per run, so reruns against a persistent keyring never collide. */
const profileName = (label: string) => `${label}-${randomBytes(4).toString('hex')}`;
const accountsInKeychain = () => findCredentials(KEYCHAIN_SERVICE).map((c) => c.account);

async function startEngine(base: string, name: string): Promise<Engine> {
  const profile = resolveProfile(base, name);
  const engine = await Engine.start({
    profile,
    keychain: new KeychainKeyStore(osKeychainBackend, profile.keychainAccount, systemRng),
    passphrase: new PassphraseKeyFile(profile.keyFilePath, systemRng, FAST),
    // The keychain is under test, not the relay (test/integration/engine has both).
    messaging: { localOnly: true },
  });
  engines.push(engine);
  return engine;
}

describe('OS keychain (real Secret Service)', () => {
  it('stores a random 32-byte key under service parley, account <profile>/db, and deletes it', async () => {
    const name = profileName('kc');
    const store = new KeychainKeyStore(osKeychainBackend, `${name}/db`, systemRng);
    expect(await store.isAvailable()).toBe(true);
    expect(await store.exists()).toBe(false);
    await expect(store.load()).rejects.toSatisfy((e) => isKeyError(e, 'KEY_MISSING'));
    const key = await store.create();
    expect(key).toHaveLength(32);
    expect(await store.load()).toEqual(key);
    expect(accountsInKeychain()).toContain(`${name}/db`);
    await store.destroy();
    expect(await store.exists()).toBe(false);
    expect(accountsInKeychain()).not.toContain(`${name}/db`);
  });

  it('profiles are separate namespaces', async () => {
    const a = new KeychainKeyStore(osKeychainBackend, `${profileName('a')}/db`, systemRng);
    const b = new KeychainKeyStore(osKeychainBackend, `${profileName('b')}/db`, systemRng);
    const ka = await a.create();
    const kb = await b.create();
    expect(ka).not.toEqual(kb);
    expect(await a.load()).toEqual(ka);
    await a.destroy();
    expect(await b.load()).toEqual(kb);
    await b.destroy();
  });

  it('an engine keeps its database key only in the keychain, reopens from it, and logout removes everything', async () => {
    const base = mkdtempSync(join(tmpdir(), 'parley-kc-engine-'));
    bases.push(base);
    const name = profileName('engine');
    const engine = await startEngine(base, name);
    expect(engine.getState()).toMatchObject({ state: 'needs-account', keychainAvailable: true });
    const dispatch = createDispatcher(engine.handlers());
    const created = await dispatch('account:create', { username: 'alice', relayUrl: 'https://relay.example' });
    expect(created.ok).toBe(true);
    expect(engine.getState().keyProtection).toBe('keychain');

    const key = await new KeychainKeyStore(osKeychainBackend, `${name}/db`, systemRng).load();
    const files = readdirSync(engine.profile.dataDir).map((f) => join(engine.profile.dataDir, f));
    expect(files.map((f) => f.split('/').pop()).sort()).toEqual(['parley.db', 'parley.db-shm', 'parley.db-wal']);
    for (const f of files) {
      const bytes = readFileSync(f);
      expect(bytes.includes(Buffer.from(key)), f).toBe(false);
      expect(bytes.includes(Buffer.from(toHex(key))), f).toBe(false);
    }

    await engine.close();
    const again = await startEngine(base, name);
    expect(again.getState()).toMatchObject({ state: 'ready', keyProtection: 'keychain' });

    const out = await createDispatcher(again.handlers())('account:logout', {});
    expect(out.ok).toBe(true);
    expect(existsSync(again.profile.dataDir)).toBe(false);
    expect(accountsInKeychain()).not.toContain(`${name}/db`);
  });

  it('moving to passphrase protection removes the keychain entry; moving back restores it', async () => {
    const base = mkdtempSync(join(tmpdir(), 'parley-kc-move-'));
    bases.push(base);
    const name = profileName('move');
    const engine = await startEngine(base, name);
    const dispatch = createDispatcher(engine.handlers());
    expect((await dispatch('account:create', { username: 'alice', relayUrl: 'https://relay.example' })).ok).toBe(true);
    expect((await dispatch('account:setPassphrase', { passphrase: 'correct horse battery staple' })).ok).toBe(true);
    expect(accountsInKeychain()).not.toContain(`${name}/db`);
    expect(
      (await dispatch('account:setPassphrase', { passphrase: null, currentPassphrase: 'correct horse battery staple' })).ok,
    ).toBe(true);
    expect(accountsInKeychain()).toContain(`${name}/db`);
    expect(existsSync(engine.profile.keyFilePath)).toBe(false);
    expect((await dispatch('account:logout', {})).ok).toBe(true);
    expect(accountsInKeychain()).not.toContain(`${name}/db`);
  });
});
