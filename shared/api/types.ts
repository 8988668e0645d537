/**
 * Type-only view of the contract for the renderer and the preload: it imports nothing at runtime
 * (every import here is `import type`), so `import type { … } from 'shared/api/types.js'` costs the
 * renderer no zod and no engine code. Hosts and the engine use contract.ts / events.ts directly.
 */
import type { z } from 'zod';
import type { Channel, Contract } from './contract.js';
import type { ApiResult } from './errors.js';
import type { EventName, Events } from './events.js';

export type { Channel } from './contract.js';
export type { EventName } from './events.js';
export type { ApiError, ApiErrorCode, ApiResult } from './errors.js';
export type { PageAnchor } from './contract.js';
export type * from './view-models.js';

export type RequestOf<C extends Channel> = z.input<Contract[C]['request']>;
export type ResponseOf<C extends Channel> = z.output<Contract[C]['response']>;
export type MethodName = Contract[Channel]['method'];

/** The channel a bridge method carries. */
export type ChannelOf<M extends MethodName> = { [C in Channel]: Contract[C]['method'] extends M ? C : never }[Channel];

/** What the preload exposes: one function per channel, named by the contract's `method`. */
export type Bridge = {
  readonly [C in Channel as Contract[C]['method']]: (request: RequestOf<C>) => Promise<ApiResult<ResponseOf<C>>>;
} & {
  /** Subscribes to one event; returns the unsubscribe function. */
  readonly on: <E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void) => () => void;
};

export type EventPayload<E extends EventName> = z.output<Events[E]>;

/** One pushed event as it travels over a host's transport. */
export type EngineEvent = { [E in EventName]: { readonly event: E; readonly payload: EventPayload<E> } }[EventName];
