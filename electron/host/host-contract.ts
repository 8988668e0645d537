/**
 * The channel and event tables both hosts carry (the Electron main process + preload, and the
 * browser host): shared/api's renderer↔engine contract, re-exported under the names the shell's
 * generic layer uses. host-contract.test.ts keeps the tables and the engine's dispatcher fitting.
 */
import type { ChannelTable, EventTable } from './channels.js';
import { CONTRACT, EVENTS } from '../../shared/api/index.js';

export const HOST_CONTRACT = CONTRACT satisfies ChannelTable;
export const HOST_EVENTS = EVENTS satisfies EventTable;

export type HostContract = typeof HOST_CONTRACT;
export type HostEvents = typeof HOST_EVENTS;
