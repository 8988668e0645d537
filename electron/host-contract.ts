/**
 * The channel and event tables both hosts carry (the Electron main process + preload, and the
 * browser host). Today they are empty: the renderer↔engine contract (shared/api CONTRACT and EVENTS)
 * and the engine that handles it are being built separately, and plug in here — one line each:
 *
 *   export { CONTRACT as HOST_CONTRACT, EVENTS as HOST_EVENTS } from '../shared/api/index.js';
 *
 * and main.ts / browser-host/main.ts hand the transports the engine's dispatcher as `invoke`
 * (electron/engine/dispatch.ts) — or createInvoker with one handler per channel; host-contract.test.ts
 * keeps both fitting. TODO(#5): switch to shared/api's tables once the engine contract lands.
 */
import type { ChannelTable, EventTable } from './ipc-channels.js';

export const HOST_CONTRACT = {} as const satisfies ChannelTable;
export const HOST_EVENTS = {} as const satisfies EventTable;

export type HostContract = typeof HOST_CONTRACT;
export type HostEvents = typeof HOST_EVENTS;
