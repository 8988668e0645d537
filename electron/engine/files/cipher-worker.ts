/**
 * Entry of the file cipher worker thread (started by file-cipher.ts; imported by nothing). Runs jobs
 * one at a time, as they are posted — encrypt a file into the spool, or decrypt an attachment into
 * an output file — with the cipher on this thread, I/O on the thread pool and the plaintext hash on
 * a helper thread (hash-ring.ts), and reports progress, then the result or a typed failure
 * ({ code, message }, never a stack, path or key). The thread and its hash helper outlive a job, so
 * the next job does not pay for starting them (file-cipher.ts keeps idle workers for a while).
 * Each key arrives transferred into this thread and is wiped when its job ends.
 */
import { parentPort } from 'node:worker_threads';
import { isProtocolError } from '../../../shared/protocol/errors.js';
import { decryptFile, encryptFile, type DecryptJob, type EncryptJob } from './cipher-stream.js';
import { ATTACHMENT_CHECK_CODES, FileCipherError, type FileCipherErrorCode } from './errors.js';
import { HashRing } from './hash-ring.js';
import type { FromCipherWorker, CipherJob } from './file-cipher.js';

/** Progress is posted at most once per this many plaintext bytes (and once at the end). */
const PROGRESS_STEP = 8 * 1024 * 1024;

const port = parentPort!;
const post = (m: FromCipherWorker): void => port.postMessage(m);

function failure(e: unknown): { code: FileCipherErrorCode; message: string } {
  if (e instanceof FileCipherError) return { code: e.code, message: e.message };
  if (isProtocolError(e) && ATTACHMENT_CHECK_CODES.has(e.code)) return { code: e.code as FileCipherErrorCode, message: e.message };
  return { code: 'WORKER_FAILED', message: 'the file cipher failed unexpectedly' };
}

/** Reused from job to job; replaced after a job that failed (its counters are then unknown). */
let ring: HashRing | null = null;

async function run(job: CipherJob): Promise<void> {
  let reported = 0;
  const progress = (bytes: number): void => {
    if (bytes - reported < PROGRESS_STEP) return;
    reported = bytes;
    post({ type: 'progress', bytes });
  };
  ring ??= new HashRing();
  try {
    if (job.kind === 'encrypt') {
      const result = await encryptFile(job as EncryptJob & CipherJob, ring, progress);
      post({ type: 'progress', bytes: result.length });
      post({ type: 'encrypted', result });
    } else {
      await decryptFile(job as DecryptJob & CipherJob, ring, progress);
      post({ type: 'progress', bytes: job.length });
      post({ type: 'decrypted' });
    }
  } catch (e) {
    ring.close();
    ring = null;
    post({ type: 'failed', ...failure(e) });
  } finally {
    job.key.fill(0);
  }
}

// The caller posts the next job only after this one answered, so jobs never overlap here.
port.on('message', (job: CipherJob) => void run(job));
