/**
 * Device linking as the renderer sees it (issue 14, ADR 0025). On a profile without an account:
 * "Link to an existing account" — start a link (the offer as QR code and text, the short code),
 * follow its `link:status` events, show the account's safety number, then accept with a device
 * name. On the primary: Settings → Linked devices — this account's devices and "Link a new device"
 * by a scanned or pasted offer or a typed short code. Errors are worded here (format/labels.ts) and
 * shown where they happened. The offer text is a single-use capability to link *this* new device;
 * it is shown because it must be (QR, copy), and dropped when the link ends.
 */
import type { Bridge, HistoryChoice, LinkStatusView, OwnDeviceView } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { settle } from './call.js';

export class LinkingState {
  readonly #bridge: Bridge;
  #status = $state.raw<LinkStatusView | null>(null);
  #busy = $state(false);
  #error = $state<string | null>(null);
  #devices = $state.raw<readonly OwnDeviceView[]>([]);
  #accountSafetyNumber = $state.raw<readonly string[] | null>(null);
  #linking = $state(false);
  #linkError = $state<string | null>(null);
  #linked = $state.raw<OwnDeviceView | null>(null);
  #tooManyDevices = $state(false);
  #manageError = $state<string | null>(null);
  #managing = $state(false);

  constructor(bridge: Bridge) {
    this.#bridge = bridge;
  }

  // ── New device ──

  /** The link in progress on this (new) device, or null. */
  get status(): LinkStatusView | null {
    return this.#status;
  }
  get busy(): boolean {
    return this.#busy;
  }
  /** The last failure on this device, worded; also the status's own error once it failed. */
  get error(): string | null {
    return this.#error ?? (this.#status?.error ? describeError(this.#status.error) : null);
  }

  /** A `link:status` event. */
  onStatus(status: LinkStatusView): void {
    if (this.#status !== null) this.#status = status;
  }

  async start(relayUrl: string): Promise<void> {
    this.#busy = true;
    this.#error = null;
    try {
      const r = await settle(this.#bridge.startLink({ relayUrl }));
      if (r.ok) this.#status = r.value;
      else this.#error = describeError(r.error);
    } finally {
      this.#busy = false;
    }
  }

  /** Accepts the link (the person compared the safety number); true once this device is ready. */
  async accept(deviceName: string, passphrase?: string): Promise<boolean> {
    this.#busy = true;
    this.#error = null;
    try {
      const r = await settle(this.#bridge.acceptLink({ deviceName, ...(passphrase ? { passphrase } : {}) }));
      if (!r.ok) {
        this.#error = describeError(r.error);
        return false;
      }
      this.#status = null;
      return true;
    } finally {
      this.#busy = false;
    }
  }

  async cancel(): Promise<void> {
    await settle(this.#bridge.cancelLink({}));
    this.#status = null;
    this.#error = null;
  }

  // ── Primary: Settings → Linked devices ──

  get devices(): readonly OwnDeviceView[] {
    return this.#devices;
  }
  get accountSafetyNumber(): readonly string[] | null {
    return this.#accountSafetyNumber;
  }
  get linking(): boolean {
    return this.#linking;
  }
  get linkError(): string | null {
    return this.#linkError;
  }
  /** The device the last "Link a new device" added, until the dialog closes. */
  get linked(): OwnDeviceView | null {
    return this.#linked;
  }

  async loadDevices(): Promise<void> {
    const [devices, safety] = await Promise.all([settle(this.#bridge.listDevices({})), settle(this.#bridge.accountSafetyNumber({}))]);
    if (devices.ok) this.#devices = devices.value;
    if (safety.ok) this.#accountSafetyNumber = safety.value.safetyNumber;
  }

  /** The last link failed because the account has 6 devices: the list offers to remove one. */
  get tooManyDevices(): boolean {
    return this.#tooManyDevices;
  }
  /** The last rename or removal failure, worded. */
  get manageError(): string | null {
    return this.#manageError;
  }
  get managing(): boolean {
    return this.#managing;
  }

  /** Renames a device (the primary any, another device itself); true when it worked. */
  renameDevice(deviceId: number, name: string): Promise<boolean> {
    return this.#manage(() => this.#bridge.renameDevice({ deviceId, name }));
  }

  /** Removes another device (primary only); the list is re-signed without it. */
  removeDevice(deviceId: number): Promise<boolean> {
    return this.#manage(() => this.#bridge.removeDevice({ deviceId }));
  }

  async #manage(call: () => ReturnType<Bridge['removeDevice']>): Promise<boolean> {
    this.#managing = true;
    this.#manageError = null;
    try {
      const r = await settle(call());
      if (!r.ok) {
        this.#manageError = describeError(r.error);
        return false;
      }
      this.#devices = r.value;
      this.#tooManyDevices = false;
      return true;
    } finally {
      this.#managing = false;
    }
  }

  /** Links the new device behind a scanned or pasted offer, or a typed code, with the history the person chose. */
  async linkDevice(input: ({ offerText: string } | { code: string }) & { history?: HistoryChoice }): Promise<boolean> {
    this.#linking = true;
    this.#linkError = null;
    this.#linked = null;
    this.#tooManyDevices = false;
    try {
      const r = await settle(this.#bridge.linkDevice(input));
      if (!r.ok) {
        this.#linkError = describeError(r.error);
        this.#tooManyDevices = r.error.code === 'TOO_MANY_DEVICES';
        return false;
      }
      this.#linked = r.value;
      await this.loadDevices();
      return true;
    } finally {
      this.#linking = false;
    }
  }

  resetLinkDialog(): void {
    this.#linkError = null;
    this.#linked = null;
    this.#tooManyDevices = false;
  }

  clear(): void {
    this.#devices = [];
    this.#manageError = null;
    this.#accountSafetyNumber = null;
    this.resetLinkDialog();
  }
}
