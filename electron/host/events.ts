/**
 * Pushed events, validated before any transport sends them (the counterpart of the request side in
 * electron/engine/dispatch.ts): an event must name an entry of shared/api's EVENTS and its payload
 * must pass that entry's schema, so only view models reach the renderer even when the engine has a
 * bug. An invalid event is not sent; it is reported as an `invalid-event` fault by name only.
 * Transports (shell/ipc-main.ts, browser-host/server.ts) supply `send` and their framing.
 */
import type { z } from 'zod';
import { EVENTS } from '../../shared/api/events.js';
import type { EngineEvent } from '../../shared/api/types.js';
import type { ContractFault } from '../engine/dispatch.js';

/** Validates and sends one event; returns whether it was sent. */
export type EmitEvent = (event: EngineEvent) => boolean;

export function createEventEmitter(send: (event: EngineEvent) => void, options: { readonly onFault?: (fault: ContractFault) => void } = {}): EmitEvent {
  return ({ event, payload }) => {
    const schema = Object.hasOwn(EVENTS, event) ? (EVENTS as Readonly<Record<string, z.ZodType>>)[event] : undefined;
    const parsed = schema?.safeParse(payload);
    if (!parsed?.success) {
      options.onFault?.({ kind: 'invalid-event', event: String(event) });
      return false;
    }
    send({ event, payload: parsed.data } as EngineEvent);
    return true;
  };
}
