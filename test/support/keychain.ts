/**
 * An OS keychain in memory (the engine's KeychainBackend): secrets keyed `service|account`, copied in
 * and out so a caller's wipe never reaches the store. `available = false` makes every read and write
 * throw as a missing Secret Service does, for the passphrase path. The real Secret Service is
 * exercised by *.keychain.test.ts under scripts/with-keyring.sh.
 */
import type { KeychainBackend } from '../../electron/engine/keys/keychain.js';

export class MemoryKeychain implements KeychainBackend {
  readonly secrets = new Map<string, Uint8Array>();
  available = true;

  #check(): void {
    if (!this.available) throw new Error('org.freedesktop.DBus.Error.ServiceUnknown');
  }

  async getSecret(service: string, account: string): Promise<Uint8Array | null> {
    this.#check();
    return this.secrets.get(`${service}|${account}`)?.slice() ?? null;
  }

  async setSecret(service: string, account: string, secret: Uint8Array): Promise<void> {
    this.#check();
    this.secrets.set(`${service}|${account}`, secret.slice());
  }

  async deleteSecret(service: string, account: string): Promise<boolean> {
    this.#check();
    return this.secrets.delete(`${service}|${account}`);
  }
}
