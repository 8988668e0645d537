/**
 * The OS-keychain key provider (DESIGN §4): a random 32-byte database key stored as a secret under
 * service `parley`, account `<profile>/db`, via @napi-rs/keyring (the maintained keytar
 * successor). On Linux the entry is pinned to the Secret Service: the library would otherwise fall
 * back to the kernel keyring, which forgets everything at reboot — and with it the only copy of the
 * database key. Any platform failure (no D-Bus session, no Secret Service, a locked collection)
 * becomes KEYCHAIN_UNAVAILABLE, so the user is offered a passphrase instead; the platform's own
 * message is not passed on. The backend is injectable; the OS one is tested under a real Secret
 * Service (scripts/with-keyring.sh).
 */
import { AsyncEntry } from '@napi-rs/keyring';
import type { Rng } from '../../../shared/crypto/random.js';
import { DATABASE_KEY_LENGTH } from '../db/database.js';
import { KeyError } from './errors.js';

export const KEYCHAIN_SERVICE = 'parley';

/** Raw access to a secret store; every method may throw when the store is unreachable. */
export type KeychainBackend = {
  getSecret(service: string, account: string): Promise<Uint8Array | null>;
  setSecret(service: string, account: string, secret: Uint8Array): Promise<void>;
  /** true when a secret was deleted, false when there was none. */
  deleteSecret(service: string, account: string): Promise<boolean>;
};

function entry(service: string, account: string): AsyncEntry {
  return new AsyncEntry(service, account, { linux: { store: 'secret-service' } });
}

export const osKeychainBackend: KeychainBackend = {
  async getSecret(service, account) {
    const secret = await entry(service, account).getSecret();
    if (secret === null) return null;
    const bytes = Uint8Array.from(secret);
    secret.fill(0);
    return bytes;
  },
  async setSecret(service, account, secret) {
    await entry(service, account).setSecret(secret);
  },
  async deleteSecret(service, account) {
    return entry(service, account).deleteCredential();
  },
};

export class KeychainKeyStore {
  readonly kind = 'keychain' as const;

  constructor(
    private readonly backend: KeychainBackend,
    /** `<profile>/db` */
    readonly account: string,
    private readonly rng: Rng,
    readonly service: string = KEYCHAIN_SERVICE,
  ) {}

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch {
      throw new KeyError('KEYCHAIN_UNAVAILABLE', 'the OS keychain is not available');
    }
  }

  /** Whether the keychain answers at all (a read of this profile's entry succeeds). */
  async isAvailable(): Promise<boolean> {
    try {
      const secret = await this.backend.getSecret(this.service, this.account);
      secret?.fill(0);
      return true;
    } catch {
      return false;
    }
  }

  async exists(): Promise<boolean> {
    const secret = await this.#call(() => this.backend.getSecret(this.service, this.account));
    secret?.fill(0);
    return secret !== null;
  }

  /** Creates a fresh random database key and stores it (for a new database). */
  async create(): Promise<Uint8Array> {
    const key = this.rng(DATABASE_KEY_LENGTH);
    await this.store(key);
    return key;
  }

  /** Stores a given key (moving an existing database from passphrase protection to the keychain). */
  async store(key: Uint8Array): Promise<void> {
    if (key.length !== DATABASE_KEY_LENGTH) throw new RangeError('a database key is 32 bytes');
    await this.#call(() => this.backend.setSecret(this.service, this.account, key));
  }

  async load(): Promise<Uint8Array> {
    const secret = await this.#call(() => this.backend.getSecret(this.service, this.account));
    if (secret === null) throw new KeyError('KEY_MISSING', 'the OS keychain holds no key for this profile');
    if (secret.length !== DATABASE_KEY_LENGTH) {
      secret.fill(0);
      throw new KeyError('KEY_MISSING', 'the OS keychain entry for this profile is not a database key');
    }
    return secret;
  }

  async destroy(): Promise<void> {
    await this.#call(() => this.backend.deleteSecret(this.service, this.account));
  }
}
