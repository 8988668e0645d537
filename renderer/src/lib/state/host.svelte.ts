/**
 * The connection to the host that carries the contract: the Electron preload's `window.parley`, or
 * the browser host's WebSocket (lib/bridge/socket-bridge.ts). Components read `status`; only state
 * classes like this one touch the bridge (DESIGN §6).
 */
import type { Bridge } from '../../../../shared/api/types.js';
import { connectSocketBridge, readAccessKey, WS_PATH } from '../bridge/socket-bridge.js';

export type HostStatus =
  /** Handshake in progress. */
  | 'connecting'
  | 'connected'
  /** The browser host address was opened without its access key. */
  | 'missing-key'
  /** The host refused the key (a restarted host has a new one). */
  | 'unauthorized'
  /** The host is not running, or stopped. */
  | 'unreachable';

export type HostKind = 'electron' | 'browser';

declare global {
  interface Window {
    /** Set by the Electron preload only. */
    readonly parley?: Bridge;
  }
}

export class HostConnection {
  #status = $state<HostStatus>('connecting');
  #kind = $state<HostKind | null>(null);
  #bridge: Bridge | null = null;
  #lost: (() => void)[] = [];

  get status(): HostStatus {
    return this.#status;
  }

  get kind(): HostKind | null {
    return this.#kind;
  }

  /** The bridge once connected (for the other state classes), else null. */
  get bridge(): Bridge | null {
    return this.#bridge;
  }

  /** Runs `listener` once the connection to the host is lost. */
  onLost(listener: () => void): void {
    this.#lost.push(listener);
  }

  async connect(win: Window = window): Promise<void> {
    if (win.parley !== undefined) {
      this.#bridge = win.parley;
      this.#kind = 'electron';
      this.#status = 'connected';
      return;
    }
    this.#kind = 'browser';
    const secret = readAccessKey(win.location, win.history, win.sessionStorage);
    if (secret === null) {
      this.#status = 'missing-key';
      return;
    }
    this.#status = 'connecting';
    const result = await connectSocketBridge({ url: `ws://${win.location.host}${WS_PATH}`, secret });
    if (!result.ok) {
      this.#status = result.reason;
      return;
    }
    // The host builds the same object as the preload from shared/api's table: one function per
    // channel method, plus `on`. The socket bridge itself is untyped per channel.
    this.#bridge = result.connection.bridge as unknown as Bridge;
    this.#status = 'connected';
    void result.connection.closed.then(() => {
      this.#bridge = null;
      this.#status = 'unreachable';
      for (const listener of this.#lost) listener();
    });
  }
}
