/**
 * Messages between the main thread's worker store (worker-store.ts) and the store worker
 * (sqlite-worker.ts). The worker announces the store's methods in its hello, so the list of
 * methods is written once: in RelayStore (store.ts) and the aggregates that implement it.
 */
import type { RelayStore } from './store.js';

/** The names of RelayStore's methods (everything but `backend`). */
export type StoreMethod = { [K in keyof RelayStore]: RelayStore[K] extends (...args: never[]) => unknown ? K : never }[keyof RelayStore];

export type WorkerRequest = { readonly id: number; readonly method: string; readonly args: readonly unknown[] };
/** `code` is the SQLite or system error code (SQLITE_FULL, ENOSPC…), which callers switch on. */
export type WorkerError = { readonly name: string; readonly message: string; readonly code?: string };
export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WorkerError };
export type WorkerHello =
  | { readonly ready: true; readonly methods: readonly StoreMethod[] }
  | { readonly ready: false; readonly error: WorkerError };

/** The store's own methods, the only names the worker answers. */
export function storeMethods(store: RelayStore): StoreMethod[] {
  return Object.keys(store).filter((name) => typeof (store as Record<string, unknown>)[name] === 'function') as StoreMethod[];
}
