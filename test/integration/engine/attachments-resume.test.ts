/**
 * Transfers that lost the relay resume by themselves (issue 13, docs/adr/0021): engines talk to the
 * real relay as a child process through a TCP forwarder (test/support) that counts the bytes the engines send. The
 * relay is killed in the middle of an upload and stays away until the engine's transfer has given
 * up: the attachment shows as paused (not failed; the message stays `sending`), and once a relay is
 * back on the same address and data folder the upload continues from the relay's committed offset
 * with no user action — the bytes sent again are counted and stay below one segment plus a tus
 * chunk (a restart from zero would send at least 16 MiB again). The same for a download.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageView } from '../../../shared/api/view-models.js';
import { ATTACHMENT_SEGMENT_SIZE } from '../../../shared/protocol/constants.js';
import { attachmentLayout } from '../../../shared/protocol/attachment-cipher.js';
import { deterministicRng, pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';
import { DEFAULT_CHUNK_BYTES } from '../../../electron/engine/files/transfer.js';
import { spawnRelay, type RelayProcess } from '../relay/helpers/relay-process.js';
import { readAll, sendFile } from '../../support/attachments.js';
import { TestEngine, waitFor } from '../../support/engines.js';
import { Forwarder } from '../../support/forwarder.js';

const MiB = 1024 * 1024;
/** Two quick attempts, so the transfer gives up (and pauses) while the relay is away. */
const GIVE_UP_FAST = { maxAttempts: 2, backoff: { initialDelayMs: 20, maxDelayMs: 50, factor: 2 }, rng: deterministicRng('resume retries') };

let dir: string;
const relays: RelayProcess[] = [];
const engines: TestEngine[] = [];
const proxies: Forwarder[] = [];
beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'parley-resume-'));
});
afterAll(async () => {
  for (const e of engines) await e.dispose();
  for (const p of proxies) await p.close();
  for (const r of relays) await r.kill();
  rmSync(dir, { recursive: true, force: true });
});

async function relayAt(dataDir: string, port?: number): Promise<RelayProcess> {
  const relay = await spawnRelay({ dataDir, ...(port !== undefined && { port }) });
  relays.push(relay);
  return relay;
}

/** The newest view of message `id` the engine emitted (added or updated). */
function latest(engine: TestEngine, id: string): MessageView | undefined {
  const views = [...engine.payloads('message:added'), ...engine.payloads('message:updated')].map((p) => p.message).filter((m) => m.id === id);
  return views.at(-1);
}

/** A relay process with its data in `<dir>/<name>`, a forwarder in front of it, and Alice and Bob (mutual contacts) through it. */
async function setup(name: string): Promise<{ dataDir: string; first: RelayProcess; proxy: Forwarder; alice: TestEngine; bob: TestEngine; aToB: string }> {
  const dataDir = path.join(dir, name);
  const first = await relayAt(dataDir);
  const proxy = await Forwarder.start(first.url);
  proxies.push(proxy);
  const alice = await TestEngine.create({ relayUrl: proxy.url, name: 'alice', transferRetry: GIVE_UP_FAST });
  engines.push(alice);
  const bob = await TestEngine.create({ relayUrl: proxy.url, name: 'bob', transferRetry: GIVE_UP_FAST });
  engines.push(bob);
  const aToB = await alice.add(bob);
  await bob.add(alice);
  return { dataDir, first, proxy, alice, bob, aToB };
}

describe('attachment transfers after the relay went away', () => {
  it('an upload whose relay was killed pauses (not failed) and, once a relay is back, completes by itself from the committed offset', async () => {
    const { dataDir, first, proxy, alice, bob, aToB } = await setup('upload');
    const bytes = pseudoRandomBytes('resume-upload', 32 * MiB + 3);
    const ciphertextLength = attachmentLayout(bytes.length).ciphertextLength;

    // Killed synchronously once 16 MiB more than before the send went through the proxy.
    let killed: Promise<void> | undefined;
    const start = proxy.clientBytes;
    proxy.onClientBytes = (total) => {
      if (killed === undefined && total - start >= 16 * MiB) killed = first.kill();
    };
    const sent = await sendFile(alice, aToB, 'report.bin', bytes);
    await waitFor(() => killed !== undefined, 'the relay killed mid-upload', 30_000);
    await killed;
    proxy.onClientBytes = null;

    // The transfer gives up (two quick attempts) and pauses: the row waits, nothing failed.
    await alice.engine.messaging!.attachments.idle();
    await waitFor(() => latest(alice, sent.id)?.attachment?.paused === true, 'the upload shown as paused', 10_000);
    const paused = (await alice.call('messages:openPage', { conversationId: aToB, anchor: { kind: 'latest' }, limit: 10 })).messages.find((m) => m.id === sent.id)!;
    expect(paused.status).toBe('sending');
    expect(paused.attachment).toMatchObject({ state: 'uploading', paused: true, error: null });

    // A relay on the same address and data: the engine reconnects and the upload goes on unasked.
    const sentBeforeRestart = proxy.clientBytes;
    relays.push(await spawnRelay({ dataDir, port: first.port }));
    await alice.waitStatus(sent.id, 'delivered', 60_000);
    expect(latest(alice, sent.id)?.attachment).toMatchObject({ state: 'sent', paused: false });
    expect(sentBeforeRestart - start).toBeLessThan(ciphertextLength);

    // Everything the engines sent, less the ciphertext once, is what went again (plus a few KiB of
    // requests and frames): below one segment plus one tus chunk, so not a restart from zero.
    const sentAgain = proxy.clientBytes - start - ciphertextLength;
    expect(sentAgain).toBeGreaterThanOrEqual(0);
    expect(sentAgain).toBeLessThan(ATTACHMENT_SEGMENT_SIZE + DEFAULT_CHUNK_BYTES);

    const m = await (async () => {
      let found: MessageView | undefined;
      await waitFor(() => (found = bob.payloads('message:added').map((p) => p.message).find((x) => x.kind === 'attachment')) !== undefined, 'the attachment at bob', 30_000);
      return found!;
    })();
    expect((await readAll(bob, m.id)).bytes.equals(Buffer.from(bytes))).toBe(true);
  });

  it('a download whose relay went away pauses, refuses to open as RELAY_UNAVAILABLE meanwhile, and completes by itself once the relay is back', async () => {
    const { dataDir, first, alice, bob, aToB } = await setup('download');
    const bytes = pseudoRandomBytes('resume-download', 3 * MiB + 11);
    const sent = await sendFile(alice, aToB, 'notes.bin', bytes);
    await alice.waitStatus(sent.id, 'delivered', 30_000);
    const m = bob.payloads('message:added').map((p) => p.message).find((x) => x.kind === 'attachment')!;

    await first.kill();
    await waitFor(() => bob.payloads('connection').at(-1)?.state === 'offline', 'bob offline', 10_000);
    // Opening now starts the download, which gives up and pauses: a typed error, not "damaged".
    const refused = await bob.result('attachments:open', { messageId: m.id });
    expect(refused).toMatchObject({ ok: false, error: { code: 'RELAY_UNAVAILABLE' } });
    await waitFor(() => latest(bob, m.id)?.attachment?.paused === true, 'the download shown as paused', 10_000);
    expect(latest(bob, m.id)?.attachment).toMatchObject({ state: 'downloading', error: null });

    relays.push(await spawnRelay({ dataDir, port: first.port }));
    await waitFor(() => latest(bob, m.id)?.attachment?.state === 'downloaded', 'the download completed by itself', 60_000);
    expect(latest(bob, m.id)?.attachment?.paused).toBe(false);
    expect((await readAll(bob, m.id)).bytes.equals(Buffer.from(bytes))).toBe(true);
  });
});
