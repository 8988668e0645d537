/**
 * The verifier of a transcript (docs/deniability.md): Parley's own receive path. A transcript's
 * envelopes are handed, in order, to the engine's inbound processor exactly as the relay client
 * hands it live envelopes — the sender must be a device on the sender's verified list, every
 * message must decrypt under a session the device can build or holds, and the content must parse —
 * and what it accepted is what the conversation shows afterwards. There is no other check: that is
 * the point of the forging demonstration (a real and a forged transcript go through exactly this).
 */
import type { EngineEvent } from '../../../shared/api/types.js';
import type { Messaging } from '../messaging/messaging.js';
import { envelopesOf, type Transcript } from './forge.js';

export type VerifiedMessage = { readonly from: string; readonly text: string; readonly sentAt: number };

/**
 * Replays `t` into an open profile's (offline) messaging layer and returns the texts it accepted,
 * in order, and how many envelopes it refused (could not be decrypted).
 */
export async function verifyTranscript(messaging: Messaging, t: Transcript, events: readonly EngineEvent[]): Promise<{ accepted: VerifiedMessage[]; refused: number }> {
  const start = events.length;
  for (const envelope of envelopesOf(t)) messaging.inbound.enqueue({ envelope, live: false });
  await messaging.inbound.idle();
  const accepted: VerifiedMessage[] = [];
  let refused = 0;
  for (const e of events.slice(start)) {
    if (e.event === 'message:added') {
      const m = (e as Extract<EngineEvent, { event: 'message:added' }>).payload.message;
      if (m.kind === 'text' && m.direction === 'incoming' && m.senderId !== null) accepted.push({ from: m.senderId, text: m.body ?? '', sentAt: m.sentAt });
    }
    if (e.event === 'message:decryptFailed') refused++;
  }
  return { accepted, refused };
}
