/**
 * The one contract layer between a host (Electron IPC, the browser host's WebSocket, the engine's
 * child-process entry) and the engine (DESIGN §4: "both share one contract and one validation
 * layer"). The renderer is untrusted, and so is an engine with a bug:
 *   1. a channel not in shared/api's CONTRACT is refused (own keys only: `__proto__`, `toString`
 *      are not channels);
 *   2. the request is parsed with its channel's schema before a handler sees it; a refusal names
 *      the failing fields by path only (zod messages can quote the input, which may be a passphrase);
 *   3. the handler's value is parsed with the response schema before it leaves, so only view models
 *      cross; a value that breaks it becomes INTERNAL and an `invalid-response` fault;
 *   4. a thrown error becomes an error value (errors.ts maps the engine's typed errors), which is
 *      itself checked against ApiErrorSchema (closed code set, bounded message); anything the
 *      engine did not expect becomes INTERNAL and a fault that names the error class, never its text.
 * Faults are bugs or attacks, reported through `onFault` by name and channel only, never with data.
 *
 * Handlers are typed over every channel of the contract: a channel without a handler is a compile
 * error. Transports (shell/ipc-main.ts, browser-host/server.ts) add who-may-call checks and framing;
 * they never validate on their own. Pushed events are validated by host/events.ts with the same
 * fault vocabulary.
 */
import type { z } from 'zod';
import { CONTRACT, isChannel, type Channel, type Contract } from '../../shared/api/contract.js';
import { ApiErrorSchema, MAX_API_ERROR_MESSAGE_LENGTH, type ApiError, type ApiResult } from '../../shared/api/errors.js';
import type { ResponseOf } from '../../shared/api/types.js';
import { EngineError, toApiError } from './errors.js';

/** What a handler receives: the request after validation. */
export type RequestFor<C extends Channel> = z.output<Contract[C]['request']>;

export type Handler<C extends Channel> = (request: RequestFor<C>) => Promise<ResponseOf<C>> | ResponseOf<C>;

/** Exactly one handler per channel of the contract. */
export type Handlers = { readonly [C in Channel]: Handler<C> };

/** A bug or an attack, named by kind and channel (or event), never carrying data. */
export type ContractFault =
  | { readonly kind: 'handler-threw'; readonly channel: string; readonly errorName: string }
  | { readonly kind: 'invalid-response'; readonly channel: string }
  | { readonly kind: 'invalid-error'; readonly channel: string }
  | { readonly kind: 'invalid-event'; readonly event: string };

/** Serves one request; never rejects. Every transport's `invoke`. */
export type Dispatch = (channel: unknown, request: unknown) => Promise<ApiResult<unknown>>;

export type DispatchHooks = {
  readonly onFault?: (fault: ContractFault) => void;
};

const INTERNAL: ApiError = { code: 'INTERNAL', message: 'internal error' };

function fail(code: 'INVALID_REQUEST', message: string): ApiResult<never> {
  return { ok: false, error: { code, message: message.slice(0, MAX_API_ERROR_MESSAGE_LENGTH) } };
}

/** The paths of the failing fields, at most five, never the values. */
function describeIssues(error: z.ZodError): string {
  const paths = error.issues.map((issue) => (issue.path.length === 0 ? '(request)' : issue.path.map(String).join('.')));
  return [...new Set(paths)].slice(0, 5).join(', ');
}

export function createDispatcher(handlers: Handlers, hooks: DispatchHooks = {}): Dispatch {
  const onFault = hooks.onFault ?? (() => undefined);
  return async (channel, request) => {
    if (!isChannel(channel)) return fail('INVALID_REQUEST', 'unknown channel');
    const spec = CONTRACT[channel];
    const parsed = spec.request.safeParse(request);
    if (!parsed.success) return fail('INVALID_REQUEST', `invalid request for ${channel}: ${describeIssues(parsed.error)}`);
    const handler = handlers[channel] as (request: unknown) => unknown;
    let value: unknown;
    try {
      value = await handler(parsed.data);
    } catch (e) {
      const error = toApiError(e);
      if (error.code === 'INTERNAL' && !(e instanceof EngineError)) {
        onFault({ kind: 'handler-threw', channel, errorName: e instanceof Error ? e.name : typeof e });
      }
      const checked = ApiErrorSchema.safeParse(error);
      if (checked.success) return { ok: false, error: checked.data };
      onFault({ kind: 'invalid-error', channel });
      return { ok: false, error: INTERNAL };
    }
    const checked = spec.response.safeParse(value);
    if (checked.success) return { ok: true, value: checked.data };
    onFault({ kind: 'invalid-response', channel });
    return { ok: false, error: INTERNAL };
  };
}
