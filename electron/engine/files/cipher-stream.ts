/**
 * The file cipher's streaming loops (docs/protocol.md §17), for the cipher worker thread
 * (cipher-worker.ts): encrypt a source file into a spool file, decrypt a ciphertext file into an
 * output file. The cipher runs on the worker's thread, segment by segment; reads (one ahead) and
 * writes (a few in flight) run on the thread pool beside it, and the plaintext SHA-256 on the hash
 * ring's helper thread; the ciphertext digest is computed on the way. A handful of segments are in
 * memory at any time, so memory stays flat in the file size.
 *
 * Owns the order of checks and writes. Does not own file names, renames or cleanup (file-cipher.ts
 * decides where partial files go and removes them on failure), nor the cipher (shared/protocol).
 * Decryption writes only to the partial file it is given; that file becomes the output only after
 * this returns, i.e. after the final segment, the ciphertext digest, the padding and the plaintext
 * SHA-256 all checked out.
 */
import { closeSync, fstatSync, openSync, read as fsRead, write as fsWrite } from 'node:fs';
import { constantTimeEqual, wipe } from '../../../shared/crypto/bytes.js';
import {
  attachmentLayout,
  CiphertextDigest,
  encodeAttachmentHeader,
  expectedLayout,
  isZeroPadding,
  openSegment,
  parseAttachmentHeader,
  sealedSegmentOffset,
  sealSegmentDetached,
  segmentPlaintextLength,
  type AttachmentLayout,
} from '../../../shared/protocol/attachment-cipher.js';
import { ATTACHMENT_HEADER_LENGTH, ATTACHMENT_SEGMENT_SIZE, ATTACHMENT_TAG_LENGTH } from '../../../shared/protocol/constants.js';
import { ProtocolError } from '../../../shared/protocol/errors.js';
import { FileCipherError, ioError } from './errors.js';
import type { HashRing } from './hash-ring.js';
import { releaseBuffer } from './release.js';

export type EncryptJob = {
  readonly source: string;
  /** Created here (exclusively, mode 0600); the caller renames it into the spool on success. */
  readonly partial: string;
  readonly key: Uint8Array;
  readonly fileId: Uint8Array;
  /** The source's size when the caller looked; a different size now is SOURCE_CHANGED. */
  readonly length: number;
};

export type EncryptResult = {
  readonly length: number;
  readonly paddedLength: number;
  readonly ciphertextLength: number;
  readonly ciphertextDigest: Uint8Array;
  readonly plaintextSha256: Uint8Array;
};

export type DecryptJob = {
  readonly ciphertext: string;
  /** Created here (exclusively, mode 0600); the caller renames it to the destination on success. */
  readonly partial: string;
  readonly key: Uint8Array;
  readonly length: number;
  readonly paddedLength: number;
  readonly ciphertextDigest: Uint8Array;
  readonly plaintextSha256: Uint8Array;
};

/** Progress: plaintext bytes done so far. */
export type Progress = (bytes: number) => void;

/** Writes queued on the thread pool at once (each up to a segment: bounded memory); with the read ahead, the pool's four threads. */
const WRITES_IN_FLIGHT = 3;

function open(path: string, flags: string, doing: string): number {
  try {
    return openSync(path, flags, 0o600);
  } catch (e) {
    throw ioError(doing, e);
  }
}

type Stamp = { readonly size: number; readonly mtimeMs: number };

function stamp(fd: number): Stamp {
  try {
    const s = fstatSync(fd);
    if (!s.isFile()) throw new FileCipherError('NOT_A_FILE', 'the source is not a regular file');
    return { size: s.size, mtimeMs: s.mtimeMs };
  } catch (e) {
    throw e instanceof FileCipherError ? e : ioError('read the file', e);
  }
}

/**
 * Positional reads and writes on the libuv thread pool, so the disk and the page-cache copies run
 * beside the cipher on this thread: one read ahead, a bounded number of writes in flight. No fsync:
 * a spool or an output file is as durable as any download (docs/adr/0012, "Engine").
 */
class FileIo {
  readonly #writes = new Set<Promise<void>>();
  /** Every operation not yet settled (reads, writes, flushes), so close never races one. */
  readonly #pending = new Set<Promise<unknown>>();
  constructor(readonly fd: number) {}

  #track<T>(op: Promise<T>): Promise<T> {
    const settled: Promise<unknown> = op.then(
      (): boolean => this.#pending.delete(settled),
      (): boolean => this.#pending.delete(settled),
    );
    this.#pending.add(settled);
    return op;
  }

  /** Reads up to `length` bytes at `position` (fewer only at the end of the file). */
  read(into: Uint8Array, length: number, position: number): Promise<number> {
    const op = new Promise<number>((resolve, reject) => {
      let done = 0;
      const next = (): void =>
        fsRead(this.fd, into, done, length - done, position + done, (e, n) => {
          if (e) return reject(ioError('read the file', e));
          done += n;
          if (n === 0 || done === length) resolve(done);
          else next();
        });
      if (length === 0) resolve(0);
      else next();
    });
    // A read whose result is never awaited (the loop failed first) must not be an unhandled rejection.
    op.catch(() => undefined);
    return this.#track(op);
  }

  /** Queues a write of `bytes` at `position`; waits only while WRITES_IN_FLIGHT writes are pending. */
  async write(bytes: Uint8Array, position: number, onDone?: () => void): Promise<void> {
    while (this.#writes.size >= WRITES_IN_FLIGHT) await Promise.race(this.#writes);
    const write = new Promise<void>((resolve, reject) => {
      let done = 0;
      const next = (): void =>
        fsWrite(this.fd, bytes, done, bytes.length - done, position + done, (e, n) => {
          if (e) return reject(ioError('write the file', e));
          done += n;
          if (done === bytes.length) resolve();
          else next();
        });
      next();
    }).finally(() => {
      this.#writes.delete(write);
      onDone?.();
    });
    write.catch(() => undefined);
    this.#writes.add(write);
    void this.#track(write);
  }

  /** Waits for every write (a failed one rejects). */
  async finish(): Promise<void> {
    await Promise.all(this.#writes);
  }

  /** Waits for everything in flight, ignoring failures (before closing the file, after an error). */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}

/** Encrypts `job.source` into `job.partial` (header ‖ sealed segments). */
export async function encryptFile(job: EncryptJob, ring: HashRing, progress: Progress): Promise<EncryptResult> {
  const layout = attachmentLayout(job.length);
  const header = encodeAttachmentHeader(job.key, job.fileId);
  const source = open(job.source, 'r', 'open the source file');
  const input = new FileIo(source);
  let output: FileIo | null = null;
  try {
    const before = stamp(source);
    if (before.size !== job.length) throw new FileCipherError('SOURCE_CHANGED', 'the source changed size before encryption');
    output = new FileIo(open(job.partial, 'wx', 'create the spool file'));
    await output.write(header.bytes, 0);
    const digest = new CiphertextDigest(header.bytes);
    /** Reads segment i's plaintext into the next ring slot, zero-padded. */
    const readSegment = (i: number): Promise<Uint8Array> => {
      const segment = ring.slot().subarray(0, segmentPlaintextLength(layout, i));
      const offset = i * ATTACHMENT_SEGMENT_SIZE;
      const want = Math.max(0, Math.min(segment.length, layout.length - offset));
      return input.read(segment, want, offset).then((got) => {
        if (got !== want) throw new FileCipherError('SOURCE_CHANGED', 'the source shrank during encryption');
        segment.fill(0, want);
        return segment;
      });
    };
    let next = readSegment(0);
    for (let i = 0; i < layout.segments; i++) {
      const segment = await next;
      const plaintextBytes = Math.max(0, Math.min(segment.length, layout.length - i * ATTACHMENT_SEGMENT_SIZE));
      ring.submit(plaintextBytes);
      if (i + 1 < layout.segments) next = readSegment(i + 1);
      const { ciphertext, tag } = sealSegmentDetached(job.key, header.ad, i, i === layout.segments - 1, segment);
      digest.addTag(tag);
      const at = sealedSegmentOffset(i);
      await output.write(ciphertext, at, () => releaseBuffer(ciphertext));
      await output.write(tag, at + ciphertext.length);
      progress(i * ATTACHMENT_SEGMENT_SIZE + plaintextBytes);
    }
    const after = stamp(source);
    if ((await input.read(new Uint8Array(1), 1, layout.length)) !== 0 || after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw new FileCipherError('SOURCE_CHANGED', 'the source changed during encryption');
    }
    await output.finish();
    return {
      length: layout.length,
      paddedLength: layout.paddedLength,
      ciphertextLength: layout.ciphertextLength,
      ciphertextDigest: digest.digest(),
      plaintextSha256: ring.finish(),
    };
  } finally {
    closeSync(source);
    if (output !== null) {
      await output.settle();
      closeSync(output.fd);
    }
  }
}

function checkCiphertextSize(size: number, layout: AttachmentLayout): void {
  if (size < layout.ciphertextLength) throw new ProtocolError('TRUNCATED', 'attachment shorter than announced');
  if (size > layout.ciphertextLength) throw new ProtocolError('TRAILING_DATA', 'attachment longer than announced');
}

/**
 * Decrypts `job.ciphertext` into `job.partial`, in the order of docs/protocol.md §17.6. On return
 * every check has passed; on a throw the partial file holds unverified plaintext and the caller
 * must delete it.
 */
export async function decryptFile(job: DecryptJob, ring: HashRing, progress: Progress): Promise<void> {
  const layout = expectedLayout(job.length, job.paddedLength);
  const fd = open(job.ciphertext, 'r', 'open the attachment');
  const input = new FileIo(fd);
  let output: FileIo | null = null;
  // Two buffers: segment i is opened from one while segment i + 1 is read into the other.
  const buffers = [new Uint8Array(ATTACHMENT_SEGMENT_SIZE + ATTACHMENT_TAG_LENGTH), new Uint8Array(ATTACHMENT_SEGMENT_SIZE + ATTACHMENT_TAG_LENGTH)];
  try {
    const headerBytes = new Uint8Array(ATTACHMENT_HEADER_LENGTH);
    const headerRead = await input.read(headerBytes, ATTACHMENT_HEADER_LENGTH, 0);
    const header = parseAttachmentHeader(headerBytes.subarray(0, headerRead), job.key);
    checkCiphertextSize(stamp(fd).size, layout);
    output = new FileIo(open(job.partial, 'wx', 'create the output file'));
    const digest = new CiphertextDigest(header.bytes);
    const readSealed = (i: number): Promise<Uint8Array> => {
      const length = segmentPlaintextLength(layout, i) + ATTACHMENT_TAG_LENGTH;
      const sealed = buffers[i % 2]!.subarray(0, length);
      return input.read(sealed, length, sealedSegmentOffset(i)).then((got) => {
        if (got !== length) throw new ProtocolError('TRUNCATED', 'attachment shrank while it was read');
        return sealed;
      });
    };
    let next = readSealed(0);
    let written = 0;
    for (let i = 0; i < layout.segments; i++) {
      const sealed = await next;
      if (i + 1 < layout.segments) next = readSealed(i + 1);
      const plain = openSegment(job.key, header.ad, i, i === layout.segments - 1, sealed);
      digest.addSealedSegment(sealed);
      const keep = Math.min(plain.length, layout.length - written);
      try {
        if (!isZeroPadding(plain.subarray(keep))) throw new ProtocolError('MALFORMED', 'attachment padding is not zero');
        ring.slot().set(plain.subarray(0, keep));
        ring.submit(keep);
      } catch (e) {
        wipe(plain);
        throw e;
      }
      await output.write(plain.subarray(0, keep), written, () => {
        wipe(plain);
        releaseBuffer(plain);
      });
      written += keep;
      progress(written);
    }
    if (!constantTimeEqual(digest.digest(), job.ciphertextDigest)) {
      throw new ProtocolError('DIGEST_MISMATCH', 'ciphertext digest differs from the announced one');
    }
    if (!constantTimeEqual(ring.finish(), job.plaintextSha256)) {
      throw new ProtocolError('DIGEST_MISMATCH', 'plaintext SHA-256 differs from the announced one');
    }
    await output.finish();
  } finally {
    await input.settle();
    for (const b of buffers) wipe(b);
    closeSync(fd);
    if (output !== null) {
      await output.settle();
      closeSync(output.fd);
    }
  }
}
