/**
 * Verifying a contact (DESIGN §3.2): the safety number as 60 digits (12 groups) and as a QR payload,
 * per-device fingerprints, and marking it verified — which also settles a pending key change
 * (ADR 0003). Accepting a key change without verifying is here too (the chat's banner).
 */
import type { Bridge, ContactView, SafetyNumberView } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { settle } from './call.js';

export class VerificationState {
  readonly #bridge: Bridge;
  readonly contactId: string;
  #number = $state.raw<SafetyNumberView | null>(null);
  #error = $state<string | null>(null);
  #busy = $state(false);

  constructor(bridge: Bridge, contactId: string) {
    this.#bridge = bridge;
    this.contactId = contactId;
  }

  get safetyNumber(): SafetyNumberView | null {
    return this.#number;
  }
  get error(): string | null {
    return this.#error;
  }
  get busy(): boolean {
    return this.#busy;
  }

  async load(): Promise<void> {
    const result = await settle(this.#bridge.getSafetyNumber({ contactId: this.contactId }));
    if (result.ok) this.#number = result.value;
    else this.#error = describeError(result.error);
  }

  async setVerified(verified: boolean): Promise<ContactView | null> {
    this.#busy = true;
    const result = await settle(this.#bridge.markVerified({ contactId: this.contactId, verified }));
    this.#busy = false;
    if (!result.ok) {
      this.#error = describeError(result.error);
      return null;
    }
    if (this.#number) this.#number = { ...this.#number, verified: result.value.verified };
    return result.value;
  }
}

/** Accepts a contact's new safety number without verifying it (unblocks the composer). */
export async function acceptKeyChange(bridge: Bridge, contactId: string): Promise<string | null> {
  const result = await settle(bridge.acceptKeyChange({ contactId }));
  return result.ok ? null : describeError(result.error);
}
