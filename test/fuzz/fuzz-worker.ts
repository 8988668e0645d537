/**
 * One fuzz target's run, in a worker thread so that the test can stop a decoder that never returns
 * (test/fuzz/decoders.test.ts). Before each input it publishes, in shared memory, how many inputs it
 * has started and a preview of the current one; at the end it posts `{ count }`, or `{ failure }`
 * with fast-check's report (the shrunk counterexample) when an input made the decoder throw
 * anything but its typed error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import { TARGETS, type FuzzTarget, type TargetName } from './targets.js';

export type FuzzWorkerData = {
  readonly target: TargetName;
  readonly seed: number;
  /** Int32 [0] inputs started, [1] bytes of preview in use. */
  readonly progress: SharedArrayBuffer;
  /** UTF-8 preview of the input being decoded. */
  readonly preview: SharedArrayBuffer;
};
export type FuzzWorkerResult = { readonly count: number } | { readonly failure: string };

const data = workerData as FuzzWorkerData;
const target: FuzzTarget = TARGETS[data.target];
const progress = new Int32Array(data.progress);
const preview = new Uint8Array(data.preview);
const encoder = new TextEncoder();

function show(input: unknown): string {
  const hex = (b: Uint8Array) => Buffer.from(b.subarray(0, 256)).toString('hex') + (b.length > 256 ? `… (${b.length} bytes)` : '');
  if (input instanceof Uint8Array) return hex(input);
  return JSON.stringify(input, (_k, v: unknown) => (v instanceof Uint8Array ? hex(v) : v))?.slice(0, 512) ?? String(input);
}

let count = 0;
let result: FuzzWorkerResult;
try {
  fc.assert(
    fc.property(target.input(), (input) => {
      const { written } = encoder.encodeInto(show(input), preview);
      Atomics.store(progress, 1, written);
      Atomics.store(progress, 0, ++count);
      target.run(input);
    }),
    { numRuns: target.runs, seed: data.seed },
  );
  result = { count };
} catch (e) {
  // fast-check reports the counterexample in the message and the decoder's error as the cause.
  const cause = e instanceof Error && e.cause instanceof Error ? `\nbecause: ${e.cause.message}` : '';
  result = { failure: (e instanceof Error ? e.message : String(e)) + cause };
}
parentPort!.postMessage(result);
