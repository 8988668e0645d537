/**
 * The engine's lifecycle as the renderer sees it (ADR 0003): needs-account → ready ⇄ locked, and
 * the requests that move it — create an account, unlock, lock, set or remove the passphrase, log
 * out. `engine:state` events (the idle app lock, logout) arrive through `apply`; while a
 * passphrase change re-encrypts the database, `account:rekeyProgress` events through
 * `onRekeyProgress` (shown by Settings until the change answers).
 */
import type { ApiResult, Bridge, EngineState } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { settle } from './call.js';

export type Phase = 'loading' | EngineState['state'];

export class SessionState {
  readonly #bridge: Bridge;
  #engine = $state.raw<EngineState | null>(null);
  #busy = $state(false);
  #error = $state<string | null>(null);
  #rekey = $state.raw<{ readonly done: number; readonly total: number } | null>(null);
  // Subscribers, not rendered state.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  readonly #listeners = new Set<(state: EngineState) => void>();

  constructor(bridge: Bridge) {
    this.#bridge = bridge;
  }

  get engine(): EngineState | null {
    return this.#engine;
  }

  get phase(): Phase {
    return this.#engine?.state ?? 'loading';
  }

  get busy(): boolean {
    return this.#busy;
  }

  /** While a passphrase change re-encrypts the database: pages done of the total; otherwise null. */
  get rekeyProgress(): { readonly done: number; readonly total: number } | null {
    return this.#rekey;
  }

  /** An `account:rekeyProgress` event (only while a passphrase change is in flight). */
  onRekeyProgress(progress: { readonly done: number; readonly total: number }): void {
    if (this.#busy) this.#rekey = progress;
  }

  /** The last failure, worded for the person; cleared by the next request. */
  get error(): string | null {
    return this.#error;
  }

  clearError(): void {
    this.#error = null;
  }

  /** Called on every state change (from a response or an `engine:state` event). */
  onChange(listener: (state: EngineState) => void): void {
    this.#listeners.add(listener);
  }

  apply(state: EngineState): void {
    const before = this.#engine;
    this.#engine = state;
    if (before?.state !== state.state || before.account?.accountId !== state.account?.accountId) {
      for (const listener of this.#listeners) listener(state);
    }
  }

  async #run<T>(request: () => Promise<ApiResult<T>>): Promise<T | null> {
    this.#busy = true;
    this.#error = null;
    try {
      const result = await settle(request());
      if (!result.ok) {
        this.#error = describeError(result.error);
        return null;
      }
      return result.value;
    } finally {
      this.#busy = false;
    }
  }

  async refresh(): Promise<void> {
    const state = await this.#run(() => this.#bridge.getState({}));
    if (state) this.apply(state);
  }

  async createAccount(input: { username: string; displayName?: string; relayUrl: string; passphrase?: string }): Promise<boolean> {
    const account = await this.#run(() =>
      this.#bridge.createAccount({
        username: input.username,
        relayUrl: input.relayUrl,
        ...(input.displayName ? { displayName: input.displayName } : {}),
        ...(input.passphrase ? { passphrase: input.passphrase } : {}),
      }),
    );
    if (account === null) {
      // Without a keychain the engine says so; the form then asks for a passphrase.
      if (this.#engine && this.#error === describeError({ code: 'KEYCHAIN_UNAVAILABLE', message: '' })) {
        this.#engine = { ...this.#engine, keychainAvailable: false };
      }
      return false;
    }
    await this.refresh();
    return true;
  }

  async unlock(passphrase: string): Promise<boolean> {
    const state = await this.#run(() => this.#bridge.unlock({ passphrase }));
    if (state) this.apply(state);
    return state?.state === 'ready';
  }

  async lock(): Promise<boolean> {
    const state = await this.#run(() => this.#bridge.lock({}));
    if (state) this.apply(state);
    return state !== null;
  }

  async setPassphrase(passphrase: string | null, currentPassphrase?: string): Promise<boolean> {
    this.#rekey = null;
    try {
      const state = await this.#run(() =>
        this.#bridge.setPassphrase({ passphrase, ...(currentPassphrase ? { currentPassphrase } : {}) }),
      );
      if (state) this.apply(state);
      return state !== null;
    } finally {
      this.#rekey = null;
    }
  }

  /** Deletes the account at the relay (primary device), then this device's data. */
  async deleteAccount(): Promise<boolean> {
    const state = await this.#run(() => this.#bridge.deleteAccount({}));
    if (state) this.apply(state);
    return state !== null;
  }

  async logout(): Promise<boolean> {
    const state = await this.#run(() => this.#bridge.logout({}));
    if (state) this.apply(state);
    return state !== null;
  }
}
