/**
 * electron/engine/files — the engine's encrypted files (DESIGN §3.7, issue 13, docs/protocol.md §17,
 * docs/adr/0010-attachment-cipher.md). This module is the main-thread API:
 *  - `encryptToSpool`: encrypts a file **once** into the engine-owned ciphertext spool, under a
 *    fresh key and file id; uploads and resumed uploads read the spool, so a file changed on disk
 *    later can never be encrypted again under the same key and nonces;
 *  - `decryptToFile`: decrypts an attachment's ciphertext into a destination file that appears
 *    only after the final segment and both digests verified: the plaintext is written to a
 *    partial file beside the destination and renamed into place at the end, and any failure or
 *    cancellation deletes the partial file.
 * Both run on a worker thread (cipher-worker.ts, cipher-stream.ts) with the plaintext hash on a
 * helper thread (hash-ring.ts): memory stays flat in the file size and the event loop that serves
 * the UI only receives progress messages. Workers are kept idle for a while and reused.
 *
 * Does not own: the relay transfer (upload and download), the attachment rows and keys in the
 * database, thumbnails or image re-encoding, file-name sanitising — nor the wiring into engine.ts
 * (a later step of issue 13). Paths are chosen by the caller; errors never carry them.
 * A process killed mid-decryption can leave a hidden `.…parley-partial` file beside the
 * destination (never renamed into place); `removeSpoolPartials` sweeps the spool's own leftovers.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { toHex } from '../../../shared/crypto/bytes.js';
import { systemRng, type Rng } from '../../../shared/crypto/random.js';
import { attachmentLayout, newAttachmentKey, type AttachmentDescriptor } from '../../../shared/protocol/attachment-cipher.js';
import { workerEntry } from '../worker-entry.js';
import type { DecryptJob, EncryptJob, EncryptResult } from './cipher-stream.js';
import { FileCipherError, ioError, type FileCipherErrorCode } from './errors.js';

/** A spool file being written; a leftover after a crash is swept by removeSpoolPartials. */
const SPOOL_PARTIAL_SUFFIX = '.partial';
/** A finished spool file: header ‖ sealed segments, exactly what is uploaded. */
export const SPOOL_SUFFIX = '.spool';
const OUTPUT_PARTIAL_SUFFIX = '.parley-partial';

export type CipherJob = ({ readonly kind: 'encrypt' } & EncryptJob) | ({ readonly kind: 'decrypt' } & DecryptJob);

export type FromCipherWorker =
  | { readonly type: 'progress'; readonly bytes: number }
  | { readonly type: 'encrypted'; readonly result: EncryptResult }
  | { readonly type: 'decrypted' }
  | { readonly type: 'failed'; readonly code: FileCipherErrorCode; readonly message: string };

export type TransferOptions = {
  /** Plaintext bytes done and the total, at most every 8 MiB and once at the end. */
  readonly onProgress?: ((bytes: number, total: number) => void) | undefined;
  /** Cancels: the worker stops, partial files are deleted, the promise rejects with CANCELLED. */
  readonly signal?: AbortSignal | undefined;
};

export type SpooledAttachment = {
  /** The ciphertext in the spool (name: hex(fileId) + `.spool`). */
  readonly spoolPath: string;
  readonly fileId: Uint8Array;
  readonly ciphertextLength: number;
  /** What the E2E message carries (docs/protocol.md §17.5). */
  readonly descriptor: AttachmentDescriptor;
};

export type EncryptOptions = TransferOptions & {
  /** The engine-owned spool folder (created if missing, mode 0700). */
  readonly spoolDir: string;
  /** The key and file id come from here (systemRng in production; deterministic in tests). */
  readonly rng?: Rng | undefined;
  /** The relay's announced maximum: a larger ciphertext is TOO_LARGE before anything is read. */
  readonly maxCiphertextBytes?: number | undefined;
};

/** The cipher worker's entry (compiled JS next to this module, or bundled under the test runner). */
export function cipherWorkerEntry(): URL {
  return workerEntry(import.meta.url, './cipher-worker');
}

/**
 * Idle cipher workers kept for the next job: starting one (a thread, its modules, the hash helper)
 * costs ~50 ms of CPU, a tenth of a 1 GiB job's time here (docs/adr/0021). Idle workers are unref'd,
 * so they never keep the process alive, and stop after IDLE_WORKER_MS.
 */
const IDLE_WORKER_MS = 15_000;
const MAX_IDLE_WORKERS = 2;
const idleWorkers = new Map<Worker, NodeJS.Timeout>();

function takeWorker(): Worker {
  for (const [worker, timer] of idleWorkers) {
    idleWorkers.delete(worker);
    clearTimeout(timer);
    worker.ref();
    return worker;
  }
  const worker = new Worker(cipherWorkerEntry());
  worker.once('exit', () => {
    clearTimeout(idleWorkers.get(worker));
    idleWorkers.delete(worker);
  });
  return worker;
}

function parkWorker(worker: Worker): void {
  if (idleWorkers.size >= MAX_IDLE_WORKERS) {
    void worker.terminate();
    return;
  }
  worker.unref();
  const timer = setTimeout(() => {
    idleWorkers.delete(worker);
    void worker.terminate();
  }, IDLE_WORKER_MS);
  timer.unref();
  idleWorkers.set(worker, timer);
}

/**
 * Runs one job on a cipher worker. The worker answers only after it closed the job's files, so the
 * caller's cleanup cannot race it; a cancelled or crashed job settles only after its worker exited.
 */
function runJob<T extends FromCipherWorker>(job: CipherJob, total: number, options: TransferOptions): Promise<T> {
  const worker = takeWorker();
  return new Promise<T>((resolve, reject) => {
    let outcome: { ok: true; value: T } | { ok: false; error: FileCipherError } | null = null;
    let terminated = false;
    const settle = (): void => {
      options.signal?.removeEventListener('abort', onAbort);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      const settled = outcome ?? { ok: false, error: new FileCipherError('WORKER_FAILED', 'the file cipher worker exited without an answer') };
      if (settled.ok) resolve(settled.value);
      else reject(settled.error);
    };
    const onAbort = (): void => {
      outcome ??= { ok: false, error: new FileCipherError('CANCELLED', 'the transfer was cancelled') };
      terminated = true;
      void worker.terminate();
    };
    const onMessage = (m: FromCipherWorker): void => {
      if (m.type === 'progress') {
        options.onProgress?.(m.bytes, total);
        return;
      }
      if (terminated) return;
      outcome ??= m.type === 'failed' ? { ok: false, error: new FileCipherError(m.code, m.message) } : { ok: true, value: m as T };
      parkWorker(worker);
      settle();
    };
    const onError = (): void => {
      outcome ??= { ok: false, error: new FileCipherError('WORKER_FAILED', 'the file cipher worker crashed') };
    };
    const onExit = (): void => settle();
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) {
      job.key.fill(0);
      onAbort();
    } else worker.postMessage(job, [job.key.buffer as ArrayBuffer]);
  });
}

async function sourceSize(source: string): Promise<number> {
  try {
    const s = await stat(source);
    if (!s.isFile()) throw new FileCipherError('NOT_A_FILE', 'the source is not a regular file');
    return s.size;
  } catch (e) {
    throw e instanceof FileCipherError ? e : ioError('read the source file', e);
  }
}

/** Encrypts `source` once into the spool under a fresh key; see the module comment. */
export async function encryptToSpool(source: string, options: EncryptOptions): Promise<SpooledAttachment> {
  const length = await sourceSize(source);
  let ciphertextLength: number;
  try {
    ciphertextLength = attachmentLayout(length).ciphertextLength;
  } catch {
    throw new FileCipherError('TOO_LARGE', 'the file is larger than an attachment can be');
  }
  if (options.maxCiphertextBytes !== undefined && ciphertextLength > options.maxCiphertextBytes) {
    throw new FileCipherError('TOO_LARGE', 'the file is larger than the relay accepts');
  }
  try {
    await mkdir(options.spoolDir, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw ioError('create the spool folder', e);
  }
  const { key, fileId } = newAttachmentKey({ rng: options.rng ?? systemRng });
  const name = toHex(fileId);
  const partial = join(options.spoolDir, name + SPOOL_PARTIAL_SUFFIX);
  const spoolPath = join(options.spoolDir, name + SPOOL_SUFFIX);
  try {
    const done = await runJob<Extract<FromCipherWorker, { type: 'encrypted' }>>(
      { kind: 'encrypt', source, partial, key: key.slice(), fileId, length },
      length,
      options,
    );
    await rename(partial, spoolPath).catch((e: unknown) => {
      throw ioError('finish the spool file', e);
    });
    const { result } = done;
    return {
      spoolPath,
      fileId,
      ciphertextLength: result.ciphertextLength,
      descriptor: {
        key,
        length: result.length,
        paddedLength: result.paddedLength,
        ciphertextDigest: result.ciphertextDigest,
        plaintextSha256: result.plaintextSha256,
      },
    };
  } catch (e) {
    key.fill(0);
    await rm(partial, { force: true });
    throw e;
  }
}

/**
 * Decrypts the attachment at `ciphertextPath` into `destination` (replacing a file there) once
 * everything verified; on any failure no file appears at `destination` and no partial file stays.
 */
export async function decryptToFile(
  ciphertextPath: string,
  destination: string,
  descriptor: AttachmentDescriptor,
  options: TransferOptions = {},
): Promise<void> {
  const partial = join(dirname(destination), `.${basename(destination).slice(0, 64)}.${randomBytes(8).toString('hex')}${OUTPUT_PARTIAL_SUFFIX}`);
  try {
    await runJob(
      {
        kind: 'decrypt',
        ciphertext: ciphertextPath,
        partial,
        key: descriptor.key.slice(),
        length: descriptor.length,
        paddedLength: descriptor.paddedLength,
        ciphertextDigest: descriptor.ciphertextDigest,
        plaintextSha256: descriptor.plaintextSha256,
      },
      descriptor.length,
      options,
    );
    await rename(partial, destination).catch((e: unknown) => {
      throw ioError('write the output file', e);
    });
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
}

/** Deletes spool files left half-written by a crash (call when the engine starts). Returns how many. */
export async function removeSpoolPartials(spoolDir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(spoolDir);
  } catch {
    return 0;
  }
  const stale = names.filter((n) => n.endsWith(SPOOL_PARTIAL_SUFFIX));
  await Promise.all(stale.map((n) => rm(join(spoolDir, n), { force: true })));
  return stale.length;
}
