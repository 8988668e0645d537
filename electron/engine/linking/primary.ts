/**
 * Linking, the primary's side (DESIGN §3.11, docs/protocol.md §20, ADR 0025): Settings → Linked
 * devices → "Link a new device" with a scanned or pasted offer, or a typed short code. Joins the new
 * device's channel (one of the account's limited link attempts), runs the handshake of
 * shared/protocol/linking.ts, and — only after both sides confirmed the same keys — signs the next
 * device list with the new entry, publishes it, stores it as this device's own list, and seals the
 * provisioning: that list and the account state (account-state.ts; never the account private key).
 *
 * Any failure posts the abort frame so the new device stops too, and leaves the device list as it
 * was. Does not own: the channel wait and error mapping (channel.ts), the new device's flow
 * (new-device.ts), history transfer (issue 14, later: it would start after `provisioned`).
 */
import { parseDeviceList, signDeviceList, type DeviceList } from '../../../shared/protocol/device-list.js';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import {
  parseLinkCode,
  parseLinkOfferText,
  receiveConfirm,
  receiveReply,
  sealProvisioning,
  startPrimaryLink,
  type LinkTarget,
} from '../../../shared/protocol/linking.js';
import { MAX_DEVICES_PER_ACCOUNT } from '../../../shared/wire/limits.js';
import { updateOwnDeviceList, type StoredDeviceList } from '../db/account.js';
import { EngineError } from '../errors.js';
import { announceOwnList } from '../transparency/key-transparency.js';
import type { MessagingCore } from '../messaging/fan-out.js';
import { RelayClient } from '../relay/client.js';
import { exportAccountState } from './account-state.js';
import { abortFrameFor, LinkAborted, LINK_POLL_MS, linkFailure, nextFrame } from './channel.js';

export type PrimaryLinkInput = { readonly offerText: string } | { readonly code: string };

export type PrimaryLinkResult = { readonly deviceId: number; readonly addedAt: number };

/** Parses what the person scanned, pasted or typed (LINK_INVALID when it is neither). */
function targetOf(input: PrimaryLinkInput): { method: 'offer' | 'code'; parsed: ReturnType<typeof parseLinkOfferText> | ReturnType<typeof parseLinkCode> } {
  try {
    if ('offerText' in input) return { method: 'offer', parsed: parseLinkOfferText(input.offerText) };
    return { method: 'code', parsed: parseLinkCode(input.code) };
  } catch (e) {
    if (isProtocolError(e)) {
      throw new EngineError('LINK_INVALID', 'offerText' in input ? 'that is not a Parley link from a new device' : 'a link code is 14 digits, as the new device shows it');
    }
    throw e;
  }
}

/** The next list: this one plus the new device under the next free id (ids are never reused). */
function nextList(current: DeviceList, entry: DeviceList['devices'][number], now: number): DeviceList {
  return { ...current, version: current.version + 1, issuedAt: now, devices: [...current.devices, entry] };
}

/**
 * Links the new device behind `input` to this account. Resolves when the new device has its
 * provisioning; throws EngineError (LINK_*, TOO_MANY_DEVICES, NOT_PRIMARY_DEVICE) otherwise.
 */
export async function linkNewDevice(core: MessagingCore, input: PrimaryLinkInput, o: { readonly pollMs?: number; readonly cancelled?: () => boolean } = {}): Promise<PrimaryLinkResult> {
  const accountPrivateKey = core.account.accountPrivateKey;
  if (!accountPrivateKey) throw new EngineError('NOT_PRIMARY_DEVICE', 'only the primary device can link a new device');
  const { method, parsed } = targetOf(input);
  const current = parseDeviceList(core.account.deviceList.signed).list;
  if (current.devices.length >= MAX_DEVICES_PER_ACCOUNT) {
    throw new EngineError('TOO_MANY_DEVICES', `this account already has ${MAX_DEVICES_PER_ACCOUNT} devices; remove one in Linked devices first`);
  }
  const relayId = core.account.relayId ?? (await RelayClient.wellKnown(core.account.relayUrl)).relayId;
  const wait = { pollMs: o.pollMs ?? LINK_POLL_MS, cancelled: () => core.stopped || (o.cancelled?.() ?? false) };
  let channelId: Uint8Array | null = null;
  try {
    const joined = await core.relay.joinProvisioningChannel('relayId' in parsed ? { channelId: parsed.channelId } : { rendezvous: parsed.rendezvous });
    channelId = joined.channelId;
    const target: LinkTarget = 'relayId' in parsed ? { method: 'offer', offer: parsed } : { method: 'code', code: parsed, channelId };
    const inbox = (after: number) => core.relay.provisioningInbox(joined.channelId, after);
    const account = { accountId: core.account.accountId, accountPublicKey: core.account.accountPublicKey };

    const start = startPrimaryLink({ relayId, target, account }, { rng: core.rng });
    const helloSeq = await core.relay.postProvisioning(channelId, start.hello);
    const reply = await nextFrame(inbox, helloSeq, wait);
    const replied = receiveReply(start.state, reply.body);
    await core.relay.postProvisioning(channelId, replied.account);
    const confirm = await nextFrame(inbox, reply.seq, wait);
    const confirmed = receiveConfirm(replied.state, confirm.body);
    // The account state before anything is signed: one too large for the frame fails here
    // (LINK_ACCOUNT_TOO_LARGE) and leaves the device list as it was.
    const accountState = exportAccountState(core.db.reader, core.account.username);

    // Both sides confirmed the same keys: only now is anything signed.
    const latest = parseDeviceList(core.account.deviceList.signed).list;
    if (latest.devices.length >= MAX_DEVICES_PER_ACCOUNT) throw new EngineError('TOO_MANY_DEVICES', `this account already has ${MAX_DEVICES_PER_ACCOUNT} devices`);
    const now = core.clock();
    const deviceId = Math.max(...latest.devices.map((d) => d.deviceId)) + 1;
    const list = nextList(latest, { deviceId, identityDhKey: confirmed.device.identityDhKey, identitySigningKey: confirmed.device.identitySigningKey, capabilities: confirmed.device.capabilities, addedAt: now }, now);
    const stored: StoredDeviceList = { signed: signDeviceList(list, accountPrivateKey), version: list.version, issuedAt: now };
    announceOwnList(core, stored.signed);
    await core.relay.putDeviceList(stored.signed);
    core.check();
    core.db.writer.transaction(() => updateOwnDeviceList(core.db.writer, stored));
    core.account = { ...core.account, deviceList: stored };

    const provision = sealProvisioning(confirmed.state, { deviceId, signedDeviceList: stored.signed, accountState });
    await core.relay.postProvisioning(channelId, provision);
    return { deviceId, addedAt: now };
  } catch (e) {
    const failure = linkFailure(e, method);
    if (channelId && !(e instanceof LinkAborted)) await core.relay.postProvisioning(channelId, abortFrameFor(failure)).catch(() => undefined);
    throw failure;
  }
}
