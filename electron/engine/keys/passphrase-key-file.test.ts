import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { argon2id } from 'hash-wasm';
import { afterEach, describe, expect, it } from 'vitest';
import { systemRng } from '../../../shared/crypto/random.js';
import { ARGON2_BOUNDS, argon2idInWorker, checkArgon2Params, type Argon2Params } from './argon2.js';
import { isKeyError } from './errors.js';
import { KEY_FILE_LENGTH, PassphraseKeyFile } from './passphrase-key-file.js';

/** The cheapest parameters inside the bounds: tests run the real Argon2id, just at the floor. */
const FAST: Argon2Params = { memoryKiB: ARGON2_BOUNDS.memoryKiB.min, iterations: ARGON2_BOUNDS.iterations.min, parallelism: 1 };

const dirs: string[] = [];
function keyFilePath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-keyfile-'));
  dirs.push(dir);
  return join(dir, 'parley.key');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function expectKeyError(p: Promise<unknown>, code: string): Promise<void> {
  try {
    await p;
    expect.unreachable(`expected ${code}`);
  } catch (e) {
    expect(isKeyError(e) && e.code).toBe(code);
  }
}

describe('Argon2id parameters', () => {
  it.each([
    ['memory below 64 MiB', { ...FAST, memoryKiB: 64 * 1024 - 1 }],
    ['memory above 1 GiB', { ...FAST, memoryKiB: 1024 * 1024 + 1 }],
    ['fewer than 3 passes', { ...FAST, iterations: 2 }],
    ['more than 10 passes', { ...FAST, iterations: 11 }],
    ['no lanes', { ...FAST, parallelism: 0 }],
    ['more than 4 lanes', { ...FAST, parallelism: 5 }],
    ['a fraction', { ...FAST, iterations: 3.5 }],
  ])('are refused outside the bounds: %s', (_what, params) => {
    expect(() => checkArgon2Params(params)).toThrowError(expect.objectContaining({ code: 'ARGON2_PARAMS_OUT_OF_RANGE' }));
    expect(() => new PassphraseKeyFile('/nonexistent', systemRng, params)).toThrowError(
      expect.objectContaining({ code: 'ARGON2_PARAMS_OUT_OF_RANGE' }),
    );
  });

  it('accept both ends of every bound', () => {
    for (const memoryKiB of [ARGON2_BOUNDS.memoryKiB.min, ARGON2_BOUNDS.memoryKiB.max]) {
      for (const iterations of [3, 10]) for (const parallelism of [1, 4]) checkArgon2Params({ memoryKiB, iterations, parallelism });
    }
  });

  it('the worker computes the same Argon2id as hash-wasm on the main thread, and consumes the password', async () => {
    const salt = randomBytes(32);
    const password = new TextEncoder().encode('correct horse battery staple');
    const expected = await argon2id({ password, salt, memorySize: FAST.memoryKiB, iterations: 3, parallelism: 2, hashLength: 32, outputType: 'binary' });
    const input = password.slice();
    const out = await argon2idInWorker(input, salt, { ...FAST, parallelism: 2 });
    expect(out).toEqual(expected);
    expect(input.every((b) => b === 0)).toBe(true);
  });

  it('runs off the event loop: timers keep firing while it works', async () => {
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = performance.now();
    await argon2idInWorker(new TextEncoder().encode('pw'), randomBytes(32), { ...FAST, iterations: 6 });
    const elapsed = performance.now() - started;
    clearInterval(timer);
    delay.disable();
    expect(elapsed).toBeGreaterThan(100);
    expect(ticks).toBeGreaterThan(elapsed / 10 / 3);
    expect(delay.max / 1e6).toBeLessThan(100);
  });
});

describe('passphrase key file', () => {
  it('round-trips the database key; the file holds params, salt and a wrapped key but never the key', async () => {
    const path = keyFilePath();
    const file = new PassphraseKeyFile(path, systemRng, FAST);
    const key = randomBytes(32);
    expect(await file.exists()).toBe(false);
    await file.create('correct horse battery staple', key);
    expect(await file.exists()).toBe(true);
    const bytes = readFileSync(path);
    expect(bytes.length).toBe(KEY_FILE_LENGTH);
    expect(bytes.includes(key)).toBe(false);
    expect(bytes.includes(Buffer.from(key.toString('hex')))).toBe(false);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(await file.unlock('correct horse battery staple')).toEqual(new Uint8Array(key));
  });

  it('a wrong passphrase is WRONG_PASSPHRASE', async () => {
    const file = new PassphraseKeyFile(keyFilePath(), systemRng, FAST);
    await file.create('correct horse battery staple', randomBytes(32));
    await expectKeyError(file.unlock('Correct horse battery staple'), 'WRONG_PASSPHRASE');
  });

  it('normalises the passphrase (NFC): composed and decomposed input unlock alike', async () => {
    const file = new PassphraseKeyFile(keyFilePath(), systemRng, FAST);
    const key = randomBytes(32);
    await file.create('crème brûlée 2024', key);
    expect(await file.unlock('cre\u0300me bru\u0302le\u0301e 2024')).toEqual(new Uint8Array(key));
  });

  it('a key file with parameters edited out of bounds is refused before Argon2id runs', async () => {
    const path = keyFilePath();
    const file = new PassphraseKeyFile(path, systemRng, FAST);
    await file.create('correct horse battery staple', randomBytes(32));
    const bytes = readFileSync(path);
    bytes.writeUInt32BE(4 * 1024 * 1024, 9); // 4 GiB of memory
    writeFileSync(path, bytes);
    const started = performance.now();
    await expectKeyError(file.unlock('correct horse battery staple'), 'ARGON2_PARAMS_OUT_OF_RANGE');
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('parameters edited within the bounds are caught by the AEAD (they are authenticated)', async () => {
    const path = keyFilePath();
    const file = new PassphraseKeyFile(path, systemRng, FAST);
    await file.create('correct horse battery staple', randomBytes(32));
    const bytes = readFileSync(path);
    bytes.writeUInt32BE(4, 13); // iterations 3 → 4
    writeFileSync(path, bytes);
    await expectKeyError(file.unlock('correct horse battery staple'), 'WRONG_PASSPHRASE');
  });

  it('refuses a file that is not a Parley key file, and reports a missing one', async () => {
    const path = keyFilePath();
    const file = new PassphraseKeyFile(path, systemRng, FAST);
    await expectKeyError(file.unlock('whatever'), 'KEY_MISSING');
    writeFileSync(path, randomBytes(KEY_FILE_LENGTH));
    await expectKeyError(file.unlock('whatever'), 'INVALID_KEY_FILE');
    writeFileSync(path, Buffer.from('PARLEYKF'));
    await expectKeyError(file.unlock('whatever'), 'INVALID_KEY_FILE');
  });

  it('re-wrapping uses a fresh salt; destroy removes the file', async () => {
    const path = keyFilePath();
    const file = new PassphraseKeyFile(path, systemRng, FAST);
    const key = randomBytes(32);
    await file.create('first passphrase', key);
    const first = readFileSync(path);
    await file.create('second passphrase', key);
    expect(readFileSync(path).subarray(21, 53)).not.toEqual(first.subarray(21, 53));
    await expectKeyError(file.unlock('first passphrase'), 'WRONG_PASSPHRASE');
    expect(await file.unlock('second passphrase')).toEqual(new Uint8Array(key));
    await file.destroy();
    expect(await file.exists()).toBe(false);
  });

  it('a pending key file waits beside the key file until promoted (replacing it) or discarded; destroy removes both', async () => {
    const path = keyFilePath();
    const file = new PassphraseKeyFile(path, systemRng, FAST);
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    await file.create('old passphrase', oldKey);
    expect(await file.unlockPending('new passphrase')).toBeNull();
    await file.createPending('new passphrase', newKey);
    expect(statSync(file.pendingPath).mode & 0o777).toBe(0o600);
    expect(await file.unlock('old passphrase')).toEqual(new Uint8Array(oldKey));
    await expectKeyError(file.unlockPending('old passphrase'), 'WRONG_PASSPHRASE');
    expect(await file.unlockPending('new passphrase')).toEqual(new Uint8Array(newKey));

    await file.discardPending();
    expect(await file.hasPending()).toBe(false);
    expect(await file.unlock('old passphrase')).toEqual(new Uint8Array(oldKey));

    await file.createPending('new passphrase', newKey);
    await file.promotePending();
    expect(await file.hasPending()).toBe(false);
    await expectKeyError(file.unlock('old passphrase'), 'WRONG_PASSPHRASE');
    expect(await file.unlock('new passphrase')).toEqual(new Uint8Array(newKey));

    await file.createPending('third passphrase', oldKey);
    await file.destroy();
    expect(await file.exists()).toBe(false);
    expect(await file.hasPending()).toBe(false);
  });
});
