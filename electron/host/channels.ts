/**
 * The shape of a renderer↔engine channel table, shared by every host (STYLE "IPC"): channel name →
 * { method, request schema, response schema }, plus an event table (event name → payload schema).
 * shared/api's CONTRACT and EVENTS have exactly this shape; host-contract.ts says which tables the
 * hosts carry.
 *
 * This file is type-only apart from `describeChannels`, and imports no zod value, so the sandboxed
 * preload bundle can use it without pulling in a validator of its own.
 */
import type { z } from 'zod';

export type ChannelSpec = {
  /** The bridge function that carries the channel (`window.parley.<method>`). */
  readonly method: string;
  readonly request: z.ZodType;
  readonly response: z.ZodType;
};

export type ChannelTable = { readonly [channel: string]: ChannelSpec };
export type EventTable = { readonly [event: string]: z.ZodType };

export type ChannelName<T extends ChannelTable> = Extract<keyof T, string>;
export type EventName<E extends EventTable> = Extract<keyof E, string>;

/** What a handler receives: the request after validation (schema output). */
export type RequestOf<T extends ChannelTable, C extends ChannelName<T>> = z.output<T[C]['request']>;
/** What a handler returns inside `ok`: anything the response schema accepts (schema input). */
export type ResponseOf<T extends ChannelTable, C extends ChannelName<T>> = z.input<T[C]['response']>;

/** Errors cross the bridge as values (STYLE "IPC"). shared/api narrows `code` to its closed set. */
export type HostError = { readonly code: string; readonly message: string };
export type HostResult<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: HostError };

/** The codes the host layer itself produces (both are in shared/api's API_ERROR_CODES). */
export const HOST_ERROR_CODES = { invalidRequest: 'INVALID_REQUEST', internal: 'INTERNAL' } as const;

/** Electron: main → renderer events travel on this one IPC channel, framed { event, payload }. */
export const EVENT_CHANNEL = 'parley:event';

/** A channel as a transport sees it: no schemas, just the names. */
export type ChannelDescriptor = { readonly channel: string; readonly method: string };

/** Channel names look like `messages:send`; method names are identifiers. */
export const CHANNEL_NAME_PATTERN = /^[a-z][A-Za-z0-9]*:[a-z][A-Za-z0-9]*$/;
export const METHOD_NAME_PATTERN = /^[a-z][A-Za-z0-9]*$/;
export const EVENT_NAME_PATTERN = /^[a-z][A-Za-z0-9]*(:[a-z][A-Za-z0-9]*)?$/;
/** `on` is the bridge's subscribe function; the rest would shadow Object.prototype. */
const RESERVED_METHODS = new Set(['on', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString']);

/**
 * The channel list of a table, checked once at start-up: names well-formed, one channel per method,
 * no method shadowing `on` or Object.prototype. A bad table is a bug and throws.
 */
export function describeChannels(table: { readonly [channel: string]: { readonly method: string } }): ChannelDescriptor[] {
  const methods = new Set<string>();
  const out: ChannelDescriptor[] = [];
  for (const channel of Object.keys(table)) {
    const method = table[channel]!.method;
    if (!CHANNEL_NAME_PATTERN.test(channel)) throw new Error(`channel table: bad channel name ${JSON.stringify(channel)}`);
    if (!METHOD_NAME_PATTERN.test(method) || RESERVED_METHODS.has(method)) {
      throw new Error(`channel table: bad method name ${JSON.stringify(method)} for ${channel}`);
    }
    if (methods.has(method)) throw new Error(`channel table: method ${method} is carried by two channels`);
    methods.add(method);
    out.push({ channel, method });
  }
  return out;
}

/** The event names of a table, checked like channel names. */
export function describeEvents(events: { readonly [event: string]: unknown }): string[] {
  const names = Object.keys(events);
  for (const name of names) {
    if (!EVENT_NAME_PATTERN.test(name)) throw new Error(`event table: bad event name ${JSON.stringify(name)}`);
  }
  return names;
}
