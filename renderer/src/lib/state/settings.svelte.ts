/** The account's settings (read receipts, typing indicators, presence, notifications, app lock). */
import type { Bridge, Settings } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { settle } from './call.js';

export class SettingsState {
  readonly #bridge: Bridge;
  #value = $state.raw<Settings | null>(null);
  #error = $state<string | null>(null);
  #saving = $state(false);

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

  async load(): Promise<void> {
    const result = await settle(this.#bridge.getSettings({}));
    if (result.ok) this.#value = result.value;
    else this.#error = describeError(result.error);
  }

  clear(): void {
    this.#value = null;
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
