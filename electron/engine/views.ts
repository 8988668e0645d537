/**
 * Row → view-model mapping: the only place stored records become what the renderer sees. Ids
 * become strings (account ids as hex, row ids as decimal), bytes never leave, device lists are
 * summarised (quantum-resistant, stale, device count).
 */
import type {
  ContactView,
  ConversationView,
  MessageView,
  OwnProfileView,
  Presence,
  SafetyNumberView,
} from '../../shared/api/view-models.js';
import { MAX_PREVIEW_LENGTH } from '../../shared/api/view-models.js';
import { bytesEqual, fromHex, toBase64Url, toHex } from '../../shared/crypto/bytes.js';
import { deviceListFreshness, hasCapability, hasPq, type DeviceList } from '../../shared/protocol/device-list.js';
import { profileKeyId } from '../../shared/protocol/profile.js';
import { deviceFingerprint, formatSafetyNumber, safetyNumber } from '../../shared/protocol/safety-number.js';
import type { LocalAccount } from './db/account.js';
import { parsedDeviceList } from './account/device-list-cache.js';
import type { ContactRecord } from './db/contacts.js';
import type { ConversationListRow } from './db/conversations.js';
import type { MessageRecord } from './db/messages.js';
import type { OwnProfileRecord } from './db/profiles.js';

export { MAX_PREVIEW_LENGTH };

/** What this account's own notes are called (Signal's name for it, which its users expect). */
export const NOTE_TO_SELF_TITLE = 'Note to self';

export const UNKNOWN_PRESENCE: Presence = Object.freeze({ state: 'unknown', lastSeenAt: null });
/** The relay answered: this person does not share presence with us. */
export const NOT_SHARED_PRESENCE: Presence = Object.freeze({ state: 'not-shared', lastSeenAt: null });

export function contactIdOf(accountId: Uint8Array): string {
  return toHex(accountId);
}

export function accountIdOf(contactId: string): Uint8Array {
  return fromHex(contactId);
}

export function rowIdOf(id: string): number {
  return Number(id);
}

function listSummary(signed: Uint8Array, now: number): { list: DeviceList; quantumResistant: boolean; showsFiles: boolean; opensSealed: boolean; showsTimers: boolean; stale: boolean } {
  const { list } = parsedDeviceList(signed);
  return {
    list,
    quantumResistant: list.devices.every(hasPq),
    showsFiles: list.devices.every((d) => hasCapability(d, 'files')),
    opensSealed: list.devices.every((d) => hasCapability(d, 'sealed')),
    showsTimers: list.devices.every((d) => hasCapability(d, 'timers')),
    stale: deviceListFreshness(list, now) === 'stale',
  };
}

export function contactView(c: ContactRecord, now: number): ContactView {
  const s = listSummary(c.deviceList.signed, now);
  return {
    id: contactIdOf(c.accountId),
    username: c.username,
    displayName: c.displayName,
    about: c.about,
    avatarId: c.blocked || c.avatarRevision === null ? null : String(c.avatarRevision),
    accepted: c.accepted,
    blocked: c.blocked,
    verified: c.verified,
    keyChangePending: c.keyChangePending,
    quantumResistant: s.quantumResistant,
    deviceListStale: s.stale,
    deviceCount: s.list.devices.length,
    addedAt: c.addedAt,
  };
}

/** This account's profile as the renderer sees it (the key never leaves the engine). */
export function ownProfileView(own: OwnProfileRecord): OwnProfileView {
  return { displayName: own.displayName, about: own.about, avatar: own.avatar && Buffer.from(own.avatar).toString('base64') };
}

export function messageView(m: MessageRecord, self: Uint8Array): MessageView {
  const own = m.direction === 'outgoing' || bytesEqual(m.senderAccountId, self);
  return {
    id: String(m.id),
    conversationId: String(m.conversationId),
    kind: m.kind,
    direction: m.direction,
    senderId: own ? null : contactIdOf(m.senderAccountId),
    // Own device notices carry the device's name (ADR 0027), key-transparency alerts what failed (ADR 0034), group system lines their words (ADR 0032); other notices have no body.
    body:
      m.kind === 'text' || m.kind === 'attachment' || m.kind === 'device-linked' || m.kind === 'device-removed' || m.kind === 'transparency-alert' || m.kind === 'group-changed'
        ? m.body
        : null,
    sentAt: m.sentAt,
    receivedAt: m.receivedAt,
    displayAt: m.displayAt,
    status: m.direction === 'outgoing' ? m.status : null,
    read: m.direction === 'outgoing' || m.readAt !== null,
    ...(m.expireTimerSeconds !== null && { expireTimerSeconds: m.expireTimerSeconds }),
    // The maximum lifetime of an unread message is not "its timer": shown only once started.
    ...(m.expireStartedAt !== null && m.expiresAt !== null && { expiresAt: m.expiresAt }),
  };
}

/** Sealed sender towards a contact (messaging/sealed.ts sends by the same rule). */
function sealedSenderState(profileKey: Uint8Array | null, refusedKeyId: Uint8Array | null): 'sealed' | 'no-token' | 'stale-token' {
  if (!profileKey) return 'no-token';
  return refusedKeyId && bytesEqual(refusedKeyId, profileKeyId(profileKey)) ? 'stale-token' : 'sealed';
}

export function conversationView(r: ConversationListRow, presence: Presence, now: number): ConversationView {
  const s = listSummary(r.deviceList, now);
  const note = r.conversation.kind === 'note-to-self';
  const kind = r.conversation.kind;
  // The conversation list never holds a group (groups:list shows them; db/conversations.ts filters).
  if (kind === 'group') throw new Error('a group conversation has no contact view');
  return {
    id: String(r.conversation.id),
    kind,
    contactId: contactIdOf(r.conversation.peerAccountId),
    // A contact that wrote first is known by account id only until its profile key (and the
    // username it claims, confirmed at the relay) arrives, or the user adds it by username.
    title: note ? NOTE_TO_SELF_TITLE : (r.displayName ?? (r.username || `Unknown ${contactIdOf(r.conversation.peerAccountId).slice(0, 8)}`)),
    username: note ? null : r.username || null,
    avatarId: note || r.avatarRevision === null ? null : String(r.avatarRevision),
    request: !r.accepted,
    unreadCount: r.unreadCount,
    lastMessage: r.lastMessage && {
      id: String(r.lastMessage.id),
      kind: r.lastMessage.kind,
      direction: r.lastMessage.direction,
      preview: r.lastMessage.kind === 'text' || r.lastMessage.kind === 'attachment' ? r.lastMessage.preview : null,
      displayAt: r.lastMessage.displayAt,
      status: r.lastMessage.direction === 'outgoing' ? r.lastMessage.status : null,
    },
    presence,
    verified: r.verified,
    quantumResistant: s.quantumResistant,
    sealedSender: note ? null : !s.opensSealed ? 'unsupported' : sealedSenderState(r.profileKey, r.tokenRefusedKeyId),
    showsFiles: note || s.showsFiles,
    expireTimerSeconds: r.expireTimerSeconds,
    showsTimers: s.showsTimers && (r.ownDeviceList === null || listSummary(r.ownDeviceList, now).showsTimers),
    keyChangePending: r.keyChangePending,
    lastActivityAt: r.conversation.lastActivityAt,
  };
}

export function safetyNumberView(account: LocalAccount, contact: ContactRecord, transparency: { readonly status: 'match' | 'failed'; readonly problem: string | null } | undefined): SafetyNumberView {
  const number = safetyNumber(
    { accountId: account.accountId, accountKey: account.accountPublicKey },
    { accountId: contact.accountId, accountKey: contact.accountKey },
  );
  const devices = (signed: Uint8Array) =>
    parsedDeviceList(signed).list.devices.map((d) => ({ deviceId: d.deviceId, fingerprint: deviceFingerprint(d), quantumResistant: hasPq(d) }));
  return {
    contactId: contactIdOf(contact.accountId),
    digits: number.digits,
    groups: formatSafetyNumber(number.digits),
    qrPayload: toBase64Url(number.qrPayload),
    verified: contact.verified,
    transparency: transparency?.status ?? 'unchecked',
    transparencyProblem: transparency?.status === 'failed' ? transparency.problem : null,
    contactDevices: devices(contact.deviceList.signed),
    ownDevices: devices(account.deviceList.signed),
  };
}
