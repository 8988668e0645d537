/**
 * Backups at the relay (issue 18, server/blobs/backups.ts, docs/protocol.md §25.8, ADR 0033), against
 * the real relay on 127.0.0.1 over plain fetch: a backup id holds one current blob, which is stored,
 * served and deleted only for a request signed by the key the recovery key derives — never a session
 * token; a nonce works once, for its id, operation and time; the first upload binds the key; the
 * size is capped per backup id; requests are limited per id and per address; a replaced, deleted,
 * expired or abandoned blob leaves no file behind; an upload cut short leaves the previous backup.
 */
import { existsSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url, toHex } from '../../../shared/crypto/bytes.js';
import { deriveBackupKeys, sealBackup, signBackupRequest, type BackupKeys, type BackupOperationName } from '../../../shared/protocol/backup.js';
import { deterministicRng, ManualClock, pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';
import { BackupChallengeResponseSchema, encodeBackupAuthorization } from '../../../shared/wire/backup.js';
import { ErrorBodySchema } from '../../../shared/wire/errors.js';
import { WellKnownSchema } from '../../../shared/wire/rest.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { startTestRelay, type TestRelay } from './helpers/relay.js';

const rng = deterministicRng('relay backups');
const NOW = 1_800_000_000_000;

function blobFor(recoveryKey: Uint8Array, attachmentBytes = 1000, createdAt = NOW): Uint8Array {
  return sealBackup(
    { recoveryKey, kdf: { kind: 'recovery-key' }, backupSalt: rng(32), contentSalt: rng(32), createdAt, stretched: null },
    { account: new TextEncoder().encode('{"v":1}'), messages: [], attachments: [{ attachmentId: rng(16), bytes: pseudoRandomBytes(`a${attachmentBytes}`, attachmentBytes) }] },
  ).blob;
}

async function errorCode(response: Response): Promise<string> {
  const parsed = ErrorBodySchema.safeParse(await response.json());
  return parsed.success ? parsed.data.error.code : `unparsed ${response.status}`;
}

type Signed = { readonly authorization: string };

/** A backup client of one recovery key (or, with `signer`, one that signs with another key). */
class Client {
  readonly keys: BackupKeys;
  constructor(
    readonly relay: TestRelay,
    readonly recoveryKey: Uint8Array,
    readonly headers: Record<string, string> = {},
    readonly signer?: BackupKeys,
    readonly now: () => number = () => Date.now(),
  ) {
    this.keys = deriveBackupKeys(recoveryKey);
  }
  get url(): string {
    return `${this.relay.url}/v1/backups/${toBase64Url(this.keys.backupId)}`;
  }
  challengeResponse(backupId = this.keys.backupId): Promise<Response> {
    return fetch(`${this.relay.url}/v1/backups/challenge`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...this.headers },
      body: JSON.stringify({ backupId: toBase64Url(backupId) }),
    });
  }
  async sign(operation: BackupOperationName, o: { time?: number; backupId?: Uint8Array } = {}): Promise<Signed> {
    const response = await this.challengeResponse(o.backupId);
    expect(response.status).toBe(200);
    const c = BackupChallengeResponseSchema.parse(await response.json());
    const signer = this.signer ?? this.keys;
    const time = o.time ?? this.now();
    const signature = signBackupRequest({ ...signer, backupId: this.keys.backupId }, c.relayId, c.nonce, time, operation);
    return { authorization: encodeBackupAuthorization({ authPublicKey: signer.authPublicKey, nonce: c.nonce, time, signature }) };
  }
  put(blob: Uint8Array, signed: Signed): Promise<Response> {
    return fetch(this.url, { method: 'PUT', headers: { ...signed, ...this.headers, 'content-type': 'application/octet-stream' }, body: blob });
  }
  get(signed: Signed, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(this.url, { headers: { ...signed, ...this.headers, ...headers } });
  }
  delete(signed: Signed): Promise<Response> {
    return fetch(this.url, { method: 'DELETE', headers: { ...signed, ...this.headers } });
  }
  async upload(blob: Uint8Array): Promise<void> {
    const r = await this.put(blob, await this.sign('put'));
    expect(r.status, await r.clone().text()).toBe(204);
  }
  async download(): Promise<Uint8Array> {
    const r = await this.get(await this.sign('get'));
    expect(r.status).toBe(200);
    return new Uint8Array(await r.arrayBuffer());
  }
}

function filesIn(relay: TestRelay): string[] {
  return readdirSync(path.join(relay.dataDir, 'backups'));
}

describe('backups at the relay', () => {
  let relay: TestRelay;
  const clock = new ManualClock(NOW);
  const at = (recoveryKey: Uint8Array): Client => new Client(relay, recoveryKey, {}, undefined, clock.now);

  beforeAll(async () => {
    relay = await startTestRelay({ clock: clock.now, limits: { backupMaxBytes: 64 * 1024 } });
  });
  afterAll(async () => {
    await relay.stop();
  });

  it('/.well-known/parley announces the backup path, the per-id size cap and the retention', async () => {
    const wk = WellKnownSchema.parse(await (await fetch(`${relay.url}/.well-known/parley`)).json());
    expect(wk.backups).toEqual({ path: '/v1/backups', maxBytes: 64 * 1024, retentionMs: 180 * 24 * 3600_000 });
  });

  it('a signed upload is served back byte for byte to a signed download, and only then', async () => {
    const alice = at(rng(32));
    const blob = blobFor(alice.recoveryKey);
    await alice.upload(blob);
    expect(toHex(await alice.download())).toBe(toHex(blob));
    expect(await errorCode(await fetch(alice.url))).toBe('UNAUTHORIZED');
  });

  it('a signed request works once: a replayed one, one for another operation, id or time, and an expired challenge are refused', async () => {
    const alice = at(rng(32));
    const blob = blobFor(alice.recoveryKey);
    await alice.upload(blob);
    const signed = await alice.sign('get');
    expect((await alice.get(signed)).status).toBe(200);
    expect(await errorCode(await alice.get(signed))).toBe('UNAUTHORIZED'); // replayed
    expect(await errorCode(await alice.delete(await alice.sign('get')))).toBe('UNAUTHORIZED'); // signed for get, used to delete
    expect(await errorCode(await alice.put(blob, await alice.sign('get')))).toBe('UNAUTHORIZED'); // signed for get, used to put
    const bob = at(rng(32));
    // A nonce issued for Bob's id, signed by Alice for her own id.
    const r = await bob.challengeResponse();
    const c = BackupChallengeResponseSchema.parse(await r.json());
    const sig = signBackupRequest(alice.keys, c.relayId, c.nonce, clock.now(), 'get');
    expect(await errorCode(await alice.get({ authorization: encodeBackupAuthorization({ authPublicKey: alice.keys.authPublicKey, nonce: c.nonce, time: clock.now(), signature: sig }) }))).toBe('UNAUTHORIZED');
    expect(await errorCode(await alice.get(await alice.sign('get', { time: clock.now() - 61_000 })))).toBe('UNAUTHORIZED');
    const late = await alice.sign('get');
    clock.advance(60_001);
    expect(await errorCode(await alice.get(late))).toBe('UNAUTHORIZED');
    expect(toHex(await alice.download())).toBe(toHex(blob));
  });

  it('the first upload binds the key: a request signed with another key can neither replace, read nor delete the backup', async () => {
    const alice = at(rng(32));
    const blob = blobFor(alice.recoveryKey);
    await alice.upload(blob);
    const mallory = new Client(relay, alice.recoveryKey, {}, deriveBackupKeys(rng(32)), clock.now);
    expect(await errorCode(await mallory.put(blob, await mallory.sign('put')))).toBe('UNAUTHORIZED');
    expect(await errorCode(await mallory.get(await mallory.sign('get')))).toBe('UNAUTHORIZED');
    expect(await errorCode(await mallory.delete(await mallory.sign('delete')))).toBe('UNAUTHORIZED');
    expect(toHex(await alice.download())).toBe(toHex(blob));
  });

  it('one current backup per id: a new upload replaces the old one and leaves one file', async () => {
    const alice = at(rng(32));
    const prefix = toBase64Url(alice.keys.backupId);
    const first = blobFor(alice.recoveryKey, 500);
    const second = blobFor(alice.recoveryKey, 2000);
    await alice.upload(first);
    await alice.upload(second);
    expect(toHex(await alice.download())).toBe(toHex(second));
    expect(filesIn(relay).filter((f) => f.startsWith(prefix))).toHaveLength(1);
  });

  it('the size cap is per backup id and refused before a byte is stored; a blob that is not this id\'s backup is refused', async () => {
    const alice = at(rng(32));
    const big = blobFor(alice.recoveryKey, 70 * 1024);
    const r = await alice.put(big, await alice.sign('put'));
    expect(r.status).toBe(413);
    expect(await errorCode(r)).toBe('PAYLOAD_TOO_LARGE');
    const other = blobFor(rng(32));
    expect(await errorCode(await alice.put(other, await alice.sign('put')))).toBe('MALFORMED');
    expect(await errorCode(await alice.put(pseudoRandomBytes('junk', 4000), await alice.sign('put')))).toBe('MALFORMED');
    expect(await errorCode(await alice.get(await alice.sign('get')))).toBe('NOT_FOUND');
    expect(filesIn(relay).filter((f) => f.startsWith(toBase64Url(alice.keys.backupId)))).toEqual([]);
    // Two ids of one person (two recovery keys) each get the full size: the cap is not per account or address.
    const b1 = at(rng(32));
    const b2 = at(rng(32));
    await b1.upload(blobFor(b1.recoveryKey, 60 * 1024));
    await b2.upload(blobFor(b2.recoveryKey, 60 * 1024));
  });

  it('a range request resumes a download; delete removes the backup and its file', async () => {
    const alice = at(rng(32));
    const blob = blobFor(alice.recoveryKey, 5000);
    await alice.upload(blob);
    const r = await alice.get(await alice.sign('get'), { range: 'bytes=1000-' });
    expect(r.status).toBe(206);
    expect(r.headers.get('content-range')).toBe(`bytes 1000-${blob.length - 1}/${blob.length}`);
    expect(toHex(new Uint8Array(await r.arrayBuffer()))).toBe(toHex(blob.subarray(1000)));
    expect((await alice.delete(await alice.sign('delete'))).status).toBe(204);
    expect(await errorCode(await alice.get(await alice.sign('get')))).toBe('NOT_FOUND');
    expect(filesIn(relay).filter((f) => f.startsWith(toBase64Url(alice.keys.backupId)))).toEqual([]);
  });

  it('an upload cut off midway stores nothing and leaves the previous backup current', async () => {
    const alice = at(rng(32));
    const blob = blobFor(alice.recoveryKey, 3000);
    await alice.upload(blob);
    const signed = await alice.sign('put');
    const next = blobFor(alice.recoveryKey, 40_000);
    const controller = new AbortController();
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(next.subarray(0, 20_000));
        setTimeout(() => controller.abort(), 100);
      },
    });
    await fetch(alice.url, {
      method: 'PUT',
      headers: { ...signed, 'content-length': String(next.length) },
      body,
      signal: controller.signal,
      duplex: 'half',
    } as RequestInit).catch(() => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(toHex(await alice.download())).toBe(toHex(blob));
    expect(filesIn(relay).filter((f) => f.startsWith(toBase64Url(alice.keys.backupId)))).toHaveLength(1);
  });

  it('the sweep removes backups not replaced within the retention, abandoned uploads and files of no backup', async () => {
    const old = at(rng(32));
    await old.upload(blobFor(old.recoveryKey));
    clock.advance(100 * 24 * 3600_000);
    const fresh = at(rng(32));
    await fresh.upload(blobFor(fresh.recoveryKey));
    const dir = path.join(relay.dataDir, 'backups');
    const abandoned = path.join(dir, `${toBase64Url(rng(16))}.${toBase64Url(rng(16))}.part`);
    const orphan = path.join(dir, `${toBase64Url(rng(16))}.${toBase64Url(rng(16))}`);
    writeFileSync(abandoned, 'x');
    writeFileSync(orphan, 'x');
    const past = new Date(clock.now() - 2 * 24 * 3600_000);
    utimesSync(abandoned, past, past);
    utimesSync(orphan, past, past);
    clock.advance(81 * 24 * 3600_000); // old: 181 days, fresh: 81 days
    const swept = await relay.sweep();
    expect(swept.backups.expired).toBeGreaterThanOrEqual(1);
    expect(existsSync(abandoned) || existsSync(orphan)).toBe(false);
    expect(await errorCode(await old.get(await old.sign('get')))).toBe('NOT_FOUND');
    expect((await fresh.download()).length).toBeGreaterThan(0);
  });
});

describe('backups at a relay on the real clock: no accounts, limits per id and per address', () => {
  let relay: TestRelay;
  beforeAll(async () => {
    relay = await startTestRelay({ trustProxy: 'loopback', limits: { backupChallengesPerId: { points: 3, duration: 3600 }, backupChallengesPerIp: { points: 5, duration: 3600 } } });
  });
  afterAll(async () => {
    await relay.stop();
  });

  it('a session token opens nothing: the backup routes know no accounts', async () => {
    const alice = new Client(relay, rng(32));
    await alice.upload(blobFor(alice.recoveryKey));
    const device = (await registerAccount(relay.url, new TestAccount())).get(1)!;
    const token = await device.sessionToken();
    device.close();
    const r = await fetch(alice.url, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status).toBe(401);
    expect(await errorCode(r)).toBe('UNAUTHORIZED');
    const put = await fetch(alice.url, { method: 'PUT', headers: { authorization: `Bearer ${token}` }, body: blobFor(alice.recoveryKey) });
    expect(await errorCode(put)).toBe('UNAUTHORIZED');
  });

  it('requests for one backup id are limited whatever address they come from', async () => {
    const id = rng(32);
    for (const address of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) {
      expect((await new Client(relay, id, { 'x-forwarded-for': address }).challengeResponse()).status).toBe(200);
    }
    const r = await new Client(relay, id, { 'x-forwarded-for': '192.0.2.4' }).challengeResponse();
    expect(r.status).toBe(429);
    expect(await errorCode(r)).toBe('RATE_LIMITED');
    expect(r.headers.get('retry-after')).not.toBeNull();
  });

  it('requests from one address are limited whatever backup id they name; another address is not', async () => {
    const from = { 'x-forwarded-for': '198.51.100.7' };
    for (let i = 0; i < 5; i++) expect((await new Client(relay, rng(32), from).challengeResponse()).status).toBe(200);
    expect(await errorCode(await new Client(relay, rng(32), from).challengeResponse())).toBe('RATE_LIMITED');
    expect((await new Client(relay, rng(32), { 'x-forwarded-for': '198.51.100.8' }).challengeResponse()).status).toBe(200);
  });
});
