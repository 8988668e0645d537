/**
 * One bridge call as a value: a rejected promise (the host went away mid-call, or Electron refused
 * the frame) becomes an error result, so state classes handle exactly one failure shape.
 */
import type { ApiResult } from '../../../../shared/api/types.js';

export const CONNECTION_LOST = 'the connection to Parley was lost';

export async function settle<T>(request: Promise<ApiResult<T>>): Promise<ApiResult<T>> {
  try {
    return await request;
  } catch {
    return { ok: false, error: { code: 'INTERNAL', message: CONNECTION_LOST } };
  }
}

/** Timers, injectable so tests drive typing expiry and throttling by hand. */
export type Timers = {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  now(): number;
};

export const browserTimers: Timers = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle as ReturnType<typeof globalThis.setTimeout>),
  now: () => Date.now(),
};
