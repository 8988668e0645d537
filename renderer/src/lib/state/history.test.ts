/**
 * HistoryState with a scripted bridge: status events replace a transfer's view (newest first), a
 * reload takes the engine's list, a failed cancel is worded, a dismissed transfer stays hidden.
 */
import { describe, expect, it } from 'vitest';
import type { ApiResult, Bridge, HistoryTransferView } from '../../../../shared/api/types.js';
import { HistoryState } from './history.svelte.js';

const VIEW: HistoryTransferView = { transferId: 'ab'.repeat(16), role: 'receiving', deviceId: 1, scope: 'recent', phase: 'preparing', bytes: 0, totalBytes: null, messages: 0, totalMessages: null, error: null };

function bridge(answers: Partial<Record<keyof Bridge, (req: unknown) => Promise<ApiResult<unknown>>>>): Bridge {
  return answers as unknown as Bridge;
}

describe('HistoryState', () => {
  it('follows status events per transfer, newest first, and hides a dismissed one', async () => {
    const other: HistoryTransferView = { ...VIEW, transferId: 'cd'.repeat(16), role: 'sending', deviceId: 2 };
    const history = new HistoryState(bridge({ listHistoryTransfers: async () => ({ ok: true, value: [other] }) }));
    await history.load();
    expect(history.transfers.map((t) => t.transferId)).toEqual([other.transferId]);
    history.onStatus(VIEW);
    history.onStatus({ ...VIEW, phase: 'importing', messages: 5, totalMessages: 10 });
    expect(history.transfers.map((t) => [t.transferId, t.phase])).toEqual([
      [VIEW.transferId, 'importing'],
      [other.transferId, 'preparing'],
    ]);
    history.dismiss(other.transferId);
    expect(history.transfers.map((t) => t.transferId)).toEqual([VIEW.transferId]);
  });

  it('a cancel the engine refuses is shown in words', async () => {
    const asked: unknown[] = [];
    const history = new HistoryState(
      bridge({
        cancelHistoryTransfer: async (req) => {
          asked.push(req);
          return { ok: false, error: { code: 'HISTORY_NOT_FOUND', message: 'x' } };
        },
      }),
    );
    await history.cancel(VIEW.transferId);
    expect(asked).toEqual([{ transferId: VIEW.transferId }]);
    expect(history.error).toBe('That history transfer has already ended.');
  });
});
