/**
 * The one validation layer between a host (Electron IPC, the browser host's WebSocket) and the
 * engine (DESIGN §4: "both share one contract and one validation layer"). The renderer is
 * untrusted: every request is parsed with its channel's schema before a handler sees it, every
 * response is parsed with its schema before it leaves (so only view models cross), and every
 * failure becomes an error value with a code from the closed set.
 */
import type { z } from 'zod';
import { CONTRACT, isChannel, type Channel, type Contract } from '../../shared/api/contract.js';
import type { ApiResult } from '../../shared/api/errors.js';
import type { ResponseOf } from '../../shared/api/types.js';
import { toApiError } from './errors.js';

export type RequestFor<C extends Channel> = z.output<Contract[C]['request']>;

export type Handler<C extends Channel> = (request: RequestFor<C>) => Promise<ResponseOf<C>> | ResponseOf<C>;

/** Handlers for a set of channels; a host serves the channels its engine implements. */
export type Handlers<C extends Channel = Channel> = { readonly [K in C]: Handler<K> };

export type Dispatch = (channel: unknown, request: unknown) => Promise<ApiResult<unknown>>;

export function createDispatcher<C extends Channel>(
  handlers: Handlers<C>,
  hooks: { readonly onRequest?: (channel: Channel) => void } = {},
): Dispatch {
  return async (channel, request) => {
    if (!isChannel(channel) || !Object.hasOwn(handlers, channel)) {
      return { ok: false, error: { code: 'INVALID_REQUEST', message: 'unknown channel' } };
    }
    const spec = CONTRACT[channel];
    const parsed = spec.request.safeParse(request);
    if (!parsed.success) {
      // The first issue's path and kind only: never echo the renderer's input back.
      const issue = parsed.error.issues[0];
      const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
      return { ok: false, error: { code: 'INVALID_REQUEST', message: `invalid request${where}: ${issue?.code ?? 'invalid'}` } };
    }
    hooks.onRequest?.(channel);
    try {
      const handler = (handlers as unknown as Record<Channel, (r: unknown) => unknown>)[channel];
      const value: unknown = await handler(parsed.data);
      const checked = spec.response.safeParse(value);
      if (!checked.success) return { ok: false, error: { code: 'INTERNAL', message: 'internal error' } };
      return { ok: true, value: checked.data };
    } catch (e) {
      return { ok: false, error: toApiError(e) };
    }
  };
}
