/**
 * Signature inputs of the relay's authentication statements, shared by the relay (verifies) and the
 * client (signs), so both sides build the same bytes:
 *  - relay auth: Parley_v1_RelayAuth ‖ relay id (16) ‖ nonce (32) ‖ u64be(time ms) ‖ account id (16)
 *    ‖ u32be(device id), signed by the device's Ed25519 identity key (its device-list entry);
 *  - account deletion: Parley_v1_RelayAccountDeletion ‖ relay id ‖ account id ‖ u64be(time ms),
 *    signed by the account key, so only the holder of the account key (the primary device or a
 *    restored backup) can delete an account.
 * Binding the relay id stops a signature made for one relay from being replayed at another; the
 * nonce (single-use) and the time window stop replays at the same relay.
 * Does not own verification policy (server/core/auth.ts) or key storage (the engine).
 */
import { concatBytes, u32be, u64be } from '../crypto/bytes.js';
import { Label, label } from '../protocol/constants.js';

/** Label of the account-deletion statement (signed by the account key; docs/protocol.md key-usage table). */
export const ACCOUNT_DELETION_LABEL = Label.RelayAccountDeletion;

export function relayAuthSignatureInput(
  relayId: Uint8Array,
  nonce: Uint8Array,
  time: number,
  accountId: Uint8Array,
  deviceId: number,
): Uint8Array {
  return concatBytes(label('RelayAuth'), relayId, nonce, u64be(time), accountId, u32be(deviceId));
}

export function accountDeletionSignatureInput(relayId: Uint8Array, accountId: Uint8Array, time: number): Uint8Array {
  return concatBytes(label('RelayAccountDeletion'), relayId, accountId, u64be(time));
}
