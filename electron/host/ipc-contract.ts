/**
 * The one validation layer both hosts share (DESIGN §4 "Both share one contract and one validation
 * layer"): given a channel table and one handler per channel, `createInvoker` returns `invoke(channel,
 * rawRequest, context)` which
 *   1. refuses a channel not in the table (own keys only: `__proto__`, `toString` are not channels),
 *   2. validates the request with the channel's schema (the renderer is untrusted) and hands the
 *      handler the parsed value,
 *   3. turns a thrown handler into INTERNAL with a generic message (the error is reported through
 *      `onFault` by name only; messages may carry secrets),
 *   4. validates what the handler answers — the value against the response schema, an error against
 *      the error schema — so only view models and known error codes cross, even when the engine has
 *      a bug.
 * `createEventEmitter` does the same for pushed events. Transports (ipc-main.ts, the browser host)
 * add who-may-call checks and framing; they never validate on their own.
 */
import { z } from 'zod';
import {
  HOST_ERROR_CODES,
  describeChannels,
  describeEvents,
  type ChannelDescriptor,
  type ChannelName,
  type ChannelTable,
  type EventName,
  type EventTable,
  type HostError,
  type HostResult,
  type RequestOf,
  type ResponseOf,
} from './channels.js';

/** Which host a call came through (the engine may, e.g., word notifications differently). */
export type CallContext = { readonly host: 'electron' | 'browser' };

export type Handler<T extends ChannelTable, C extends ChannelName<T>> = (
  request: RequestOf<T, C>,
  context: CallContext,
) => Promise<HostResult<ResponseOf<T, C>>> | HostResult<ResponseOf<T, C>>;

/** Exactly one handler per channel: a missing or extra channel is a compile error. */
export type Handlers<T extends ChannelTable> = { readonly [C in ChannelName<T>]: Handler<T, C> };

/** A single dispatcher (e.g. the engine's) seen as one handler per channel. */
export type Dispatch<T extends ChannelTable> = <C extends ChannelName<T>>(
  channel: C,
  request: RequestOf<T, C>,
  context: CallContext,
) => Promise<HostResult<ResponseOf<T, C>>>;

export function handlersFromDispatch<T extends ChannelTable>(table: T, dispatch: Dispatch<T>): Handlers<T> {
  const handlers: Record<string, Handler<T, ChannelName<T>>> = {};
  for (const channel of Object.keys(table) as ChannelName<T>[]) {
    handlers[channel] = (request, context) => dispatch(channel, request, context);
  }
  return handlers as Handlers<T>;
}

export const MAX_ERROR_MESSAGE_LENGTH = 300;

/** Default error check; hosts pass shared/api's ApiErrorSchema to pin the closed code set. */
export const HostErrorSchema = z.strictObject({
  code: z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/),
  message: z.string().max(MAX_ERROR_MESSAGE_LENGTH),
});

/** A fault is a bug or an attack; the report names the channel and the kind, never data. */
export type InvokeFault =
  | { readonly kind: 'handler-threw'; readonly channel: string; readonly errorName: string }
  | { readonly kind: 'invalid-response'; readonly channel: string }
  | { readonly kind: 'invalid-error'; readonly channel: string }
  | { readonly kind: 'invalid-event'; readonly event: string };

export type InvokerOptions = {
  readonly errorSchema?: z.ZodType<HostError>;
  readonly onFault?: (fault: InvokeFault) => void;
};

export type Invoke = (channel: string, request: unknown, context: CallContext) => Promise<HostResult<unknown>>;

export type Invoker = {
  readonly invoke: Invoke;
  readonly channels: readonly ChannelDescriptor[];
};

function fail(code: string, message: string): HostResult<never> {
  return { ok: false, error: { code, message: message.slice(0, MAX_ERROR_MESSAGE_LENGTH) } };
}

/** Paths of the failing fields only: zod messages can quote the input, which may be a passphrase. */
function describeIssues(error: z.ZodError): string {
  const paths = error.issues.map((issue) => (issue.path.length === 0 ? '(request)' : issue.path.map(String).join('.')));
  return [...new Set(paths)].slice(0, 5).join(', ');
}

export function createInvoker<T extends ChannelTable>(table: T, handlers: Handlers<T>, options: InvokerOptions = {}): Invoker {
  const channels = describeChannels(table);
  for (const { channel } of channels) {
    if (typeof (handlers as Record<string, unknown>)[channel] !== 'function') throw new Error(`no handler for channel ${channel}`);
  }
  const errorSchema = options.errorSchema ?? HostErrorSchema;
  const onFault = options.onFault ?? (() => undefined);

  const invoke: Invoke = async (channel, rawRequest, context) => {
    if (typeof channel !== 'string' || !Object.hasOwn(table, channel)) {
      return fail(HOST_ERROR_CODES.invalidRequest, 'unknown channel');
    }
    const spec = table[channel]!;
    const parsed = spec.request.safeParse(rawRequest);
    if (!parsed.success) {
      return fail(HOST_ERROR_CODES.invalidRequest, `invalid request for ${channel}: ${describeIssues(parsed.error)}`);
    }
    const handler = (handlers as Record<string, Handler<T, ChannelName<T>>>)[channel]!;
    let result: unknown;
    try {
      result = await handler(parsed.data as RequestOf<T, ChannelName<T>>, context);
    } catch (error) {
      onFault({ kind: 'handler-threw', channel, errorName: error instanceof Error ? error.name : typeof error });
      return fail(HOST_ERROR_CODES.internal, 'internal error');
    }
    if (typeof result !== 'object' || result === null || !('ok' in result)) {
      onFault({ kind: 'invalid-response', channel });
      return fail(HOST_ERROR_CODES.internal, 'internal error');
    }
    if (result.ok === true && 'value' in result) {
      const value = spec.response.safeParse(result.value);
      if (!value.success) {
        onFault({ kind: 'invalid-response', channel });
        return fail(HOST_ERROR_CODES.internal, 'internal error');
      }
      return { ok: true, value: value.data };
    }
    if (result.ok === false && 'error' in result) {
      const error = errorSchema.safeParse(result.error);
      if (!error.success) {
        onFault({ kind: 'invalid-error', channel });
        return fail(HOST_ERROR_CODES.internal, 'internal error');
      }
      return { ok: false, error: error.data };
    }
    onFault({ kind: 'invalid-response', channel });
    return fail(HOST_ERROR_CODES.internal, 'internal error');
  };

  return { invoke, channels };
}

/** One pushed event as every transport frames it. */
export type EventMessage = { readonly event: string; readonly payload: unknown };

export type EventEmitter<E extends EventTable> = {
  /** Validates and sends; an invalid payload is reported as a fault and not sent. Returns whether it was sent. */
  emit<N extends EventName<E>>(event: N, payload: z.input<E[N]>): boolean;
  readonly names: readonly string[];
};

export function createEventEmitter<E extends EventTable>(
  events: E,
  send: (message: EventMessage) => void,
  options: Pick<InvokerOptions, 'onFault'> = {},
): EventEmitter<E> {
  const names = describeEvents(events);
  return {
    names,
    emit(event, payload) {
      if (!Object.hasOwn(events, event)) {
        options.onFault?.({ kind: 'invalid-event', event });
        return false;
      }
      const parsed = events[event]!.safeParse(payload);
      if (!parsed.success) {
        options.onFault?.({ kind: 'invalid-event', event });
        return false;
      }
      send({ event, payload: parsed.data });
      return true;
    },
  };
}
