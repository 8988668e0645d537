/**
 * The sandboxed preload (DESIGN §2, §6): exposes `window.parley`, one function per contract channel
 * plus `on(event, listener)`, and nothing else — no ipcRenderer, no generic send. Bundled by
 * scripts/build-preload.mjs into one CommonJS file (sandboxed preloads cannot load ESM or local
 * modules); `electron` is the only module it requires at run time.
 *
 * It carries names, never schemas (issue 10 item 14): the channel list and event names come from
 * shared/api's CONTRACT and EVENTS, computed and checked at build time and defined into the bundle
 * as PARLEY_PRELOAD_TABLE (scripts/lib/preload-bundle.mjs). Importing shared/api here by value
 * would bundle zod (777 KB before); electron/shell/ipc-preload.test.ts fails if the bundle holds
 * any other module or grows past its budget. Main validates every request either way.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { EVENT_CHANNEL, type ChannelDescriptor } from '../host/channels.js';
import { buildPreloadBridge } from './ipc-preload.js';

declare const PARLEY_PRELOAD_TABLE: { readonly channels: readonly ChannelDescriptor[]; readonly eventNames: readonly string[] };

contextBridge.exposeInMainWorld(
  'parley',
  buildPreloadBridge({
    channels: PARLEY_PRELOAD_TABLE.channels,
    eventNames: PARLEY_PRELOAD_TABLE.eventNames,
    eventChannel: EVENT_CHANNEL,
    ipcRenderer,
  }),
);
