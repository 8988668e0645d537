/**
 * History transfers as the renderer sees them (issue 14, ADR 0028): on the primary, the archive it
 * prepares and uploads for a newly linked device; on the new device, the archive it downloads and
 * imports. Follows `history:status` events (and history:list after a reload), cancels on request,
 * and lets the person dismiss one that ended. Holds only progress and words — never the archive.
 */
import type { Bridge, HistoryTransferView } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { settle } from './call.js';

export class HistoryState {
  readonly #bridge: Bridge;
  #transfers = $state.raw<readonly HistoryTransferView[]>([]);
  #dismissed = $state.raw<readonly string[]>([]);
  #error = $state<string | null>(null);

  constructor(bridge: Bridge) {
    this.#bridge = bridge;
  }

  /** Transfers to show, newest first (ended ones until dismissed). */
  get transfers(): readonly HistoryTransferView[] {
    return this.#transfers.filter((t) => !this.#dismissed.includes(t.transferId));
  }
  get error(): string | null {
    return this.#error;
  }

  async load(): Promise<void> {
    const r = await settle(this.#bridge.listHistoryTransfers({}));
    if (r.ok) this.#transfers = r.value;
  }

  /** A `history:status` event. */
  onStatus(view: HistoryTransferView): void {
    const others = this.#transfers.filter((t) => t.transferId !== view.transferId);
    this.#transfers = [view, ...others];
  }

  async cancel(transferId: string): Promise<void> {
    this.#error = null;
    const r = await settle(this.#bridge.cancelHistoryTransfer({ transferId }));
    if (!r.ok) this.#error = describeError(r.error);
  }

  dismiss(transferId: string): void {
    this.#dismissed = [...this.#dismissed, transferId];
  }

  clear(): void {
    this.#transfers = [];
    this.#dismissed = [];
    this.#error = null;
  }
}
