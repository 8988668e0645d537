/**
 * A relay whose disk fills up (issue 10, item 16), for real: the relay bin runs on a data dir on a
 * 4 MiB tmpfs mounted for the test (needs root, as on CI; skipped with the reason otherwise), and a
 * filler file takes what the relay does not use. Sends then fail: each gets UNAVAILABLE with a retry
 * hint, the cause (SQLITE_FULL or ENOSPC) is logged once for the whole episode — never SQLite's
 * "cannot rollback - no transaction is active" — and counted in a metric, and /healthz answers 503.
 * Once the filler is gone the relay notices by itself (its probe write succeeds), logs the recovery
 * once, answers 200 again, and the sender's retry goes through.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RelayClient } from '../../../electron/engine/relay/client.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { Inbox } from './helpers/inbox.js';
import { scrapeMetrics, spawnRelay, type RelayProcess } from './helpers/relay.js';

const TMPFS_BYTES = 4 * 1024 * 1024;
/** Free space left beside the filler: a few envelopes' worth. */
const LEFT_FREE_BYTES = 512 * 1024;
const ENVELOPE_BYTES = 64 * 1024;

function mountTmpfs(): string | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'mounting a tmpfs needs root' };
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-disk-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return { skip: `mount -t tmpfs failed: ${(e as Error).message}` };
  }
  return dir;
}

const mount = mountTmpfs();
const mountDir = typeof mount === 'string' ? mount : undefined;
if (typeof mount !== 'string') console.warn(`disk-full.test skipped: ${mount.skip}`);

let relay: RelayProcess | undefined;
const clients: RelayClient[] = [];
afterAll(async () => {
  for (const c of clients) c.close();
  await relay?.kill();
  if (mountDir) {
    execFileSync('umount', [mountDir]);
    rmSync(mountDir, { recursive: true, force: true });
  }
});

const events = (r: RelayProcess, event: string) =>
  r
    .stdoutLines()
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { event?: string; cause?: string })
    .filter((l) => l.event === event);

async function until(condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!mountDir)('disk full at the relay (issue 10, item 16)', () => {
  it('logs the real cause once per episode with a metric, answers 503 on /healthz while writes fail, and recovers by itself', async () => {
    const dataDir = path.join(mountDir!, 'relay');
    relay = await spawnRelay({ dataDir });
    const alice = new TestAccount();
    const bob = new TestAccount();
    const a = (await registerAccount(relay.url, alice)).get(1)!;
    const b = (await registerAccount(relay.url, bob)).get(1)!;
    clients.push(a, b);
    await a.connect();

    const filler = path.join(mountDir!, 'filler');
    const { bavail, bsize } = statfsSync(mountDir!);
    writeFileSync(filler, Buffer.alloc(Math.max(0, bavail * bsize - LEFT_FREE_BYTES)));

    // Send until the disk is full, then keep trying: every failure is UNAVAILABLE with a hint.
    const content = (i: number) => new Uint8Array(ENVELOPE_BYTES).fill(i % 251);
    let committed = 0;
    let failures = 0;
    for (let i = 0; failures < 20 && i < 200; i++) {
      try {
        await a.send(bob.accountId, [{ deviceId: 1, content: content(i) }]);
        committed++;
      } catch (e) {
        expect(e).toMatchObject({ code: 'UNAVAILABLE' });
        expect((e as { details: { retryAfterMs?: number } }).details.retryAfterMs).toBeGreaterThan(0);
        failures++;
      }
    }
    expect(failures).toBe(20);

    expect(await http(relay.url, 'GET', '/healthz')).toMatchObject({ status: 503, body: { status: 'storage-failing' } });
    const failing = events(relay, 'store.write-failing');
    expect(failing).toHaveLength(1);
    expect(['SQLITE_FULL', 'ENOSPC']).toContain(failing[0]!.cause);
    expect(relay.stdoutLines().join('\n')).not.toMatch(/cannot rollback/);
    const metrics = await scrapeMetrics(relay.url);
    expect(metrics).toMatch(/^parley_relay_store_writable 0$/m);
    const counted = Number(new RegExp(`^parley_relay_store_write_failures_total\\{cause="${failing[0]!.cause}"\\} (\\d+)$`, 'm').exec(metrics)?.[1]);
    expect(counted).toBeGreaterThanOrEqual(20);

    // Space comes back: the relay notices without anyone writing, and logs the recovery once.
    rmSync(filler);
    await until(async () => (await http(relay!.url, 'GET', '/healthz')).status === 200);
    expect(events(relay, 'store.write-recovered')).toHaveLength(1);
    expect(events(relay, 'store.write-failing')).toHaveLength(1);
    await a.send(bob.accountId, [{ deviceId: 1, content: content(999) }]);

    // Nothing the relay acknowledged was lost.
    const inbox = new Inbox(b);
    await b.connect();
    await inbox.backlogEnd();
    expect(inbox.envelopes).toHaveLength(committed + 1);
  });
});
