/**
 * A restore from backup killed in the middle (issue 18, ADR 0033): the built engine runs as a child
 * process and SIGKILLs itself (PARLEY_TEST_CRASH_AT=mid-restore, electron/engine/crash-points.ts)
 * after it wrote the new database and before it published anything. The next start finds the
 * marker, removes what the restore wrote, says the restore was interrupted, and the same restore
 * then runs cleanly to the end.
 */
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveProfile } from '../../../electron/engine/profile.js';
import { uniqueName } from '../../support/engines.js';
import { processFixture } from './helpers/process-fixture.js';

const PASSPHRASE = 'the database passphrase of this test';

const fx = processFixture('parley-restore-relay-');
const engine = fx.engine;

const dir = fx.dir;

describe('a restore killed midway', () => {
  it('leaves nothing behind, is offered again at the next start, and then completes', async () => {
    const alice = await engine(dir('parley-restore-alice-'));
    const account = await alice.call('account:create', { username: uniqueName('alice'), relayUrl: fx.relay.url, passphrase: PASSPHRASE });
    const { words } = await alice.call('backup:enable', {});
    await alice.call('backup:confirm', { answers: [1, 5, 9].map((position) => ({ position, word: words[position - 1]! })) });
    await alice.call('backup:run', {});
    await alice.stop();

    const data = dir('parley-restore-new-');
    const armed = await engine(data, { PARLEY_TEST_CRASH_AT: 'mid-restore' });
    const restoring = armed.call('restore:start', { words: words.join(' '), relayUrl: fx.relay.url, passphrase: PASSPHRASE });
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

    const restored = await next.call('restore:start', { words: words.join(' '), relayUrl: fx.relay.url, passphrase: PASSPHRASE });
    expect(restored.accountId).toBe(account.accountId);
    const after = await next.call('app:getState', {});
    expect(after.state).toBe('ready');
    expect(after.restoreInterrupted).toBeUndefined();
    expect(readdirSync(profile.dataDir)).not.toContain('restore-in-progress');
  }, 90_000);
});
