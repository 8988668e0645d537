/**
 * Attachments through the contract, for the engine integration suites: hand a file over and send
 * it (attachments:stage / write / send, in pieces of the contract's largest size), and open and read
 * one back whole (attachments:open / read). Nothing else: waiting for messages is the suites' own.
 */
import { MAX_ATTACHMENT_CHUNK_BYTES } from '../../shared/api/primitives.js';
import type { MessageView } from '../../shared/api/view-models.js';
import type { TestEngine } from './engines.js';

export async function sendFile(
  from: TestEngine,
  conversationId: string,
  name: string,
  bytes: Uint8Array,
  options: { caption?: string; asFile?: boolean } = {},
): Promise<MessageView> {
  const { stageId } = await from.call('attachments:stage', { name, size: bytes.length });
  for (let offset = 0; offset < bytes.length; offset += MAX_ATTACHMENT_CHUNK_BYTES) {
    const data = Buffer.from(bytes.subarray(offset, offset + MAX_ATTACHMENT_CHUNK_BYTES)).toString('base64');
    await from.call('attachments:write', { stageId, offset, data });
  }
  return from.call('attachments:send', { conversationId, stageId, caption: options.caption ?? '', asFile: options.asFile ?? false });
}

/** Opens (downloads, verifies, decrypts) and reads an attachment whole. */
export async function readAll(engine: TestEngine, messageId: string): Promise<{ bytes: Buffer; mediaType: string; fileName: string; risky: boolean }> {
  const opened = await engine.call('attachments:open', { messageId });
  const parts: Buffer[] = [];
  for (let offset = 0; ; ) {
    const { data, eof } = await engine.call('attachments:read', { messageId, offset, length: MAX_ATTACHMENT_CHUNK_BYTES });
    const part = Buffer.from(data, 'base64');
    parts.push(part);
    offset += part.length;
    if (eof) break;
  }
  return { bytes: Buffer.concat(parts), mediaType: opened.mediaType, fileName: opened.fileName, risky: opened.risky };
}
