/**
 * Serialisation of relay→client frames (shapes in shared/wire/frames.ts). Envelope frames are built
 * once per envelope and shared by every connection of the device.
 */
import { toBase64Url } from '../../shared/crypto/bytes.js';
import type { ErrorObject } from '../../shared/wire/errors.js';
import type { StoredEnvelope } from '../store/store.js';

const envelopeFrames = new WeakMap<StoredEnvelope, string>();
/**
 * The base64url text a content array was decoded from, when it came in a frame of this process: a
 * live delivery reuses it instead of encoding the bytes again (the text is canonical, so equal).
 */
const contentTexts = new WeakMap<Uint8Array, string>();

export function rememberContentText(content: Uint8Array, text: string): void {
  contentTexts.set(content, text);
}

export function envelopeFrame(envelope: StoredEnvelope): string {
  let frame = envelopeFrames.get(envelope);
  if (frame === undefined) {
    // Built by hand: every piece is an integer or base64url, none needs JSON escaping.
    const source =
      envelope.sourceAccount === null
        ? 'null'
        : `{"accountId":"${toBase64Url(envelope.sourceAccount)}","deviceId":${envelope.sourceDevice}}`;
    const content = contentTexts.get(envelope.content) ?? toBase64Url(envelope.content);
    frame = `{"type":"envelope","seq":${envelope.seq},"source":${source},"serverTimestamp":${envelope.serverTimestamp},"content":"${content}"}`;
    envelopeFrames.set(envelope, frame);
  }
  return frame;
}

/** `ref` is a validated request id ([A-Za-z0-9_-]{1,64}): safe in JSON as it is. */
export function sentFrame(ref: string, serverTimestamp: number): string {
  return `{"type":"sent","ref":"${ref}","serverTimestamp":${serverTimestamp}}`;
}

export function ackedFrame(ref: string): string {
  return `{"type":"acked","ref":"${ref}"}`;
}

export function errorFrame(error: ErrorObject, ref: string | undefined): string {
  return JSON.stringify(ref === undefined ? { type: 'error', ...error } : { type: 'error', ...error, ref });
}
