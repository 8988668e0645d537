/**
 * Argon2id (RFC 9106) from hash-wasm, run in a worker thread so the event loop that serves the UI
 * stays free while it works (DESIGN §3.1, §4). Parameters are checked against Parley's bounds
 * (m 64 MiB-1 GiB, t 3-10, p 1-4, as backup readers use, DESIGN §3.9) before any work, so a
 * tampered key file cannot make the engine allocate 4 GiB or spin for minutes.
 *
 * The worker is started from source text (`eval`), not from a file: the engine runs both as
 * compiled JS and under the test runner from TypeScript, and a worker file would need a loader in
 * the second case. The passphrase bytes are transferred (not copied) into the worker.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { KeyError } from './errors.js';

export type Argon2Params = {
  /** Memory in KiB. */
  readonly memoryKiB: number;
  readonly iterations: number;
  readonly parallelism: number;
};

export const ARGON2_BOUNDS = {
  memoryKiB: { min: 64 * 1024, max: 1024 * 1024 },
  iterations: { min: 3, max: 10 },
  parallelism: { min: 1, max: 4 },
} as const;

/** 128 MiB, 3 passes, 1 lane: about a second on a laptop with hash-wasm. */
export const DEFAULT_ARGON2_PARAMS: Argon2Params = Object.freeze({ memoryKiB: 128 * 1024, iterations: 3, parallelism: 1 });

export const ARGON2_SALT_LENGTH = 32;
export const ARGON2_OUTPUT_LENGTH = 32;

export function checkArgon2Params(p: Argon2Params): void {
  for (const name of ['memoryKiB', 'iterations', 'parallelism'] as const) {
    const v = p[name];
    const { min, max } = ARGON2_BOUNDS[name];
    if (!Number.isInteger(v) || v < min || v > max) {
      throw new KeyError('ARGON2_PARAMS_OUT_OF_RANGE', `Argon2id ${name} must be within ${min}-${max}`);
    }
  }
}

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { argon2id } = require(workerData.hashWasm);
argon2id({
  password: workerData.password,
  salt: workerData.salt,
  memorySize: workerData.memoryKiB,
  iterations: workerData.iterations,
  parallelism: workerData.parallelism,
  hashLength: workerData.hashLength,
  outputType: 'binary',
}).then(
  (out) => { workerData.password.fill(0); parentPort.postMessage({ ok: true, out }, [out.buffer]); },
  () => { workerData.password.fill(0); parentPort.postMessage({ ok: false }); },
);
`;

const hashWasmPath = createRequire(import.meta.url).resolve('hash-wasm');

/**
 * Argon2id(password, salt, params) → 32 bytes, computed in a worker thread. `password` is
 * consumed: its buffer is transferred to the worker and detached here.
 */
export function argon2idInWorker(password: Uint8Array, salt: Uint8Array, params: Argon2Params): Promise<Uint8Array> {
  checkArgon2Params(params);
  if (salt.length !== ARGON2_SALT_LENGTH) throw new RangeError('Argon2id salt must be 32 bytes');
  // A private copy whose whole buffer can be transferred.
  const pw = new Uint8Array(password.length);
  pw.set(password);
  password.fill(0);
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { hashWasm: hashWasmPath, password: pw, salt: Uint8Array.from(salt), hashLength: ARGON2_OUTPUT_LENGTH, ...params },
      transferList: [pw.buffer],
    });
    let settled = false;
    worker.once('message', (msg: { ok: boolean; out?: Uint8Array }) => {
      settled = true;
      void worker.terminate();
      if (msg.ok && msg.out instanceof Uint8Array && msg.out.length === ARGON2_OUTPUT_LENGTH) resolve(msg.out);
      else reject(new Error('Argon2id failed'));
    });
    worker.once('error', () => {
      if (!settled) reject(new Error('Argon2id worker failed'));
    });
    worker.once('exit', () => {
      if (!settled) reject(new Error('Argon2id worker exited'));
    });
  });
}
