import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aesGcmSeal } from '../../../shared/crypto/aead.js';
import {
  CiphertextDigest,
  encodeAttachmentHeader,
  sealAttachment,
  sealedSegmentOffset,
  segmentNonce,
  type AttachmentDescriptor,
} from '../../../shared/protocol/attachment-cipher.js';
import { ATTACHMENT_SEGMENT_SIZE } from '../../../shared/protocol/constants.js';
import { deterministicRng, pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';
import { isFileCipherError, type FileCipherErrorCode } from './errors.js';
import { decryptToFile, encryptToSpool, removeSpoolPartials, SPOOL_SUFFIX, type SpooledAttachment } from './file-cipher.js';

const SEG = ATTACHMENT_SEGMENT_SIZE;
const MiB = 1024 * 1024;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'parley-files-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function sameFile(path: string, bytes: Uint8Array): boolean {
  return readFileSync(path).equals(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

let sourceCount = 0;
function sourceFile(bytes: Uint8Array): string {
  const path = join(dir, `source-${sourceCount++}.bin`);
  writeFileSync(path, bytes);
  return path;
}

async function codeOf(promise: Promise<unknown>): Promise<FileCipherErrorCode | 'no error' | unknown> {
  try {
    await promise;
  } catch (e) {
    return isFileCipherError(e) ? e.code : e;
  }
  return 'no error';
}

/** Files in `folder` other than the ones named. */
function others(folder: string, ...keep: string[]): string[] {
  return readdirSync(folder).filter((n) => !keep.includes(n));
}

describe('encryptToSpool and decryptToFile on real files', () => {
  for (const [name, length] of [
    ['0 B', 0],
    ['1 B', 1],
    ['2²⁰ B (exactly one segment)', SEG],
    ['2²⁰ + 1 B (one segment plus one byte)', SEG + 1],
    ['5 MiB + 777 B (several segments)', 5 * MiB + 777],
  ] as const) {
    it(`${name}: the spool holds exactly the cipher's bytes for that key, and decryption gives back identical bytes`, async () => {
      const plaintext = pseudoRandomBytes(`file-cipher.test/${name}`, length);
      const source = sourceFile(plaintext);
      const spoolDir = join(dir, `spool-${length}`);
      const progress: number[] = [];
      const spooled = await encryptToSpool(source, { spoolDir, rng: deterministicRng(`key/${name}`), onProgress: (b) => progress.push(b) });
      // The same key and file id through the whole-buffer cipher give the same ciphertext byte for byte.
      const reference = sealAttachment(plaintext, { rng: deterministicRng(`key/${name}`) });
      expect(sameFile(spooled.spoolPath, reference.ciphertext)).toBe(true);
      expect(spooled.descriptor.ciphertextDigest).toEqual(reference.descriptor.ciphertextDigest);
      expect(sha256Hex(spooled.descriptor.plaintextSha256)).toBe(sha256Hex(reference.descriptor.plaintextSha256));
      expect(Buffer.from(spooled.descriptor.plaintextSha256).toString('hex')).toBe(sha256Hex(plaintext));
      expect(statSync(spooled.spoolPath).size).toBe(spooled.ciphertextLength);
      expect(statSync(spooled.spoolPath).mode & 0o777).toBe(0o600);
      expect(readdirSync(spoolDir)).toEqual([`${Buffer.from(spooled.fileId).toString('hex')}${SPOOL_SUFFIX}`]);
      expect(progress.at(-1)).toBe(length);

      const out = join(dir, `out-${length}.bin`);
      await decryptToFile(spooled.spoolPath, out, spooled.descriptor);
      expect(sameFile(out, plaintext)).toBe(true);
      expect(others(dir).filter((n) => n.endsWith('.parley-partial'))).toEqual([]);
    });
  }

  it('two encryptions of the same file use different keys and file ids (a file is never re-encrypted under a used key)', async () => {
    const source = sourceFile(pseudoRandomBytes('twice', 10_000));
    const spoolDir = join(dir, 'spool-twice');
    const a = await encryptToSpool(source, { spoolDir });
    const b = await encryptToSpool(source, { spoolDir });
    expect(a.descriptor.key).not.toEqual(b.descriptor.key);
    expect(a.spoolPath).not.toBe(b.spoolPath);
    expect(a.descriptor.plaintextSha256).toEqual(b.descriptor.plaintextSha256);
  });

  it('jobs after a failed and a cancelled one (on the kept worker threads) still hash each file alone', async () => {
    const spoolDir = join(dir, 'spool-reuse');
    const first = pseudoRandomBytes('reuse-a', 3 * MiB + 5);
    const a = await encryptToSpool(sourceFile(first), { spoolDir });
    expect(await codeOf(encryptToSpool('/proc/self/status', { spoolDir }))).toBe('SOURCE_CHANGED');
    const controller = new AbortController();
    const cancelled = encryptToSpool(sourceFile(pseudoRandomBytes('reuse-cancel', 48 * MiB)), {
      spoolDir,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    });
    expect(await codeOf(cancelled)).toBe('CANCELLED');
    const wrong = { ...a.descriptor, key: a.descriptor.key.slice(), plaintextSha256: new Uint8Array(32) };
    expect(await codeOf(decryptToFile(a.spoolPath, join(dir, 'reuse-wrong.bin'), wrong))).toBe('DIGEST_MISMATCH');
    // Two at once (two workers), then one more on a kept worker: every digest is its own file's.
    const inputs = ['reuse-b', 'reuse-c', 'reuse-d'].map((label, i) => pseudoRandomBytes(label, (i + 1) * MiB + i));
    const [b, c] = await Promise.all(inputs.slice(0, 2).map((bytes) => encryptToSpool(sourceFile(bytes), { spoolDir })));
    const d = await encryptToSpool(sourceFile(inputs[2]!), { spoolDir });
    for (const [spooled, bytes] of [[a, first], [b!, inputs[0]!], [c!, inputs[1]!], [d, inputs[2]!]] as const) {
      expect(Buffer.from(spooled.descriptor.plaintextSha256).toString('hex')).toBe(sha256Hex(bytes));
      const out = join(dir, `reuse-out-${spooled.descriptor.length}.bin`);
      await decryptToFile(spooled.spoolPath, out, spooled.descriptor);
      expect(sameFile(out, bytes)).toBe(true);
    }
  });

  it('a file whose ciphertext would exceed the relay maximum is TOO_LARGE before anything is written', async () => {
    const source = sourceFile(pseudoRandomBytes('large', 2 * MiB));
    const spoolDir = join(dir, 'spool-too-large');
    expect(await codeOf(encryptToSpool(source, { spoolDir, maxCiphertextBytes: 2 * MiB }))).toBe('TOO_LARGE');
    expect(existsSync(spoolDir)).toBe(false);
  });

  it('a missing source is IO and a folder is NOT_A_FILE, without naming the path', async () => {
    const spoolDir = join(dir, 'spool-missing');
    let message = '';
    try {
      await encryptToSpool(join(dir, 'no-such-file'), { spoolDir });
    } catch (e) {
      expect(isFileCipherError(e, 'IO')).toBe(true);
      message = (e as Error).message;
    }
    expect(message).toContain('ENOENT');
    expect(message).not.toContain(dir);
    expect(await codeOf(encryptToSpool(dir, { spoolDir }))).toBe('NOT_A_FILE');
  });

  it('a source whose content does not match its size (it grew while read) is SOURCE_CHANGED and leaves no spool file', async () => {
    // /proc files report size 0 and yet have content: what a file growing during encryption looks like.
    const spoolDir = join(dir, 'spool-changed');
    expect(await codeOf(encryptToSpool('/proc/self/status', { spoolDir }))).toBe('SOURCE_CHANGED');
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('cancelling an encryption stops it with CANCELLED and leaves no spool file', async () => {
    const source = sourceFile(pseudoRandomBytes('cancel', 48 * MiB));
    const spoolDir = join(dir, 'spool-cancel');
    const controller = new AbortController();
    const run = encryptToSpool(source, { spoolDir, signal: controller.signal, onProgress: () => controller.abort() });
    expect(await codeOf(run)).toBe('CANCELLED');
    expect(readdirSync(spoolDir)).toEqual([]);
  });

  it('removeSpoolPartials deletes the half-written spool files a crash leaves, and only those', async () => {
    const spoolDir = join(dir, 'spool-sweep');
    const source = sourceFile(pseudoRandomBytes('sweep', 100));
    const kept = await encryptToSpool(source, { spoolDir });
    writeFileSync(join(spoolDir, '00112233445566778899aabbccddeeff.partial'), 'half');
    expect(await removeSpoolPartials(spoolDir)).toBe(1);
    expect(readdirSync(spoolDir)).toEqual([kept.spoolPath.slice(spoolDir.length + 1)]);
    expect(await removeSpoolPartials(join(dir, 'no-such-spool'))).toBe(0);
  });
});

describe('decryptToFile releases nothing unless every check passes', () => {
  const length = 3 * MiB + 4_321; // four segments, the last one short
  let plaintext: Uint8Array;
  let spooled: SpooledAttachment;
  let ciphertext: Buffer;
  let outDir: string;
  let n = 0;

  beforeAll(async () => {
    plaintext = pseudoRandomBytes('tamper-source', length);
    spooled = await encryptToSpool(sourceFile(plaintext), { spoolDir: join(dir, 'spool-tamper') });
    ciphertext = readFileSync(spooled.spoolPath);
    outDir = join(dir, 'tamper-out');
    rmSync(outDir, { recursive: true, force: true });
  });

  /** Decrypts `bytes` (a damaged copy) to a fresh destination and checks that nothing appeared. */
  async function attempt(bytes: Uint8Array, descriptor: AttachmentDescriptor = spooled.descriptor): Promise<unknown> {
    const { code, left } = await decryptCopy(bytes, descriptor);
    expect(left, 'no output and no partial file').toEqual([]);
    return code;
  }

  async function decryptCopy(bytes: Uint8Array, descriptor: AttachmentDescriptor): Promise<{ code: unknown; left: string[]; folder: string }> {
    const folder = join(outDir, String(n++));
    mkdirSync(folder, { recursive: true });
    const input = join(folder, 'attachment.spool');
    writeFileSync(input, bytes);
    const code = await codeOf(decryptToFile(input, join(folder, 'photo.jpg'), descriptor));
    return { code, left: others(folder, 'attachment.spool'), folder };
  }

  it('the undamaged copy decrypts to the destination alone (the baseline of the cases below)', async () => {
    const { code, left, folder } = await decryptCopy(ciphertext, spooled.descriptor);
    expect(code).toBe('no error');
    expect(left).toEqual(['photo.jpg']);
    expect(sameFile(join(folder, 'photo.jpg'), plaintext)).toBe(true);
  });

  it('a flipped byte in the last segment — after three good ones were written — gives SEGMENT_AUTH_FAILED and no file', async () => {
    const bad = Buffer.from(ciphertext);
    bad[bad.length - 100]! ^= 1;
    expect(await attempt(bad)).toBe('SEGMENT_AUTH_FAILED');
  });

  it('a flipped byte in the first segment, the file id or a tag gives SEGMENT_AUTH_FAILED', async () => {
    for (const offset of [sealedSegmentOffset(0), 10, sealedSegmentOffset(1) - 1]) {
      const bad = Buffer.from(ciphertext);
      bad[offset]! ^= 0x40;
      expect(await attempt(bad), `offset ${offset}`).toBe('SEGMENT_AUTH_FAILED');
    }
  });

  it('two segments swapped give SEGMENT_AUTH_FAILED', async () => {
    const bad = Buffer.from(ciphertext);
    const size = SEG + 16;
    ciphertext.copy(bad, sealedSegmentOffset(1), sealedSegmentOffset(2), sealedSegmentOffset(2) + size);
    ciphertext.copy(bad, sealedSegmentOffset(2), sealedSegmentOffset(1), sealedSegmentOffset(1) + size);
    expect(await attempt(bad)).toBe('SEGMENT_AUTH_FAILED');
  });

  it('a truncated ciphertext gives TRUNCATED, one with bytes appended TRAILING_DATA', async () => {
    expect(await attempt(ciphertext.subarray(0, sealedSegmentOffset(3)))).toBe('TRUNCATED');
    expect(await attempt(ciphertext.subarray(0, 40))).toBe('TRUNCATED');
    expect(await attempt(Buffer.concat([ciphertext, Buffer.alloc(16)]))).toBe('TRAILING_DATA');
  });

  it('a wrong key gives KEY_COMMITMENT_MISMATCH', async () => {
    const key = spooled.descriptor.key.slice();
    key[0]! ^= 1;
    expect(await attempt(ciphertext, { ...spooled.descriptor, key })).toBe('KEY_COMMITMENT_MISMATCH');
  });

  it('an announced digest that differs gives DIGEST_MISMATCH, announced lengths that do not fit MALFORMED', async () => {
    const digest = spooled.descriptor.ciphertextDigest.slice();
    digest[5]! ^= 1;
    expect(await attempt(ciphertext, { ...spooled.descriptor, ciphertextDigest: digest })).toBe('DIGEST_MISMATCH');
    const hash = spooled.descriptor.plaintextSha256.slice();
    hash[5]! ^= 1;
    expect(await attempt(ciphertext, { ...spooled.descriptor, plaintextSha256: hash })).toBe('DIGEST_MISMATCH');
    expect(await attempt(ciphertext, { ...spooled.descriptor, paddedLength: spooled.descriptor.paddedLength - 1 })).toBe('MALFORMED');
  });

  it('a sender that pads with non-zero bytes is refused with MALFORMED', async () => {
    // Re-seal by hand (the sender holds the key): the descriptor is honest, the padding is not.
    const honest = sealAttachment(plaintext.subarray(0, 1000), { rng: deterministicRng('padding') });
    const header = encodeAttachmentHeader(honest.descriptor.key, honest.fileId);
    const padded = new Uint8Array(1024).fill(0x55);
    padded.set(plaintext.subarray(0, 1000));
    const sealed = aesGcmSeal(honest.descriptor.key, segmentNonce(0, true), padded, header.ad);
    const digest = new CiphertextDigest(header.bytes);
    digest.addSealedSegment(sealed);
    const bytes = Buffer.concat([header.bytes, sealed]);
    expect(await attempt(bytes, { ...honest.descriptor, ciphertextDigest: digest.digest() })).toBe('MALFORMED');
  });

  it('a missing attachment is IO; a destination folder that cannot take the file is IO; neither leaves anything', async () => {
    expect(await codeOf(decryptToFile(join(dir, 'missing.spool'), join(dir, 'never.bin'), spooled.descriptor))).toBe('IO');
    expect(existsSync(join(dir, 'never.bin'))).toBe(false);
    // A folder that does not exist (what a removed USB stick looks like) fails before any plaintext is written.
    const gone = join(dir, 'unplugged', 'x.bin');
    expect(await codeOf(decryptToFile(spooled.spoolPath, gone, spooled.descriptor))).toBe('IO');
    expect(existsSync(join(dir, 'unplugged'))).toBe(false);
  });

  it('cancelling a decryption leaves neither the destination nor a partial file', async () => {
    const big = pseudoRandomBytes('cancel-decrypt', 48 * MiB);
    const spooledBig = await encryptToSpool(sourceFile(big), { spoolDir: join(dir, 'spool-cancel-decrypt') });
    const folder = join(dir, 'cancel-out');
    mkdirSync(folder, { recursive: true });
    const controller = new AbortController();
    const code = await codeOf(
      decryptToFile(spooledBig.spoolPath, join(folder, 'big.bin'), spooledBig.descriptor, { signal: controller.signal, onProgress: () => controller.abort() }),
    );
    expect(code).toBe('CANCELLED');
    expect(readdirSync(folder)).toEqual([]);
  });

  it('an existing file at the destination is replaced only by verified plaintext, and kept when verification fails', async () => {
    const folder = join(dir, 'replace');
    mkdirSync(folder, { recursive: true });
    const destination = join(folder, 'doc.pdf');
    writeFileSync(destination, 'previous');
    const bad = join(folder, 'bad.spool');
    writeFileSync(bad, ciphertext);
    truncateSync(bad, ciphertext.length - 1);
    expect(await codeOf(decryptToFile(bad, destination, spooled.descriptor))).toBe('TRUNCATED');
    expect(readFileSync(destination, 'utf8')).toBe('previous');
    await decryptToFile(spooled.spoolPath, destination, spooled.descriptor);
    expect(sameFile(destination, plaintext)).toBe(true);
  });
});
