/** Messages between the main thread's WorkerRelayStore and the store worker (sqlite-worker.ts). */
import type { RelayStore } from './store.js';

export type StoreMethod = Exclude<keyof RelayStore, 'backend'>;

/** Every RelayStore method, the only names the worker answers. */
export const STORE_METHODS: readonly StoreMethod[] = [
  'migrate',
  'close',
  'createAccount',
  'getAccount',
  'getAccountByUsername',
  'replaceDeviceList',
  'unregisterDevice',
  'deleteAccount',
  'setPresenceVisible',
  'getDevice',
  'listDevices',
  'putChallenge',
  'takeChallenge',
  'putSession',
  'getSession',
  'storePrekeys',
  'prekeyCounts',
  'claimBundles',
  'commitBatch',
  'readMailbox',
  'countEnvelopes',
  'replaceContacts',
  'getContacts',
  'mutualContacts',
  'sweep',
];

export type WorkerRequest = { readonly id: number; readonly method: string; readonly args: readonly unknown[] };
export type WorkerError = { readonly name: string; readonly message: string };
export type WorkerReply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WorkerError };
export type WorkerHello = { readonly ready: true } | { readonly ready: false; readonly error: WorkerError };
