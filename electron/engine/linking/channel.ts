/**
 * The engine's side of a provisioning channel (docs/protocol.md §20.8, ADR 0024/0025): waiting for
 * the other device's next frame (the relay has no push for channels, so both sides poll its inbox
 * every `pollMs` until the channel's expiry), the abort frame a side posts when it gives up, and the
 * mapping of protocol and relay failures onto the API's LINK_* codes. Does not own the frames'
 * contents (shared/protocol/linking.ts) or the two flows (new-device.ts, primary.ts).
 */
import type { ProvisioningInboxResponse } from '../../../shared/wire/provisioning.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { LINK_VERSION } from '../../../shared/protocol/constants.js';
import { EngineError } from '../errors.js';
import { RelayClientError } from '../relay/errors.js';

/** How often a side asks the relay for the other side's next frame. */
export const LINK_POLL_MS = 300;

/**
 * Engine-level abort (ADR 0025): version ‖ 0xFF ‖ u8 reason, posted by the side that gives up so
 * the other side stops at once and says why. Not authenticated — the relay could forge one, but the
 * relay can always drop the channel; an abort only ends a link sooner and never signs anything.
 */
const ABORT_TYPE = 0xff;
const ABORT_REASONS = { LINK_EXPIRED: 0, LINK_TAMPERED: 1, LINK_WRONG_CODE: 2 } as const;
type AbortReason = keyof typeof ABORT_REASONS;

export function linkAbortFrame(reason: AbortReason): Uint8Array {
  return Uint8Array.of(LINK_VERSION, ABORT_TYPE, ABORT_REASONS[reason]);
}

/** The abort frame a failure sends (what the other side will show). */
export function abortFrameFor(failure: unknown): Uint8Array {
  const code = failure instanceof EngineError ? failure.code : null;
  return linkAbortFrame(code === 'LINK_TAMPERED' || code === 'LINK_WRONG_CODE' ? code : 'LINK_EXPIRED');
}

/** The failure an abort frame reports on the receiving side; null when the frame is not an abort. */
function abortFailure(frame: Uint8Array): EngineError | null {
  if (frame.length !== 3 || frame[0] !== LINK_VERSION || frame[1] !== ABORT_TYPE) return null;
  switch (frame[2]) {
    case ABORT_REASONS.LINK_TAMPERED:
      return new EngineError('LINK_TAMPERED', 'the other device could not confirm this one: the link was changed on the way');
    case ABORT_REASONS.LINK_WRONG_CODE:
      return new EngineError('LINK_WRONG_CODE', 'the code typed on the other device did not match');
    default:
      return new EngineError('LINK_EXPIRED', 'the other device stopped the link');
  }
}

/** The other side posted an abort: this side stops with the reason, and sends no abort back. */
export class LinkAborted extends Error {
  override readonly name = 'LinkAborted';
  constructor(readonly failure: EngineError) {
    super(failure.message);
  }
}

/** Thrown by waits when the link was cancelled on this side. */
export class LinkCancelled extends Error {
  override readonly name = 'LinkCancelled';
}

/**
 * The other side's next frame after `after`: polls until one arrives, the channel expires
 * (LINK_EXPIRED) or `cancelled()` says stop. An abort frame is LINK_EXPIRED ("the other device
 * stopped"). Returns the frame and its seq.
 */
export async function nextFrame(
  inbox: (after: number) => Promise<ProvisioningInboxResponse>,
  after: number,
  o: { readonly pollMs: number; readonly cancelled: () => boolean },
): Promise<{ seq: number; body: Uint8Array }> {
  for (;;) {
    if (o.cancelled()) throw new LinkCancelled('link cancelled');
    const r = await inbox(after);
    const m = r.messages.find((x) => x.seq > after);
    if (m) {
      const aborted = abortFailure(m.body);
      if (aborted) throw new LinkAborted(aborted);
      return m;
    }
    await new Promise((resolve) => setTimeout(resolve, o.pollMs).unref?.());
  }
}

/**
 * A failure as the API reports it. A PAKE failure is a wrong code when the person typed one; with
 * a scanned or pasted offer (a 128-bit secret) it can only be a changed frame, hence LINK_TAMPERED.
 */
export function linkFailure(e: unknown, method: 'offer' | 'code'): unknown {
  if (e instanceof LinkAborted) return e.failure;
  if (e instanceof EngineError || e instanceof LinkCancelled) return e;
  if (isProtocolError(e)) {
    switch (e.code) {
      case 'LINK_AUTH_FAILED':
        return method === 'code'
          ? new EngineError('LINK_WRONG_CODE', 'the code does not match the one on the new device')
          : new EngineError('LINK_TAMPERED', 'the devices could not confirm each other: the link was changed on the way');
      case 'LINK_CONFIRMATION_FAILED':
      case 'LINK_KEY_MISMATCH':
      case 'LINK_REPLAYED':
      case 'UNTRUSTED_IDENTITY':
        return new EngineError('LINK_TAMPERED', 'the devices did not confirm the same keys: the link was changed on the way');
      default:
        return new EngineError('LINK_TAMPERED', 'the other device sent something that is not a valid link step');
    }
  }
  if (e instanceof RelayClientError) {
    switch (e.code) {
      case 'CHANNEL_EXPIRED':
        return new EngineError('LINK_EXPIRED', 'the link expired; start again on the new device');
      case 'CHANNEL_FULL':
        return new EngineError('LINK_EXPIRED', 'that link was already used; the new device shows a new one after it starts again');
      case 'NOT_FOUND':
        return new EngineError('LINK_EXPIRED', 'no link with that code is waiting; check the code or start again on the new device');
      case 'LINK_ATTEMPTS_EXCEEDED':
        return new EngineError('LINK_ATTEMPTS_EXCEEDED', 'too many device links were started lately; try again later');
      case 'TOO_MANY_DEVICES':
        return new EngineError('TOO_MANY_DEVICES', 'this account already has 6 devices; remove one in Linked devices first');
      default:
        return e;
    }
  }
  return e;
}
