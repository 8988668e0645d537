/**
 * The sandboxed preload (DESIGN §2, §6): exposes `window.parley`, one function per contract channel
 * plus `on(event, listener)`, and nothing else — no ipcRenderer, no generic send. Bundled by
 * scripts/build-preload.mjs into one CommonJS file (sandboxed preloads cannot load ESM or local
 * modules); `electron` is the only module it requires at run time.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { CONTRACT } from '../../shared/api/contract.js';
import { EVENTS } from '../../shared/api/events.js';
import { EVENT_CHANNEL, describeChannels, describeEvents } from '../host/channels.js';
import { buildPreloadBridge } from './ipc-preload.js';

contextBridge.exposeInMainWorld(
  'parley',
  buildPreloadBridge({
    channels: describeChannels(CONTRACT),
    eventNames: describeEvents(EVENTS),
    eventChannel: EVENT_CHANNEL,
    ipcRenderer,
  }),
);
