/**
 * Verifying a contact (DESIGN §3.2): the safety number as 60 digits (12 groups) and as a QR payload,
 * per-device fingerprints, scanning the contact's code with the camera (issue 12: the camera's text
 * is compared with our own payload, format/safety-qr.ts), and marking it verified — which also
 * settles a pending key change (ADR 0003). Accepting a key change without verifying is here too
 * (the chat's banner).
 */
import type { Bridge, ContactView, SafetyNumberView } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { compareSafetyQr, type SafetyScan } from '../format/safety-qr.js';
import { settle } from './call.js';

export class VerificationState {
  readonly #bridge: Bridge;
  readonly contactId: string;
  #number = $state.raw<SafetyNumberView | null>(null);
  #error = $state<string | null>(null);
  #busy = $state(false);
  #scanning = $state(false);
  #scan = $state<SafetyScan | null>(null);

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

  /** The camera is open, looking for the contact's code. */
  get scanning(): boolean {
    return this.#scanning;
  }
  /** What the last scan found, or null before any. */
  get scan(): SafetyScan | null {
    return this.#scan;
  }

  startScan(): void {
    this.#scan = null;
    this.#scanning = true;
  }

  cancelScan(): void {
    this.#scanning = false;
  }

  /** The camera read a QR code's text: compare it with our own payload. */
  scanned(text: string): void {
    this.#scanning = false;
    if (this.#number === null) return;
    this.#scan = compareSafetyQr(this.#number.qrPayload, text);
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
