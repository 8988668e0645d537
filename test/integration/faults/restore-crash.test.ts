/**
 * A restore from backup killed in the middle (issue 18, ADR 0033): the built engine runs as a child
 * process and SIGKILLs itself (PARLEY_TEST_CRASH_AT=mid-restore, electron/engine/crash-points.ts)
 * after it wrote the new database and before it published anything. The next start finds the
 * marker, removes what the restore wrote, says the restore was interrupted, and the same restore
 * then runs cleanly to the end.
 */
import { readdirSync, rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { resolveProfile } from '../../../electron/engine/profile.js';
import { uniqueName } from '../../support/engines.js';
import { EngineProcess } from '../engine/helpers/engine-process.js';
import { spawnRelay, tempDir, type RelayProcess } from '../relay/helpers/relay.js';

const PASSPHRASE = 'the database passphrase of this test';

let relay: RelayProcess;
let relayDir: string;
const dirs: string[] = [];
const processes: EngineProcess[] = [];

beforeAll(async () => {
  relayDir = tempDir('parley-restore-relay-');
  relay = await spawnRelay({ dataDir: relayDir });
});
afterEach(async () => {
  for (const p of processes.splice(0)) await p.kill();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
afterAll(async () => {
  await relay.stop();
  rmSync(relayDir, { recursive: true, force: true });
});

async function engine(data: string, env: Readonly<Record<string, string>> = {}): Promise<EngineProcess> {
  const p = await EngineProcess.start({ data, env });
  processes.push(p);
  return p;
}

function dir(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

describe('a restore killed midway', () => {
  it('leaves nothing behind, is offered again at the next start, and then completes', async () => {
    const alice = await engine(dir('parley-restore-alice-'));
    const account = await alice.call('account:create', { username: uniqueName('alice'), relayUrl: relay.url, passphrase: PASSPHRASE });
    const { words } = await alice.call('backup:enable', {});
    await alice.call('backup:confirm', { answers: [1, 5, 9].map((position) => ({ position, word: words[position - 1]! })) });
    await alice.call('backup:run', {});
    await alice.stop();

    const data = dir('parley-restore-new-');
    const armed = await engine(data, { PARLEY_TEST_CRASH_AT: 'mid-restore' });
    const restoring = armed.call('restore:start', { words: words.join(' '), relayUrl: relay.url, passphrase: PASSPHRASE });
    restoring.catch(() => undefined);
    expect((await armed.exited).signal).toBe('SIGKILL');
    const profile = resolveProfile(data, 'p');
    // Killed with the new database written and the marker still there.
    expect(readdirSync(profile.dataDir)).toEqual(expect.arrayContaining(['restore-in-progress']));

    const next = await engine(data);
    const state = await next.call('app:getState', {});
    expect(state).toMatchObject({ state: 'needs-account', restoreInterrupted: true });
    // What the killed restore wrote is gone: no database, no key file, no staging, no download.
    expect(readdirSync(profile.dataDir).sort()).toEqual(['restore-in-progress']);

    const restored = await next.call('restore:start', { words: words.join(' '), relayUrl: relay.url, passphrase: PASSPHRASE });
    expect(restored.accountId).toBe(account.accountId);
    const after = await next.call('app:getState', {});
    expect(after.state).toBe('ready');
    expect(after.restoreInterrupted).toBeUndefined();
    expect(readdirSync(profile.dataDir)).not.toContain('restore-in-progress');
  }, 90_000);
});
