/**
 * AttachmentsState with a scripted bridge: a file is handed to the engine in pieces of at most
 * 1 MiB at consecutive offsets whose bytes are the file's, a refusal at staging (a file too large)
 * sends nothing and says why, and an opened attachment is read back into one Blob of its sniffed type.
 */
import { describe, expect, it } from 'vitest';
import type { ApiResult, Bridge } from '../../../../shared/api/types.js';
import { AttachmentsState, CHUNK_BYTES, formatBytes } from './attachments.svelte.js';

function bridgeWith(handlers: Partial<Record<keyof Bridge, (request: never) => ApiResult<unknown>>>): { bridge: Bridge; calls: { method: string; request: unknown }[] } {
  const calls: { method: string; request: unknown }[] = [];
  const bridge = new Proxy({} as Bridge, {
    get: (_, method: string) => (request: unknown) => {
      calls.push({ method, request });
      const handler = handlers[method as keyof Bridge] as ((r: unknown) => ApiResult<unknown>) | undefined;
      return Promise.resolve(handler ? handler(request) : { ok: false, error: { code: 'INTERNAL', message: 'unexpected' } });
    },
  });
  return { bridge, calls };
}

describe('AttachmentsState', () => {
  it('hands a file over in pieces of at most 1 MiB at consecutive offsets, then sends it', async () => {
    const bytes = Uint8Array.from({ length: 2 * CHUNK_BYTES + 12_345 }, (_, i) => (i * 7) % 251);
    const received: Uint8Array[] = [];
    const { bridge, calls } = bridgeWith({
      stageAttachment: () => ({ ok: true, value: { stageId: 'ab'.repeat(16) } }),
      writeAttachment: (r: { offset: number; data: string }) => {
        received.push(Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0)));
        return { ok: true, value: { received: r.offset } };
      },
      sendAttachment: () => ({ ok: true, value: { id: '9' } }),
    });
    const state = new AttachmentsState(bridge);
    const result = await state.send('1', new File([bytes], 'report.pdf'), 'hi', false);
    expect(result.ok).toBe(true);
    expect(calls.map((c) => c.method)).toEqual(['stageAttachment', 'writeAttachment', 'writeAttachment', 'writeAttachment', 'sendAttachment']);
    expect(calls[0]!.request).toEqual({ name: 'report.pdf', size: bytes.length });
    expect(calls.slice(1, 4).map((c) => (c.request as { offset: number }).offset)).toEqual([0, CHUNK_BYTES, 2 * CHUNK_BYTES]);
    const joined = new Uint8Array(received.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of received) {
      expect(p.length).toBeLessThanOrEqual(CHUNK_BYTES);
      joined.set(p, o);
      o += p.length;
    }
    expect(joined).toEqual(bytes);
    expect(calls[4]!.request).toEqual({ conversationId: '1', stageId: 'ab'.repeat(16), caption: 'hi', asFile: false });
  });

  it('a refusal at staging sends nothing and says why', async () => {
    const { bridge, calls } = bridgeWith({ stageAttachment: () => ({ ok: false, error: { code: 'ATTACHMENT_TOO_LARGE', message: 'x' } }) });
    const result = await new AttachmentsState(bridge).send('1', new File([new Uint8Array(10)], 'big.iso'), '', false);
    expect(result).toEqual({ ok: false, error: 'That file is larger than the relay accepts.' });
    expect(calls.map((c) => c.method)).toEqual(['stageAttachment']);
  });

  it('reads an opened attachment back into one Blob of its sniffed type', async () => {
    const parts = ['aGVsbG8g', 'd29ybGQ='];
    const { bridge } = bridgeWith({
      openAttachment: () => ({ ok: true, value: { size: 11, mediaType: 'text/plain', fileName: 'a.txt', risky: false } }),
      readAttachment: (r: { offset: number }) => ({ ok: true, value: { data: parts[r.offset === 0 ? 0 : 1]!, eof: r.offset !== 0 } }),
    });
    const got = await new AttachmentsState(bridge).fetch('5');
    expect(got.ok).toBe(true);
    if (!got.ok) return;
    expect(got.value.blob.type).toBe('text/plain');
    expect(await got.value.blob.text()).toBe('hello world');
  });

  it('formats sizes', () => {
    expect([0, 999, 1000, 1_500_000, 3 * 1024 ** 3].map(formatBytes)).toEqual(['0 B', '999 B', '1.0 KB', '1.5 MB', '3.2 GB']);
  });
});
