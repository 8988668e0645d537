/**
 * Domain records → wire JSON (shapes in shared/wire/rest.ts): byte fields become strict base64url.
 */
import { toBase64Url } from '../../shared/crypto/bytes.js';
import type { AccountRecord, ClaimedBundle, SignedPrekeyRecord } from '../store/store.js';
import type { LookupTransparency } from '../transparency/log.js';

const b64 = toBase64Url;

export function accountJson(account: AccountRecord) {
  return { accountId: b64(account.accountId), accountKey: b64(account.accountKey), deviceList: b64(account.deviceList) };
}

function signedPrekeyJson(p: SignedPrekeyRecord) {
  return { keyId: p.keyId, publicKey: b64(p.publicKey), createdAt: p.createdAt, signature: b64(p.signature) };
}

export function bundleJson(bundle: ClaimedBundle) {
  return {
    deviceId: bundle.deviceId,
    identityDhKey: b64(bundle.identityDhKey),
    identitySigningKey: b64(bundle.identitySigningKey),
    signedPrekey: signedPrekeyJson(bundle.signedPrekey),
    ...(bundle.oneTimePrekey && { oneTimePrekey: { keyId: bundle.oneTimePrekey.keyId, publicKey: b64(bundle.oneTimePrekey.publicKey) } }),
    ...(bundle.kemPrekey && { kemPrekey: { ...signedPrekeyJson(bundle.kemPrekey), lastResort: bundle.kemPrekey.lastResort } }),
  };
}

export function transparencyJson(t: LookupTransparency) {
  return { head: b64(t.head), leafIndex: t.leafIndex, leaf: b64(t.leaf), inclusion: t.inclusion.map(b64), consistency: t.consistency.map(b64) };
}
