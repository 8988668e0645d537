/**
 * Sender-key distribution (DESIGN §3.5, docs/protocol.md §24.4, §24.6): how a sender device hands
 * its chain to another device, and how that device asks again for one it lost.
 *
 * - The distribution (content type 0x12, 121 bytes after the content header) travels only inside
 *   the pairwise session with each recipient device (§10): it names the group, the distribution id,
 *   the sender account and device, the iteration, the chain key at that iteration and the chain's
 *   signing key. `createSenderKeyDistribution` gives the chain at its **current** iteration; an
 *   earlier point (derived from the chain's first point) only when the caller says so — which the
 *   engine does only for a device that already received that point, so a newcomer never gets a
 *   key that opens what was sent before it joined.
 * - `processSenderKeyDistribution` accepts one only for the sender device the pairwise session
 *   authenticated and the group it is expected for (SENDER_KEY_MISMATCH otherwise: a member cannot
 *   pass another member's chain off as its own, nor move a chain into another group), never moves a
 *   held chain back to an earlier iteration or revives a dropped one (SENDER_KEY_ROLLBACK), never
 *   replaces a held chain's keys (SENDER_KEY_CONFLICT), and is idempotent for a repeat.
 * - The distribution request (content type 0x13, 36 bytes) names the group, the distribution id and
 *   the iteration of the first message that could not be read.
 *
 * Does not own: which devices get a distribution and when (the engine's fan-out and rotation
 * rules), the content header around these bodies (electron/engine/messaging/content.ts), storage.
 */
import { bytesEqual, constantTimeEqual } from '../crypto/bytes.js';
import { KeyType } from '../crypto/encoding.js';
import type { Clock } from '../crypto/random.js';
import { Reader, Writer } from './codec.js';
import { ACCOUNT_ID_LENGTH, DISTRIBUTION_ID_LENGTH, GROUP_ID_LENGTH, MAX_SENDER_KEY_JUMP } from './constants.js';
import { ProtocolError } from './errors.js';
import {
  addSenderKeyState,
  advanceSenderChain,
  MAX_SENDER_KEY_ITERATION,
  type SenderKeyRecord,
  type SenderKeyState,
} from './sender-key.js';

export type SenderKeyDistribution = {
  readonly groupId: Uint8Array;
  readonly distributionId: Uint8Array;
  readonly senderAccountId: Uint8Array;
  readonly senderDeviceId: number;
  /** The iteration `chainKey` belongs to: the first message the recipient can read. */
  readonly iteration: number;
  readonly chainKey: Uint8Array;
  /** Raw Ed25519 public key of the chain (Enc'd on the wire). */
  readonly signingPublicKey: Uint8Array;
};

/** groupId ‖ distributionId ‖ senderAccountId ‖ u32 senderDeviceId ‖ u32 iteration ‖ chainKey ‖ Enc(signing key). */
export const SENDER_KEY_DISTRIBUTION_LENGTH = GROUP_ID_LENGTH + DISTRIBUTION_ID_LENGTH + ACCOUNT_ID_LENGTH + 4 + 4 + 32 + 33;

export type SenderDevice = { readonly accountId: Uint8Array; readonly deviceId: number };

/**
 * The distribution of the own chain `state` for one recipient device. Without `fromIteration`, the
 * chain at its current iteration — what every device that has not received this chain before must
 * get. With it (≥ the chain's first point, ≤ the current iteration), that earlier point: only for a
 * device that was already given it (a re-request after a lost distribution).
 */
export function createSenderKeyDistribution(
  state: SenderKeyState,
  sender: SenderDevice,
  fromIteration?: number,
): SenderKeyDistribution {
  if (!state.signingPrivateKey || !state.origin) throw new Error('createSenderKeyDistribution: not an own sender-key state');
  let iteration = state.iteration;
  let chainKey = state.chainKey;
  if (fromIteration !== undefined && fromIteration !== state.iteration) {
    if (!Number.isInteger(fromIteration) || fromIteration < state.origin.iteration || fromIteration > state.iteration) {
      throw new Error('createSenderKeyDistribution: iteration outside the chain');
    }
    iteration = fromIteration;
    chainKey = advanceSenderChain(state.origin.chainKey, fromIteration - state.origin.iteration);
  }
  return {
    groupId: state.groupId,
    distributionId: state.distributionId,
    senderAccountId: sender.accountId,
    senderDeviceId: sender.deviceId,
    iteration,
    chainKey,
    signingPublicKey: state.signingPublicKey,
  };
}

export function encodeSenderKeyDistribution(d: SenderKeyDistribution): Uint8Array {
  if (d.groupId.length !== GROUP_ID_LENGTH || d.distributionId.length !== DISTRIBUTION_ID_LENGTH || d.senderAccountId.length !== ACCOUNT_ID_LENGTH || d.chainKey.length !== 32) {
    throw new ProtocolError('MALFORMED', 'sender-key distribution: wrong field length');
  }
  return new Writer()
    .bytes(d.groupId)
    .bytes(d.distributionId)
    .bytes(d.senderAccountId)
    .u32(d.senderDeviceId)
    .u32(d.iteration)
    .bytes(d.chainKey)
    .key(KeyType.Ed25519, d.signingPublicKey)
    .finish();
}

/** Strict: exactly 121 bytes, device id ≥ 1, iteration < 2³² − 1, a valid Ed25519 key (INVALID_KEY) → else MALFORMED. */
export function parseSenderKeyDistribution(bytes: Uint8Array): SenderKeyDistribution {
  const r = new Reader(bytes, 'sender-key distribution');
  const d: SenderKeyDistribution = {
    groupId: r.bytes(GROUP_ID_LENGTH),
    distributionId: r.bytes(DISTRIBUTION_ID_LENGTH),
    senderAccountId: r.bytes(ACCOUNT_ID_LENGTH),
    senderDeviceId: r.u32(),
    iteration: r.u32(),
    chainKey: r.bytes(32),
    signingPublicKey: r.key(KeyType.Ed25519),
  };
  r.end();
  if (d.senderDeviceId < 1) throw new ProtocolError('MALFORMED', 'sender-key distribution: device id 0');
  if (d.iteration >= MAX_SENDER_KEY_ITERATION) throw new ProtocolError('MALFORMED', 'sender-key distribution: iteration out of range');
  return d;
}

/** Where a distribution came from: the pairwise session's authenticated device, and the group the engine expects. */
export type DistributionContext = {
  readonly groupId: Uint8Array;
  readonly from: SenderDevice;
  readonly now: Clock;
};

/**
 * Accepts a distribution into the record of its sender device. In this order: it names the
 * context's group and sender device (SENDER_KEY_MISMATCH); its id is not a retired one
 * (SENDER_KEY_ROLLBACK); for a held id, the same signing key (SENDER_KEY_CONFLICT), not an earlier
 * iteration (SENDER_KEY_ROLLBACK), the same chain key at the same iteration or, for a later one, the
 * chain key the held chain reaches there (SENDER_KEY_CONFLICT; JUMP_TOO_LARGE past the limit) —
 * and then the held state stays as it is (`changed: false`, nothing lost). A new id becomes the
 * newest state (the oldest beyond MAX_SENDER_KEY_STATES is dropped and its id retired).
 */
export function processSenderKeyDistribution(
  record: SenderKeyRecord,
  d: SenderKeyDistribution,
  context: DistributionContext,
): { readonly record: SenderKeyRecord; readonly changed: boolean } {
  if (!bytesEqual(d.groupId, context.groupId)) throw new ProtocolError('SENDER_KEY_MISMATCH', 'distribution for another group');
  if (!bytesEqual(d.senderAccountId, context.from.accountId) || d.senderDeviceId !== context.from.deviceId) {
    throw new ProtocolError('SENDER_KEY_MISMATCH', 'distribution names another sender device than the session it came over');
  }
  if (record.retired.some((id) => bytesEqual(id, d.distributionId))) {
    throw new ProtocolError('SENDER_KEY_ROLLBACK', 'distribution of a chain already dropped');
  }
  const held = record.states.find((s) => bytesEqual(s.distributionId, d.distributionId) && bytesEqual(s.groupId, d.groupId));
  if (held) {
    if (!bytesEqual(held.signingPublicKey, d.signingPublicKey)) throw new ProtocolError('SENDER_KEY_CONFLICT', 'distribution with another signing key');
    if (d.iteration < held.iteration) throw new ProtocolError('SENDER_KEY_ROLLBACK', 'distribution at an earlier iteration than the chain held');
    const jump = d.iteration - held.iteration;
    if (jump > MAX_SENDER_KEY_JUMP) throw new ProtocolError('JUMP_TOO_LARGE', 'distribution too far ahead of the chain held');
    if (!constantTimeEqual(advanceSenderChain(held.chainKey, jump), d.chainKey)) {
      throw new ProtocolError('SENDER_KEY_CONFLICT', 'distribution with another chain key');
    }
    return { record, changed: false };
  }
  const state: SenderKeyState = {
    groupId: d.groupId.slice(),
    distributionId: d.distributionId.slice(),
    signingPublicKey: d.signingPublicKey.slice(),
    signingPrivateKey: null,
    chainKey: d.chainKey.slice(),
    iteration: d.iteration,
    origin: null,
    createdAt: context.now(),
    skipped: [],
  };
  return { record: addSenderKeyState(record, state), changed: true };
}

// ── Distribution request (content type 0x13) ─────────────────────────────────

export type SenderKeyDistributionRequest = {
  readonly groupId: Uint8Array;
  readonly distributionId: Uint8Array;
  /** The iteration of the first message the requester could not read. */
  readonly iteration: number;
};

export const SENDER_KEY_DISTRIBUTION_REQUEST_LENGTH = GROUP_ID_LENGTH + DISTRIBUTION_ID_LENGTH + 4;

export function encodeSenderKeyDistributionRequest(q: SenderKeyDistributionRequest): Uint8Array {
  if (q.groupId.length !== GROUP_ID_LENGTH || q.distributionId.length !== DISTRIBUTION_ID_LENGTH) {
    throw new ProtocolError('MALFORMED', 'distribution request: wrong field length');
  }
  return new Writer().bytes(q.groupId).bytes(q.distributionId).u32(q.iteration).finish();
}

export function parseSenderKeyDistributionRequest(bytes: Uint8Array): SenderKeyDistributionRequest {
  const r = new Reader(bytes, 'distribution request');
  const q = { groupId: r.bytes(GROUP_ID_LENGTH), distributionId: r.bytes(DISTRIBUTION_ID_LENGTH), iteration: r.u32() };
  r.end();
  return q;
}
