/**
 * The engine's resumable transfers (electron/engine/files/transfer.ts) against the real relay as a child process
 * (dist/server/main.js; the engine may not import server/): files encrypted into the spool, uploaded
 * with tus, downloaded with ranges and decrypted again; a relay killed in the middle of an upload and
 * of a download, an app restart (the transfer abandoned and started again from its persisted state)
 * in the middle of both — each resumes from the last committed offset, never from zero, and the
 * bytes sent again are counted. Cancel deletes the partial upload at the relay; the relay's limits
 * arrive as typed errors.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTACHMENT_SEGMENT_SIZE } from '../../../shared/protocol/constants.js';
import { deterministicRng, pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';
import { registerAccount, TestAccount } from '../relay/helpers/accounts.js';
import { spawnRelay, type RelayProcess } from '../relay/helpers/relay-process.js';
import type { RelayClient } from '../../../electron/engine/relay/client.js';
import { isTransferError, type TransferErrorCode } from '../../../electron/engine/files/errors.js';
import { decryptToFile, encryptToSpool, type SpooledAttachment } from '../../../electron/engine/files/file-cipher.js';
import { cancelUpload, checkRelayUrl, downloadAttachment, uploadSpool, type UploadState, type UploadStateStore } from '../../../electron/engine/files/transfer.js';

const MiB = 1024 * 1024;
/** Quick retries: a test relay comes back within a second. */
const RETRY = { maxAttempts: 200, backoff: { initialDelayMs: 20, maxDelayMs: 200, factor: 2 }, rng: deterministicRng('transfer retries') };

let dir: string;
const relays: RelayProcess[] = [];
const clients: RelayClient[] = [];
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'parley-transfer-'));
});
afterAll(async () => {
  for (const c of clients) c.close();
  for (const r of relays) await r.kill();
  rmSync(dir, { recursive: true, force: true });
});

/** An upload state kept in a JSON file, as the engine keeps it in its database: it survives a restart. */
function fileState(file: string): UploadStateStore & { peek(): UploadState | undefined } {
  const peek = (): UploadState | undefined => (existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as UploadState) : undefined);
  return {
    peek,
    load: async () => peek(),
    save: async (s) => writeFileSync(file, JSON.stringify(s)),
    clear: async () => rmSync(file, { force: true }),
  };
}

async function startRelay(name: string, limits: Record<string, unknown> = {}, port?: number): Promise<RelayProcess> {
  const relay = await spawnRelay({ dataDir: path.join(dir, name), limits, ...(port !== undefined && { port }) });
  relays.push(relay);
  return relay;
}

async function account(url: string): Promise<{ account: TestAccount; client: RelayClient }> {
  const a = new TestAccount();
  const client = (await registerAccount(url, a)).get(1)!;
  clients.push(client);
  return { account: a, client };
}

let fileCount = 0;
async function spooled(length: number): Promise<{ plaintext: Uint8Array; spooled: SpooledAttachment; work: string }> {
  const work = path.join(dir, `file-${fileCount++}`);
  mkdirSync(work, { recursive: true });
  const plaintext = pseudoRandomBytes(work, length);
  writeFileSync(path.join(work, 'source.bin'), plaintext);
  return { plaintext, spooled: await encryptToSpool(path.join(work, 'source.bin'), { spoolDir: path.join(work, 'spool') }), work };
}

/** Downloads, decrypts and compares with the original plaintext. */
async function receive(url: string, attachmentId: Uint8Array, s: SpooledAttachment, plaintext: Uint8Array, work: string): Promise<void> {
  const ciphertext = path.join(work, 'received.spool');
  await downloadAttachment({ relayUrl: url, attachmentId, length: s.ciphertextLength, destination: ciphertext, retry: RETRY });
  await decryptToFile(ciphertext, path.join(work, 'received.bin'), s.descriptor);
  expect(readFileSync(path.join(work, 'received.bin')).equals(Buffer.from(plaintext))).toBe(true);
}

async function codeOf(p: Promise<unknown>): Promise<TransferErrorCode | 'no error' | unknown> {
  try {
    await p;
  } catch (e) {
    return isTransferError(e) ? e.code : e;
  }
  return 'no error';
}

describe('engine transfers through the real relay', () => {
  it('a file encrypted into the spool, uploaded and downloaded decrypts to the same bytes', async () => {
    const relay = await startRelay('plain');
    const { client } = await account(relay.url);
    const { plaintext, spooled: s, work } = await spooled(5 * MiB + 123);
    const state = fileState(path.join(work, 'upload.json'));
    const progress: number[] = [];
    const up = await uploadSpool({
      relayUrl: relay.url,
      spoolPath: s.spoolPath,
      length: s.ciphertextLength,
      sessionToken: () => client.sessionToken(),
      state,
      chunkBytes: 2 * MiB,
      onProgress: (b) => progress.push(b),
    });
    expect(up.bytes).toBe(s.ciphertextLength);
    expect(up.resumes).toBe(0);
    expect(progress.at(-1)).toBe(s.ciphertextLength);
    expect(state.peek()).toBeUndefined();
    await receive(relay.url, up.attachmentId, s, plaintext, work);
    // A message announcing another size than the relay holds is refused, and nothing is kept.
    const elsewhere = path.join(work, 'other.spool');
    expect(await codeOf(downloadAttachment({ relayUrl: relay.url, attachmentId: up.attachmentId, length: s.ciphertextLength + 16, destination: elsewhere }))).toBe(
      'SIZE_MISMATCH',
    );
    expect(existsSync(elsewhere)).toBe(false);
  });

  it('a relay killed mid-upload and restarted: the upload resumes from its committed offset; the bytes sent again stay below one segment plus the chunk', async () => {
    const first = await startRelay('kill-upload');
    const { account: a, client } = await account(first.url);
    const { plaintext, spooled: s, work } = await spooled(24 * MiB);
    const chunk = 4 * MiB;
    let killed: Promise<RelayProcess> | undefined;
    const result = await uploadSpool({
      relayUrl: first.url,
      spoolPath: s.spoolPath,
      length: s.ciphertextLength,
      sessionToken: () => client.sessionToken(),
      state: fileState(path.join(work, 'upload.json')),
      chunkBytes: chunk,
      retry: RETRY,
      onProgress: (b) => {
        if (b >= 8 * MiB && killed === undefined) {
          killed = first.kill().then(() => startRelay('kill-upload', {}, first.port));
        }
      },
    });
    const second = await killed!;
    expect(result.resumes).toBeGreaterThanOrEqual(1);
    const sentAgain = result.bytes - s.ciphertextLength;
    expect(sentAgain).toBeGreaterThanOrEqual(0);
    expect(sentAgain).toBeLessThan(ATTACHMENT_SEGMENT_SIZE + chunk);
    const again = a.client(second.url);
    clients.push(again);
    await receive(second.url, result.attachmentId, s, plaintext, work);
  });

  it('a relay killed mid-download and restarted: the download resumes from the bytes it has', async () => {
    const first = await startRelay('kill-download');
    const { client } = await account(first.url);
    const { plaintext, spooled: s, work } = await spooled(24 * MiB);
    const up = await uploadSpool({
      relayUrl: first.url,
      spoolPath: s.spoolPath,
      length: s.ciphertextLength,
      sessionToken: () => client.sessionToken(),
      state: fileState(path.join(work, 'upload.json')),
    });
    let killed: Promise<RelayProcess> | undefined;
    const ciphertext = path.join(work, 'received.spool');
    const stats = await downloadAttachment({
      relayUrl: first.url,
      attachmentId: up.attachmentId,
      length: s.ciphertextLength,
      destination: ciphertext,
      retry: RETRY,
      onProgress: (b) => {
        if (b >= 8 * MiB && killed === undefined) killed = first.kill().then(() => startRelay('kill-download', {}, first.port));
      },
    });
    await killed;
    expect(stats.resumes).toBeGreaterThanOrEqual(1);
    // Everything received was kept: nothing came twice.
    expect(stats.bytes).toBe(s.ciphertextLength);
    await decryptToFile(ciphertext, path.join(work, 'received.bin'), s.descriptor);
    expect(readFileSync(path.join(work, 'received.bin')).equals(Buffer.from(plaintext))).toBe(true);
  });

  it('an app restart mid-upload and mid-download: a new transfer from the persisted state picks up where the relay and the partial file are', async () => {
    const relay = await startRelay('app-restart');
    const { client } = await account(relay.url);
    const { plaintext, spooled: s, work } = await spooled(16 * MiB);
    const stateFile = path.join(work, 'upload.json');
    const chunk = 2 * MiB;
    const quit = new AbortController();
    const options = {
      relayUrl: relay.url,
      spoolPath: s.spoolPath,
      length: s.ciphertextLength,
      sessionToken: () => client.sessionToken(),
      chunkBytes: chunk,
    };
    const stopped = await codeOf(
      uploadSpool({ ...options, state: fileState(stateFile), signal: quit.signal, onProgress: (b) => b >= 6 * MiB && quit.abort() }),
    );
    expect(stopped).toBe('CANCELLED');
    const persisted = fileState(stateFile).peek()!;
    expect(persisted.offset).toBeGreaterThanOrEqual(6 * MiB);
    // The "restarted app": a fresh call with only the persisted state.
    const resumed = await uploadSpool({ ...options, state: fileState(stateFile) });
    expect(resumed.bytes).toBeLessThanOrEqual(s.ciphertextLength - persisted.offset);
    expect(resumed.bytes).toBeGreaterThan(0);

    const destination = path.join(work, 'received.spool');
    const pause = new AbortController();
    const first = await codeOf(
      downloadAttachment({
        relayUrl: relay.url,
        attachmentId: resumed.attachmentId,
        length: s.ciphertextLength,
        destination,
        signal: pause.signal,
        onProgress: (b) => b >= 5 * MiB && pause.abort(),
      }),
    );
    expect(first).toBe('CANCELLED');
    const kept = statSync(`${destination}.partial`).size;
    expect(kept).toBeGreaterThanOrEqual(5 * MiB);
    const rest = await downloadAttachment({ relayUrl: relay.url, attachmentId: resumed.attachmentId, length: s.ciphertextLength, destination });
    expect(rest.bytes).toBe(s.ciphertextLength - kept);
    await decryptToFile(destination, path.join(work, 'received.bin'), s.descriptor);
    expect(readFileSync(path.join(work, 'received.bin')).equals(Buffer.from(plaintext))).toBe(true);
  });

  it('a persisted upload resumes against the relay at its new address (the state names the attachment, not the host)', async () => {
    const first = await startRelay('moved');
    const { account: a, client } = await account(first.url);
    const { plaintext, spooled: s, work } = await spooled(6 * MiB);
    const stateFile = path.join(work, 'upload.json');
    const stop = new AbortController();
    const common = { spoolPath: s.spoolPath, length: s.ciphertextLength, chunkBytes: MiB };
    await codeOf(
      uploadSpool({ ...common, relayUrl: first.url, sessionToken: () => client.sessionToken(), state: fileState(stateFile), signal: stop.signal, onProgress: (b) => b >= 3 * MiB && stop.abort() }),
    );
    const before = fileState(stateFile).peek()!.offset;
    await first.kill();
    const moved = await startRelay('moved');
    expect(moved.port).not.toBe(first.port);
    const again = a.client(moved.url);
    clients.push(again);
    const resumed = await uploadSpool({ ...common, relayUrl: moved.url, sessionToken: () => again.sessionToken(), state: fileState(stateFile) });
    expect(resumed.bytes).toBeLessThanOrEqual(s.ciphertextLength - before + MiB);
    await receive(moved.url, resumed.attachmentId, s, plaintext, work);
  });

  it('cancel deletes the partial upload at the relay at once and forgets the state', async () => {
    const relay = await startRelay('cancel');
    const { client } = await account(relay.url);
    const { spooled: s, work } = await spooled(6 * MiB);
    const state = fileState(path.join(work, 'upload.json'));
    const stop = new AbortController();
    await codeOf(
      uploadSpool({
        relayUrl: relay.url,
        spoolPath: s.spoolPath,
        length: s.ciphertextLength,
        sessionToken: () => client.sessionToken(),
        state,
        chunkBytes: MiB,
        signal: stop.signal,
        onProgress: (b) => b >= 2 * MiB && stop.abort(),
      }),
    );
    const uploadUrl = state.peek()!.uploadUrl;
    const id = uploadUrl.slice(uploadUrl.lastIndexOf('/') + 1);
    expect(existsSync(path.join(dir, 'cancel', 'attachments', id))).toBe(true);
    await cancelUpload({ relayUrl: relay.url, state, sessionToken: () => client.sessionToken() });
    expect(existsSync(path.join(dir, 'cancel', 'attachments', id))).toBe(false);
    expect(state.peek()).toBeUndefined();
    const head = await fetch(uploadUrl, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0', authorization: `Bearer ${await client.sessionToken()}` } });
    expect(head.status).toBe(404);
  });

  it('the relay limits arrive as typed errors: ATTACHMENT_TOO_LARGE before any byte, ATTACHMENT_EXPIRED, NOT_FOUND', async () => {
    const relay = await startRelay('limits', { attachmentMaxBytes: 2 * MiB, attachmentRetentionMs: 1 });
    const { client } = await account(relay.url);
    const big = await spooled(3 * MiB);
    const state = fileState(path.join(big.work, 'upload.json'));
    const common = { relayUrl: relay.url, sessionToken: () => client.sessionToken(), state };
    expect(await codeOf(uploadSpool({ ...common, spoolPath: big.spooled.spoolPath, length: big.spooled.ciphertextLength }))).toBe('ATTACHMENT_TOO_LARGE');
    expect(state.peek()).toBeUndefined();
    const small = await spooled(1000);
    const up = await uploadSpool({ ...common, spoolPath: small.spooled.spoolPath, length: small.spooled.ciphertextLength });
    await new Promise((r) => setTimeout(r, 5));
    const destination = path.join(small.work, 'received.spool');
    expect(await codeOf(downloadAttachment({ relayUrl: relay.url, attachmentId: up.attachmentId, length: small.spooled.ciphertextLength, destination }))).toBe(
      'ATTACHMENT_EXPIRED',
    );
    expect(existsSync(destination)).toBe(false);
    expect(await codeOf(downloadAttachment({ relayUrl: relay.url, attachmentId: new Uint8Array(16), length: 100, destination }))).toBe('NOT_FOUND');
  });

  it('only https relays, or plain http on a loopback address', () => {
    expect(checkRelayUrl('https://relay.example.org').hostname).toBe('relay.example.org');
    expect(checkRelayUrl('http://127.0.0.1:8787').port).toBe('8787');
    expect(checkRelayUrl('http://[::1]:8787').hostname).toBe('[::1]');
    for (const bad of ['http://relay.example.org', 'http://10.0.0.1', 'ftp://127.0.0.1', 'not a url']) {
      let code: unknown;
      try {
        checkRelayUrl(bad);
      } catch (e) {
        code = isTransferError(e) ? e.code : e;
      }
      expect(code, bad).toBe('INSECURE_URL');
    }
  });
});
