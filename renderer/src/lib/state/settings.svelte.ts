/**
 * The account's settings (read receipts, typing indicators, presence, notifications, app lock) and
 * its own profile (display name, about line).
 */
import type { Bridge, ContactView, OwnProfileView, Settings } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { settle } from './call.js';

export class SettingsState {
  readonly #bridge: Bridge;
  #value = $state.raw<Settings | null>(null);
  #error = $state<string | null>(null);
  #saving = $state(false);
  #profile = $state.raw<OwnProfileView | null>(null);
  #blocked = $state.raw<readonly ContactView[]>([]);

  constructor(bridge: Bridge) {
    this.#bridge = bridge;
  }

  get value(): Settings | null {
    return this.#value;
  }
  get error(): string | null {
    return this.#error;
  }
  get saving(): boolean {
    return this.#saving;
  }
  get profile(): OwnProfileView | null {
    return this.#profile;
  }
  /** The people this account blocked (Settings lists them with Unblock). */
  get blocked(): readonly ContactView[] {
    return this.#blocked;
  }

  async loadBlocked(): Promise<void> {
    const result = await settle(this.#bridge.listBlocked({}));
    if (result.ok) this.#blocked = result.value;
  }

  async load(): Promise<void> {
    const [result, profile] = await Promise.all([settle(this.#bridge.getSettings({})), settle(this.#bridge.getProfile({}))]);
    if (result.ok) this.#value = result.value;
    else this.#error = describeError(result.error);
    if (profile.ok) this.#profile = profile.value;
    await this.loadBlocked();
  }

  clear(): void {
    this.#value = null;
    this.#profile = null;
    this.#blocked = [];
  }

  /** Saves the display name and about line (uploaded encrypted; contacts that hold the key are told). */
  async setProfile(displayName: string, about: string): Promise<boolean> {
    this.#saving = true;
    this.#error = null;
    const result = await settle(this.#bridge.setProfile({ displayName, about }));
    this.#saving = false;
    if (!result.ok) {
      this.#error = describeError(result.error);
      return false;
    }
    this.#profile = result.value;
    return true;
  }

  async set(patch: Partial<Settings>): Promise<boolean> {
    this.#saving = true;
    this.#error = null;
    const result = await settle(this.#bridge.setSettings(patch));
    this.#saving = false;
    if (!result.ok) {
      this.#error = describeError(result.error);
      return false;
    }
    this.#value = result.value;
    return true;
  }
}
