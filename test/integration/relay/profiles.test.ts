/**
 * Encrypted profiles at the relay (issue 12, docs/protocol.md §18): an account stores its own, any
 * account fetches it and opens it with the profile key it was given; the relay keeps the bytes
 * verbatim and never sees the name or the avatar (the largest, 64 KiB, fits). Bad input gets a typed error and changes nothing: oversized
 * (PAYLOAD_TOO_LARGE), outside the lengths or of an unknown version (MALFORMED), unauthenticated,
 * too many uploads (RATE_LIMITED); a deleted account's profile is gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url, utf8 } from '../../../shared/crypto/bytes.js';
import { ed25519Sign } from '../../../shared/crypto/ed25519.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { MAX_ENCRYPTED_PROFILE_BYTES, MAX_PROFILE_AVATAR_BYTES, MIN_ENCRYPTED_PROFILE_BYTES } from '../../../shared/protocol/constants.js';
import { decryptProfile, encryptProfile, newProfileKey } from '../../../shared/protocol/profile.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { startTestRelay, type TestRelay } from './helpers/relay.js';

let relay: TestRelay;
const open: RelayClient[] = [];
beforeAll(async () => {
  relay = await startTestRelay({ limits: { profileUploadsPerAccount: { points: 4, duration: 3600 } } });
});
afterAll(async () => {
  for (const c of open) c.close();
  await relay.stop();
});

type Reply = { status: number; code: string | undefined };

/** A registered account and a raw-HTTP view of the two profile routes (the typed client is the engine's). */
async function member() {
  const account = new TestAccount();
  await registerAccount(relay.url, account);
  const client = account.client(relay.url, 1);
  open.push(client);
  const token = () => client.sessionToken();
  const reply = (r: { status: number; body: unknown }): Reply => ({ status: r.status, code: (r.body as { error?: { code: string } } | undefined)?.error?.code });
  return {
    account,
    client,
    async put(profile: Uint8Array): Promise<Reply> {
      return reply(await http(relay.url, 'PUT', '/v1/profiles/me', { token: await token(), body: { profile: toBase64Url(profile) } }));
    },
    async get(accountId: Uint8Array): Promise<Reply & { profile?: Uint8Array; accountId?: Uint8Array }> {
      const r = await http(relay.url, 'GET', `/v1/profiles/${toBase64Url(accountId)}`, { token: await token() });
      const body = r.body as { profile?: string; accountId?: string };
      return { ...reply(r), ...(body.profile && { profile: fromBase64Url(body.profile), accountId: fromBase64Url(body.accountId!) }) };
    },
  };
}

const profile = { revision: 1, displayName: 'Alice Liddell', about: 'Curiouser and curiouser', avatar: null };

describe('encrypted profiles at the relay', () => {
  it('an account stores its profile; another fetches the same bytes and opens them with the shared key', async () => {
    const alice = await member();
    const bob = await member();
    const key = newProfileKey({ rng: systemRng });
    const encrypted = encryptProfile(profile, key, alice.account.accountId, { rng: systemRng });
    expect(await alice.put(encrypted)).toEqual({ status: 204, code: undefined });
    const fetched = await bob.get(alice.account.accountId);
    expect(fetched.profile).toEqual(encrypted);
    expect(fetched.accountId).toEqual(alice.account.accountId);
    expect(decryptProfile(fetched.profile!, key, alice.account.accountId)).toEqual(profile);
    // A replacement replaces it whole.
    const next = encryptProfile({ ...profile, revision: 2, displayName: 'Alice' }, key, alice.account.accountId, { rng: systemRng });
    await alice.put(next);
    expect((await bob.get(alice.account.accountId)).profile).toEqual(next);
  });

  it('a profile carrying the largest avatar is accepted and served whole; the relay holds none of the avatar bytes', async () => {
    const alice = await member();
    const bob = await member();
    const key = newProfileKey({ rng: systemRng });
    const bytes = systemRng(MAX_PROFILE_AVATAR_BYTES);
    bytes.set([0x52, 0x49, 0x46, 0x46, 0xf8, 0xff, 0x00, 0x00, 0x57, 0x45, 0x42, 0x50]); // RIFF ‖ u32le ‖ WEBP
    const withAvatar = { ...profile, avatar: { format: 'webp' as const, bytes } };
    const encrypted = encryptProfile(withAvatar, key, alice.account.accountId, { rng: systemRng });
    expect(encrypted.length).toBe(MAX_ENCRYPTED_PROFILE_BYTES);
    expect(await alice.put(encrypted)).toEqual({ status: 204, code: undefined });
    const fetched = await bob.get(alice.account.accountId);
    expect(fetched.profile).toEqual(encrypted);
    expect(decryptProfile(fetched.profile!, key, alice.account.accountId).avatar?.bytes).toEqual(bytes);
    const stored = await relay.store.getProfile(alice.account.accountId);
    expect(Buffer.from(stored!.profile).includes(Buffer.from(bytes.subarray(1000, 1032)))).toBe(false);
    expect(Buffer.from(stored!.profile).includes(Buffer.from('WEBP'))).toBe(false);
  });

  it('the relay stores nothing it could read: no name in its database file', async () => {
    const alice = await member();
    const key = newProfileKey({ rng: systemRng });
    const marker = `Unmistakable ${toBase64Url(systemRng(6))}`;
    await alice.put(encryptProfile({ ...profile, displayName: marker }, key, alice.account.accountId, { rng: systemRng }));
    const stored = await relay.store.getProfile(alice.account.accountId);
    expect(Buffer.from(stored!.profile).includes(Buffer.from(utf8(marker)))).toBe(false);
  });

  it('an account without a profile, or an unknown account, is NOT_FOUND', async () => {
    const alice = await member();
    const bob = await member();
    expect(await bob.get(alice.account.accountId)).toEqual({ status: 404, code: 'NOT_FOUND' });
    expect(await bob.get(systemRng(16))).toEqual({ status: 404, code: 'NOT_FOUND' });
  });

  it('bad uploads get typed errors and leave the stored profile as it was', async () => {
    const alice = await member();
    const key = newProfileKey({ rng: systemRng });
    const good = encryptProfile(profile, key, alice.account.accountId, { rng: systemRng });
    await alice.put(good);
    const token = await alice.client.sessionToken();
    const put = (body: unknown) => http(relay.url, 'PUT', '/v1/profiles/me', { token, body });
    const oversized = await put({ profile: toBase64Url(new Uint8Array(MAX_ENCRYPTED_PROFILE_BYTES + 3)) });
    expect([oversized.status, (oversized.body as { error: { code: string } }).error.code]).toEqual([413, 'PAYLOAD_TOO_LARGE']);
    const short = await put({ profile: toBase64Url(new Uint8Array(MIN_ENCRYPTED_PROFILE_BYTES - 1)) });
    expect([short.status, (short.body as { error: { code: string } }).error.code]).toEqual([400, 'MALFORMED']);
    const version2 = good.slice();
    version2[0] = 2;
    const unknownVersion = await put({ profile: toBase64Url(version2) });
    expect([unknownVersion.status, (unknownVersion.body as { error: { code: string } }).error.code]).toEqual([400, 'MALFORMED']);
    const extraField = await put({ profile: toBase64Url(good), name: 'Alice' });
    expect(extraField.status).toBe(400);
    const anonymous = await http(relay.url, 'PUT', '/v1/profiles/me', { body: { profile: toBase64Url(good) } });
    expect(anonymous.status).toBe(401);
    expect((await http(relay.url, 'GET', `/v1/profiles/${toBase64Url(alice.account.accountId)}`)).status).toBe(401);
    expect((await alice.get(alice.account.accountId)).profile).toEqual(good);
  });

  it('uploads are limited per account: past the budget RATE_LIMITED, and the last stored profile stays', async () => {
    const alice = await member();
    const key = newProfileKey({ rng: systemRng });
    const uploads = Array.from({ length: 5 }, (_, i) => encryptProfile({ ...profile, revision: i + 1 }, key, alice.account.accountId, { rng: systemRng }));
    for (const u of uploads.slice(0, 4)) expect((await alice.put(u)).status).toBe(204);
    expect(await alice.put(uploads[4]!)).toEqual({ status: 429, code: 'RATE_LIMITED' });
    expect((await alice.get(alice.account.accountId)).profile).toEqual(uploads[3]);
    // Another account's budget is its own.
    const bob = await member();
    expect((await bob.put(encryptProfile(profile, key, bob.account.accountId, { rng: systemRng }))).status).toBe(204);
  });

  it('deleting the account deletes its profile', async () => {
    const alice = await member();
    const bob = await member();
    await alice.put(encryptProfile(profile, newProfileKey({ rng: systemRng }), alice.account.accountId, { rng: systemRng }));
    await alice.client.deleteAccount((input) => ed25519Sign(alice.account.accountKey.privateKey, input));
    expect(await bob.get(alice.account.accountId)).toEqual({ status: 404, code: 'NOT_FOUND' });
    expect(await relay.store.getProfile(alice.account.accountId)).toBeUndefined();
  });

  it('/.well-known/parley announces the largest profile', async () => {
    const wellKnown = await RelayClient.wellKnown(relay.url);
    expect(wellKnown.limits.maxProfileBytes).toBe(MAX_ENCRYPTED_PROFILE_BYTES);
  });
});
