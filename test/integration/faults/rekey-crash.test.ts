/**
 * Changing the passphrase re-keys the database (issue 10 item 13), and a kill at any moment of it
 * leaves a database that opens with exactly one of the two keys, which the matching passphrase then
 * unlocks with nothing lost. The built engine runs as a child process (the contract over JSON
 * lines) on a database grown to about 40 MB — real SQLite, real SQLCipher — and SIGKILLs itself
 * (PARLEY_TEST_CRASH_AT, electron/engine/crash-points.ts) while the pages are being rewritten, or
 * after the re-key and before the new key file replaces the old one.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { systemRng } from '../../../shared/crypto/random.js';
import { StorageError } from '../../../electron/engine/db/errors.js';
import { sql } from '../../../electron/engine/db/sql.js';
import { ARGON2_BOUNDS } from '../../../electron/engine/keys/argon2.js';
import { PassphraseKeyFile } from '../../../electron/engine/keys/passphrase-key-file.js';
import { resolveProfile, type Profile } from '../../../electron/engine/profile.js';
import { openTestDatabase } from '../../support/database.js';
import { uniqueName } from '../../support/engines.js';
import type { EngineProcess } from '../engine/helpers/engine-process.js';
import { processFixture } from './helpers/process-fixture.js';

const OLD = 'the passphrase before the change';
const NEW = 'the passphrase after the change';
const FILLER_ROWS = 40_000;

const fx = processFixture('parley-rekey-relay-');
const engine = fx.engine;

function keyFile(profile: Profile): PassphraseKeyFile {
  const min = { memoryKiB: ARGON2_BOUNDS.memoryKiB.min, iterations: ARGON2_BOUNDS.iterations.min, parallelism: ARGON2_BOUNDS.parallelism.min };
  return new PassphraseKeyFile(profile.keyFilePath, systemRng, min);
}

/** Rows of the filler table and the integrity check's verdict, or null when `key` does not open the file. */
function opensWith(profile: Profile, key: Uint8Array): { rows: number; integrity: string } | null {
  let db;
  try {
    db = openTestDatabase({ path: profile.databasePath, key: key.slice() });
  } catch (e) {
    if (e instanceof StorageError && e.code === 'WRONG_KEY') return null;
    throw e;
  }
  try {
    const rows = db.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM test_filler`)!.n;
    const integrity = db.reader.get<{ integrity_check: string }>(sql`PRAGMA integrity_check`)!.integrity_check;
    return { rows, integrity };
  } finally {
    db.close();
  }
}

/** An account behind OLD whose database holds FILLER_ROWS rows of 1,000 random bytes besides it. */
async function grownProfile(): Promise<{ data: string; profile: Profile; accountId: string }> {
  const data = fx.dir('parley-rekey-');
  const p = await engine(data);
  const account = await p.call('account:create', { username: uniqueName('rekey'), relayUrl: fx.relay.url, passphrase: OLD });
  await p.stop();
  const profile = resolveProfile(data, 'p');
  const key = await keyFile(profile).unlock(OLD);
  const db = openTestDatabase({ path: profile.databasePath, key });
  try {
    db.writer.run(sql`CREATE TABLE test_filler (n INTEGER PRIMARY KEY, b BLOB NOT NULL)`);
    db.writer.transaction(() => {
      for (let i = 0; i < FILLER_ROWS; i++) db.writer.run(sql`INSERT INTO test_filler (b) VALUES (${randomBytes(1000)})`);
    });
  } finally {
    db.close();
  }
  return { data, profile, accountId: account.accountId };
}

/** Starts the armed engine, unlocks with OLD, asks for NEW, and waits for the SIGKILL. */
async function changeUntilKilled(data: string, point: string): Promise<EngineProcess> {
  const p = await engine(data, { PARLEY_TEST_CRASH_AT: point });
  await p.call('account:unlock', { passphrase: OLD });
  const change = p.call('account:setPassphrase', { passphrase: NEW, currentPassphrase: OLD });
  change.catch(() => undefined);
  expect((await p.exited).signal).toBe('SIGKILL');
  await expect(change).rejects.toThrow(/exited/);
  return p;
}

async function unlockError(p: EngineProcess, passphrase: string): Promise<{ code: string; message: string }> {
  try {
    await p.call('account:unlock', { passphrase });
  } catch (e) {
    return e as { code: string; message: string };
  }
  throw new Error('the unlock succeeded');
}

describe('changing the passphrase re-keys the database, and a kill during it loses nothing', () => {
  it('killed while the pages are rewritten: the old key opens it, the old passphrase unlocks, the new one is refused', async () => {
    const { data, profile, accountId } = await grownProfile();
    const killed = await changeUntilKilled(data, 'mid-rekey');

    const progress = killed.events.filter((e) => e.event === 'account:rekeyProgress').map((e) => e.payload as { done: number; total: number });
    const last = progress.at(-1)!;
    expect(last.done).toBeGreaterThan(0);
    expect(last.done).toBeLessThan(last.total);
    // The kill came inside the re-key's transaction: its rollback journal is still there.
    expect(existsSync(`${profile.databasePath}-journal`)).toBe(true);

    const files = keyFile(profile);
    const oldKey = await files.unlock(OLD);
    const newKey = (await files.unlockPending(NEW))!;
    // The new key first: trying it on a file with a live journal must change nothing.
    const opened = [opensWith(profile, newKey), opensWith(profile, oldKey)];
    expect(opened).toEqual([null, { rows: FILLER_ROWS, integrity: 'ok' }]);

    const p = await engine(data);
    expect(await unlockError(p, NEW)).toMatchObject({ code: 'WRONG_PASSPHRASE', message: expect.stringMatching(/did not finish/) });
    expect(await p.call('account:unlock', { passphrase: OLD })).toMatchObject({ state: 'ready', account: { accountId } });
    expect(await files.hasPending()).toBe(false);

    // The change can be made again, to the end.
    await p.call('account:setPassphrase', { passphrase: NEW, currentPassphrase: OLD });
    await p.stop();
    expect(opensWith(profile, oldKey)).toBeNull();
    expect(opensWith(profile, await files.unlock(NEW))).toEqual({ rows: FILLER_ROWS, integrity: 'ok' });
  });

  it('killed after the re-key, before the new key file replaced the old: the new key opens it and the new passphrase unlocks', async () => {
    const { data, profile, accountId } = await grownProfile();
    const killed = await changeUntilKilled(data, 'after-rekey-before-key-file');
    const progress = killed.events.filter((e) => e.event === 'account:rekeyProgress').map((e) => e.payload as { done: number; total: number });
    expect(progress.at(-1)!.done).toBe(progress.at(-1)!.total);

    const files = keyFile(profile);
    const oldKey = await files.unlock(OLD);
    const newKey = (await files.unlockPending(NEW))!;
    expect([opensWith(profile, oldKey), opensWith(profile, newKey)]).toEqual([null, { rows: FILLER_ROWS, integrity: 'ok' }]);

    const p = await engine(data);
    expect(await unlockError(p, OLD)).toMatchObject({ code: 'WRONG_PASSPHRASE', message: expect.stringMatching(/was changed/) });
    expect(await p.call('account:unlock', { passphrase: NEW })).toMatchObject({ state: 'ready', account: { accountId } });
    // The new key file took the old one's place.
    expect(await files.hasPending()).toBe(false);
    await p.call('account:lock', {});
    expect(await unlockError(p, OLD)).toMatchObject({ code: 'WRONG_PASSPHRASE' });
    expect(await p.call('account:unlock', { passphrase: NEW })).toMatchObject({ state: 'ready' });
  });
});
