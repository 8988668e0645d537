/**
 * How a transport sees the contract (STYLE "IPC"): channel and method names, event names, and the
 * one IPC channel events travel on. Both hosts list shared/api's CONTRACT and EVENTS through here,
 * checked once at start-up; validation itself is electron/engine/dispatch.ts (requests) and
 * events.ts (pushed events).
 *
 * Imports no value at all, so the sandboxed preload bundle carries nothing of it but these helpers.
 */

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
