/**
 * Attachment blobs at the relay (issue 13, server/blobs, ADR 0015), against the real relay on
 * 127.0.0.1 speaking tus 1.0.0 over plain fetch: uploads need a session token and only their
 * uploader can continue, inspect or cancel them; downloads need nothing but the id, support ranges,
 * and are limited per address; size, quota, uploads at once and expiry answer typed errors; a
 * cancelled upload is gone at once; a relay killed in the middle of an upload resumes from what it
 * had written. The engine's own client (electron/engine/files/transfer.ts) is tested beside it.
 */
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RelayClient } from '../../../electron/engine/relay/client.js';
import { attachmentLayout } from '../../../shared/protocol/attachment-cipher.js';
import { ATTACHMENT_SEGMENT_SIZE } from '../../../shared/protocol/constants.js';
import { ManualClock, pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';
import { ErrorBodySchema } from '../../../shared/wire/errors.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { scrapeMetrics, spawnRelay, startTestRelay, tempDir, type RelayProcess, type TestRelay } from './helpers/relay.js';

const MiB = 1024 * 1024;
const TUS = { 'tus-resumable': '1.0.0' };

/** A ciphertext-shaped blob: random bytes of the length an attachment of `plainLength` bytes has. */
function blob(plainLength: number, seed = `blob-${plainLength}`): Uint8Array {
  return pseudoRandomBytes(seed, attachmentLayout(plainLength).ciphertextLength);
}

async function errorCode(response: Response): Promise<string> {
  const parsed = ErrorBodySchema.safeParse(await response.json());
  return parsed.success ? parsed.data.error.code : `unparsed ${response.status}`;
}

const auth = (token: string) => ({ authorization: `Bearer ${token}` });

function create(base: string, token: string | null, length: number, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/v1/attachments`, {
    method: 'POST',
    headers: { ...TUS, ...(token ? auth(token) : {}), 'upload-length': String(length), ...headers },
  });
}

async function created(base: string, token: string, length: number): Promise<string> {
  const response = await create(base, token, length);
  expect(response.status).toBe(201);
  const location = response.headers.get('location')!;
  expect(location).toMatch(/^\/v1\/attachments\/[A-Za-z0-9_-]{22}$/);
  return new URL(location, base).href;
}

function head(uploadUrl: string, token: string | null): Promise<Response> {
  return fetch(uploadUrl, { method: 'HEAD', headers: { ...TUS, ...(token ? auth(token) : {}) } });
}

function patch(uploadUrl: string, token: string | null, offset: number, bytes: Uint8Array): Promise<Response> {
  return fetch(uploadUrl, {
    method: 'PATCH',
    headers: { ...TUS, ...(token ? auth(token) : {}), 'upload-offset': String(offset), 'content-type': 'application/offset+octet-stream' },
    body: bytes,
  });
}

function remove(uploadUrl: string, token: string | null): Promise<Response> {
  return fetch(uploadUrl, { method: 'DELETE', headers: { ...TUS, ...(token ? auth(token) : {}) } });
}

/** Uploads `bytes` in one go and returns the upload URL. */
async function upload(base: string, token: string, bytes: Uint8Array): Promise<string> {
  const url = await created(base, token, bytes.length);
  const r = await patch(url, token, 0, bytes);
  expect(r.status).toBe(204);
  expect(r.headers.get('upload-offset')).toBe(String(bytes.length));
  return url;
}

async function download(url: string, headers: Record<string, string> = {}): Promise<{ status: number; bytes: Uint8Array; response: Response }> {
  const response = await fetch(url, { headers });
  return { status: response.status, bytes: new Uint8Array(await response.arrayBuffer()), response };
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b));
const files = (relay: { dataDir: string }): string[] => readdirSync(path.join(relay.dataDir, 'attachments')).sort();

async function metric(base: string, name: string): Promise<number> {
  const text = await scrapeMetrics(base);
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

describe('attachment uploads and downloads at the relay', () => {
  let relay: TestRelay;
  let alice: RelayClient;
  let bob: RelayClient;

  beforeAll(async () => {
    relay = await startTestRelay({
      limits: { attachmentQuotaBytes: 9 * MiB, attachmentMaxConcurrentUploads: 2, attachmentDownloadsPerIp: { capacity: 100_000, refillPerSecond: 100_000 } },
    });
    alice = (await registerAccount(relay.url, new TestAccount())).get(1)!;
    bob = (await registerAccount(relay.url, new TestAccount())).get(1)!;
  });
  afterAll(async () => {
    alice?.close();
    bob?.close();
    await relay?.stop();
  });

  it('an upload in two PATCHes comes back byte for byte, whole and by ranges, with no token at all', async () => {
    const token = await alice.sessionToken();
    const bytes = blob(MiB + 1);
    const url = await created(relay.url, token, bytes.length);
    let h = await head(url, token);
    expect([h.status, h.headers.get('upload-offset'), h.headers.get('upload-length')]).toEqual([200, '0', String(bytes.length)]);
    expect((await patch(url, token, 0, bytes.subarray(0, 700_000))).headers.get('upload-offset')).toBe('700000');
    h = await head(url, token);
    expect(h.headers.get('upload-offset')).toBe('700000');
    // A PATCH from a stale offset changes nothing (tus 409).
    expect((await patch(url, token, 0, bytes.subarray(0, 10))).status).toBe(409);
    expect((await patch(url, token, 700_000, bytes.subarray(700_000))).status).toBe(204);

    const whole = await download(url);
    expect(whole.status).toBe(200);
    expect(whole.response.headers.get('accept-ranges')).toBe('bytes');
    expect(same(whole.bytes, bytes)).toBe(true);
    const middle = await download(url, { range: 'bytes=100-199' });
    expect([middle.status, middle.response.headers.get('content-range')]).toEqual([206, `bytes 100-199/${bytes.length}`]);
    expect(same(middle.bytes, bytes.subarray(100, 200))).toBe(true);
    const tail = await download(url, { range: `bytes=${bytes.length - 5}-` });
    expect(same(tail.bytes, bytes.subarray(bytes.length - 5))).toBe(true);
    const beyond = await download(url, { range: `bytes=${bytes.length}-` });
    expect([beyond.status, beyond.response.headers.get('content-range')]).toEqual([416, `bytes */${bytes.length}`]);
  });

  it('uploads need a session token; a download needs none and works with nothing but the id', async () => {
    expect(await errorCode(await create(relay.url, null, blob(10).length))).toBe('UNAUTHORIZED');
    const token = await alice.sessionToken();
    const bytes = blob(100);
    const url = await created(relay.url, token, bytes.length);
    for (const r of [await head(url, null), await patch(url, null, 0, bytes), await remove(url, null)]) expect(r.status).toBe(401);
    expect((await patch(url, token, 0, bytes)).status).toBe(204);
    const anonymous = await fetch(url, { credentials: 'omit' });
    expect(anonymous.status).toBe(200);
    expect(same(new Uint8Array(await anonymous.arrayBuffer()), bytes)).toBe(true);
    // An unfinished upload is not downloadable, and an unknown id looks the same.
    const unfinished = await created(relay.url, token, bytes.length);
    expect(await errorCode(await fetch(unfinished))).toBe('NOT_FOUND');
    expect(await errorCode(await fetch(`${relay.url}/v1/attachments/AAAAAAAAAAAAAAAAAAAAAA`))).toBe('NOT_FOUND');
    expect(await errorCode(await fetch(`${relay.url}/v1/attachments/not-an-id`))).toBe('NOT_FOUND');
    await remove(unfinished, token);
  });

  it('another account can neither see, continue nor cancel an upload: it is NOT_FOUND to them', async () => {
    const token = await alice.sessionToken();
    const other = await bob.sessionToken();
    const bytes = blob(1000);
    const url = await created(relay.url, token, bytes.length);
    expect(await errorCode(await fetch(url, { method: 'PATCH', headers: { ...TUS, ...auth(other), 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: bytes }))).toBe('NOT_FOUND');
    expect((await head(url, other)).status).toBe(404);
    expect(await errorCode(await remove(url, other))).toBe('NOT_FOUND');
    expect((await head(url, token)).headers.get('upload-offset')).toBe('0');
    await remove(url, token);
  });

  it('a declared 3 GiB upload is ATTACHMENT_TOO_LARGE before any byte is stored', async () => {
    const before = files(relay);
    const createdBefore = await metric(relay.url, 'parley_relay_attachment_uploads_created_total');
    const threeGiB = attachmentLayout(3 * 1024 ** 3).ciphertextLength;
    const r = await create(relay.url, await alice.sessionToken(), threeGiB);
    expect(r.status).toBe(413);
    expect(await errorCode(r)).toBe('ATTACHMENT_TOO_LARGE');
    expect(files(relay)).toEqual(before);
    expect(await metric(relay.url, 'parley_relay_attachment_uploads_created_total')).toBe(createdBefore);
    const wellKnown = (await (await fetch(`${relay.url}/.well-known/parley`)).json()) as { attachments: { maxBytes: number } };
    expect(wellKnown.attachments.maxBytes).toBe(2 * 1024 ** 3);
  });

  it('lengths no ciphertext has, deferred lengths, metadata and data in the creation request are MALFORMED', async () => {
    const token = await alice.sessionToken();
    for (const length of [0, 52, 53 + 1000 + 16]) expect(await errorCode(await create(relay.url, token, length)), String(length)).toBe('MALFORMED');
    expect(await errorCode(await create(relay.url, token, 69, { 'upload-metadata': 'filename aGVsbG8=' }))).toBe('MALFORMED');
    const deferred = await fetch(`${relay.url}/v1/attachments`, { method: 'POST', headers: { ...TUS, ...auth(token), 'upload-defer-length': '1' } });
    expect(await errorCode(deferred)).toBe('MALFORMED');
    const withData = await fetch(`${relay.url}/v1/attachments`, { method: 'POST', headers: { ...TUS, ...auth(token), 'upload-length': '70' }, body: new Uint8Array(70) });
    expect(await errorCode(withData)).toBe('MALFORMED');
    const noVersion = await fetch(`${relay.url}/v1/attachments`, { method: 'POST', headers: { ...auth(token), 'upload-length': '69' } });
    expect(await errorCode(noVersion)).toBe('MALFORMED');
  });

  it('an upload past the account quota is QUOTA_EXCEEDED; cancelling another frees the room', async () => {
    const token = await bob.sessionToken();
    const four = blob(4 * MiB, 'quota'); // 4 MiB and a few bytes; the quota is 9 MiB: two fit, three do not
    const first = await upload(relay.url, token, four);
    const second = await created(relay.url, token, four.length);
    const refused = await create(relay.url, token, four.length);
    expect([refused.status, await errorCode(refused)]).toEqual([507, 'QUOTA_EXCEEDED']);
    expect((await remove(second, token)).status).toBe(204);
    const third = await created(relay.url, token, four.length);
    await remove(third, token);
    await remove(first, token);
  });

  it('a third unfinished upload at once is TOO_MANY_UPLOADS; finishing one lets the next in', async () => {
    const token = await alice.sessionToken();
    const small = blob(10);
    const a = await created(relay.url, token, small.length);
    const b = await created(relay.url, token, small.length);
    const refused = await create(relay.url, token, small.length);
    expect([refused.status, await errorCode(refused)]).toEqual([429, 'TOO_MANY_UPLOADS']);
    expect(await metric(relay.url, 'parley_relay_attachment_uploads_in_progress')).toBe(2);
    expect((await patch(a, token, 0, small)).status).toBe(204);
    const c = await created(relay.url, token, small.length);
    for (const url of [a, b, c]) await remove(url, token);
  });

  it('cancelling (tus termination) deletes a partial upload at the relay at once', async () => {
    const token = await alice.sessionToken();
    const bytes = blob(2 * MiB);
    const url = await created(relay.url, token, bytes.length);
    await patch(url, token, 0, bytes.subarray(0, MiB));
    const id = url.slice(url.lastIndexOf('/') + 1);
    expect(files(relay)).toContain(id);
    const terminated = await metric(relay.url, 'parley_relay_attachment_uploads_terminated_total');
    expect((await remove(url, token)).status).toBe(204);
    expect(files(relay).filter((f) => f.startsWith(id))).toEqual([]);
    expect((await head(url, token)).status).toBe(404);
    expect(await metric(relay.url, 'parley_relay_attachment_uploads_terminated_total')).toBe(terminated + 1);
  });

  it('downloads are limited per address (RATE_LIMITED once the budget is spent)', async () => {
    const limited = await startTestRelay({ limits: { attachmentDownloadsPerIp: { capacity: 2, refillPerSecond: 0.001 } } });
    try {
      const carol = (await registerAccount(limited.url, new TestAccount())).get(1)!;
      const url = await upload(limited.url, await carol.sessionToken(), blob(10));
      expect((await download(url)).status).toBe(200);
      expect((await download(url, { range: 'bytes=0-0' })).status).toBe(206);
      const third = await fetch(url);
      expect([third.status, await errorCode(third)]).toEqual([429, 'RATE_LIMITED']);
      expect(third.headers.get('retry-after')).not.toBeNull();
      carol.close();
    } finally {
      await limited.stop();
    }
  });
});

describe('attachment expiry', () => {
  /** A relay on a manual clock with one registered account whose client follows the same clock. */
  async function timedRelay(): Promise<{ clock: ManualClock; relay: TestRelay; client: RelayClient }> {
    const clock = new ManualClock(Date.now());
    const relay = await startTestRelay({ clock: clock.now });
    const account = new TestAccount();
    await registerAccount(relay.url, account);
    return { clock, relay, client: account.client(relay.url, 1, { clock: clock.now }) };
  }

  it('30 days after its upload an attachment is ATTACHMENT_EXPIRED, its file is swept, and later it is NOT_FOUND', async () => {
    const { clock, relay, client } = await timedRelay();
    try {
      const bytes = blob(5000);
      const url = await upload(relay.url, await client.sessionToken(), bytes);
      const id = url.slice(url.lastIndexOf('/') + 1);
      clock.advance(30 * 24 * 3600_000 - 1);
      expect((await download(url)).status).toBe(200);
      clock.advance(1);
      // Expired before the sweep has run: the answer does not wait for it.
      expect(await errorCode(await fetch(url))).toBe('ATTACHMENT_EXPIRED');
      expect((await fetch(url)).status).toBe(410);
      const swept = await relay.sweep();
      expect(swept.attachments).toMatchObject({ expired: 1 });
      expect(files(relay).filter((f) => f.startsWith(id))).toEqual([]);
      expect(await errorCode(await fetch(url))).toBe('ATTACHMENT_EXPIRED');
      expect(await metric(relay.url, 'parley_relay_attachment_bytes_stored')).toBe(0);
      expect(await metric(relay.url, 'parley_relay_attachment_sweeps_total')).toBe(1);
      clock.advance(30 * 24 * 3600_000);
      await relay.sweep();
      expect(await errorCode(await fetch(url))).toBe('NOT_FOUND');
      client.close();
    } finally {
      await relay.stop();
    }
  });

  it('an unfinished upload is discarded 24 h after it was created, and a file without a record is removed', async () => {
    const { clock, relay, client } = await timedRelay();
    try {
      const bytes = blob(MiB);
      const url = await created(relay.url, await client.sessionToken(), bytes.length);
      await patch(url, await client.sessionToken(), 0, bytes.subarray(0, 1000));
      const id = url.slice(url.lastIndexOf('/') + 1);
      clock.advance(24 * 3600_000 - 1);
      expect((await relay.sweep()).attachments.partial).toBe(0);
      // A leftover of a crash between a record's deletion and its file's: no record, one file.
      const orphan = 'A'.repeat(21) + 'Q';
      writeFileSync(path.join(relay.dataDir, 'attachments', orphan), 'x');
      clock.advance(1);
      const swept = await relay.sweep();
      expect(swept.attachments).toMatchObject({ partial: 1, orphans: 1 });
      expect(files(relay).filter((f) => f.startsWith(id) || f === orphan)).toEqual([]);
      expect((await head(url, await client.sessionToken())).status).toBe(404);
      expect(await metric(relay.url, 'parley_relay_attachment_uploads_in_progress')).toBe(0);
      client.close();
    } finally {
      await relay.stop();
    }
  });
});

describe('a relay killed in the middle of an upload', () => {
  const dirs: string[] = [];
  const relays: RelayProcess[] = [];
  afterAll(async () => {
    for (const r of relays) await r.kill();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('resumes from what it had written: the bytes sent again stay below one segment plus the tus chunk', async () => {
    const dataDir = tempDir();
    dirs.push(dataDir);
    const first = await spawnRelay({ dataDir });
    relays.push(first);
    const account = new TestAccount();
    const client = (await registerAccount(first.url, account)).get(1)!;
    const bytes = blob(12 * MiB, 'restart');
    const chunk = 8 * MiB;
    const url = await created(first.url, await client.sessionToken(), bytes.length);

    // One PATCH of `chunk` bytes, fed slowly; the relay is killed once 5 MiB are on the wire.
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent >= chunk) return controller.close();
        const piece = bytes.subarray(sent, Math.min(sent + 256 * 1024, chunk));
        sent += piece.length;
        controller.enqueue(piece);
        if (sent >= 5 * MiB && sent - piece.length < 5 * MiB) {
          await new Promise((r) => setTimeout(r, 200));
          await first.kill();
        }
      },
    });
    const interrupted = await fetch(url, {
      method: 'PATCH',
      headers: { ...TUS, ...auth(await client.sessionToken()), 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' },
      body,
      duplex: 'half',
    } as RequestInit).catch((e: unknown) => e);
    expect(interrupted).toBeInstanceOf(Error);
    client.close();

    const second = await spawnRelay({ dataDir, port: first.port });
    relays.push(second);
    const again = account.client(second.url);
    const token = await again.sessionToken();
    const h = await head(url, token);
    const committed = Number(h.headers.get('upload-offset'));
    // The relay kept what it had received before it died (all but what was still in flight)…
    expect(committed).toBeGreaterThanOrEqual(5 * MiB - ATTACHMENT_SEGMENT_SIZE);
    expect(committed).toBeLessThanOrEqual(sent);
    // …so what the client sends again is what it had put on the wire beyond that offset.
    const sentAgain = sent - committed;
    expect(sentAgain).toBeLessThan(ATTACHMENT_SEGMENT_SIZE + chunk);
    expect((await patch(url, token, committed, bytes.subarray(committed))).status).toBe(204);
    const back = await download(url);
    expect(same(back.bytes, bytes)).toBe(true);
    again.close();
  });
});
