/**
 * Fuzzing in CI (issue 21): every decoder that takes bytes, text or JSON from a peer, the relay,
 * the network or the disk (test/fuzz/targets.ts lists them with the file and symbol of each) gets
 * generated inputs — random values and mutations (bit flips, cuts, insertions, splices) of a valid
 * sample made with the real code — and must return or throw its layer's typed error (ProtocolError
 * for the protocol, RelayError MALFORMED/UNSUPPORTED_FRAME for the relay, whose messages must not
 * repeat the input's strings), never anything else; a decoder that authenticates (file cipher,
 * sealed envelope, encrypted profile, backup) accepts only the untouched sample. More than 100,000 inputs
 * per run in total, printed at the end.
 *
 * No hang: each target runs in a worker thread (test/fuzz/fuzz-worker.ts) that publishes, in shared
 * memory, how many inputs it has started; a decoder that has not returned from one input within
 * INPUT_BUDGET_MS is stopped and the test fails with that input. The budget is a watchdog for a
 * loop that never ends, not a speed check: inputs take microseconds to milliseconds here.
 *
 * The relay's handling around these parsers (budgets, strikes, closing) is fuzzed against the running relay in
 * test/integration/relay/hostile.test.ts.
 */
import { Worker } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { workerEntry } from '../../electron/engine/worker-entry.js';
import type { FuzzWorkerData, FuzzWorkerResult } from './fuzz-worker.js';
import { TARGETS, type TargetName } from './targets.js';

const INPUT_BUDGET_MS = 20_000;
/** Before its first input a worker loads its modules and makes its samples: a looser bound. */
const STARTUP_BUDGET_MS = 120_000;
const SEED = 21;
const MIN_TOTAL = 100_000;

const counts = new Map<TargetName, number>();

/** Runs one target in a worker; resolves with the number of inputs decoded. */
function fuzz(target: TargetName): Promise<number> {
  const progress = new SharedArrayBuffer(8);
  const preview = new SharedArrayBuffer(2048);
  const data: FuzzWorkerData = { target, seed: SEED, progress, preview };
  const worker = new Worker(workerEntry(import.meta.url, './fuzz-worker'), { workerData: data });
  const started = new Int32Array(progress);
  return new Promise<number>((resolve, reject) => {
    let seen = -1;
    let since = Date.now();
    const watchdog = setInterval(() => {
      const now = Atomics.load(started, 0);
      if (now !== seen) {
        seen = now;
        since = Date.now();
        return;
      }
      if (Date.now() - since < (now === 0 ? STARTUP_BUDGET_MS : INPUT_BUDGET_MS)) return;
      const input = Buffer.from(new Uint8Array(preview).subarray(0, Atomics.load(started, 1))).toString('utf8');
      const what = now === 0 ? `did not start within ${STARTUP_BUDGET_MS} ms` : `input #${now} did not return within ${INPUT_BUDGET_MS} ms: ${input}`;
      finish(() => reject(new Error(`${target}: ${what}`)));
    }, 250);
    const finish = (then: () => void) => {
      clearInterval(watchdog);
      worker.removeAllListeners();
      void worker.terminate();
      then();
    };
    worker.once('message', (r: FuzzWorkerResult) =>
      finish(() => ('count' in r ? resolve(r.count) : reject(new Error(`${target}: ${r.failure}`)))),
    );
    worker.once('error', (e) => finish(() => reject(e)));
    worker.once('exit', (code) => finish(() => reject(new Error(`${target}: the worker exited (${code}) before reporting`))));
  });
}

afterAll(() => {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  console.log(`fuzz: ${total.toLocaleString('en')} generated inputs over ${counts.size} decoders, no crash, no hang, typed errors only`);
});

describe('fuzzing: decoders of untrusted input fail only with their typed errors, and never hang', () => {
  for (const [name, target] of Object.entries(TARGETS) as [TargetName, (typeof TARGETS)[TargetName]][]) {
    it(`${name} (${target.decoder}): ${target.runs.toLocaleString('en')} inputs`, async () => {
      const count = await fuzz(name);
      counts.set(name, count);
      expect(count).toBe(target.runs);
    }, 300_000);
  }

  it(`in total at least ${MIN_TOTAL.toLocaleString('en')} inputs per run`, () => {
    // Each target's own test asserts it ran all its inputs; the suite runs shuffled, so the total is
    // taken from what the targets are set to run, not from the tests that happened to run before this one.
    const total = Object.values(TARGETS).reduce((a, t) => a + t.runs, 0);
    expect(total).toBeGreaterThanOrEqual(MIN_TOTAL);
  });
});
