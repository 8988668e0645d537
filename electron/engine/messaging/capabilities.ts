/**
 * What a recipient's devices can show (docs/protocol.md §4.4, ADR 0023). Capabilities live in each
 * device's entry of the account-signed device list, so the relay can neither add nor strip one;
 * the engine reads them from the stored, verified list. A send of a capability-gated kind to a
 * person with a device that lacks it still goes out (their other devices show it; the old one shows
 * "This message needs a newer version of Parley" if it does not know the kind), and the sender's
 * conversation gets a notice saying so, instead of the send passing silently.
 *
 * Owns the mapping from a gated kind to its capability and its notice. Does not own the bits
 * (shared/protocol/constants.ts), this device's own advertisement (account/device-list.ts) or
 * the sends themselves.
 */
import type { CapabilityName } from '../../../shared/protocol/constants.js';
import { hasCapability } from '../../../shared/protocol/device-list.js';
import type { PeerDevice } from '../../../shared/protocol/session.js';
import type { WriteDb } from '../db/database.js';
import type { MessagingCore } from './fan-out.js';
import { insertNotice, type NoticeKind } from './notices.js';

/** The gated kinds a sender is told about, with the notice each adds. */
const GATED: Readonly<Record<'files', { readonly capability: CapabilityName; readonly notice: NoticeKind }>> = {
  files: { capability: 'files', notice: 'files-unsupported' },
};

/** The devices of `recipient` (a contact) whose signed entry lacks `capability`. */
export function devicesLacking(core: MessagingCore, db: WriteDb, recipient: Uint8Array, capability: CapabilityName): PeerDevice[] {
  return core.targetDevices(db, recipient).filter((d) => !hasCapability(d.entry, capability));
}

/**
 * In the caller's transaction (the one that commits the gated message): when a device of
 * `recipient` cannot show `kind`, a notice in their conversation ("<name>'s device on an older
 * version cannot show files"), right after the message. Returns the notice's row id, or null.
 */
export function noticeIfLacking(core: MessagingCore, db: WriteDb, recipient: Uint8Array, kind: keyof typeof GATED, now: number): number | null {
  if (core.isSelf(recipient)) return null;
  const gate = GATED[kind];
  if (devicesLacking(core, db, recipient, gate.capability).length === 0) return null;
  return insertNotice(db, core.account.accountId, recipient, gate.notice, now).rowId;
}
