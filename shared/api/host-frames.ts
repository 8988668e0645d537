/**
 * The browser host's framing of the contract (DESIGN §4 "Hosts"): the same channels and events as
 * Electron's IPC, carried as JSON text frames over one WebSocket.
 *
 *   client → host   { type: 'hello', secret }                   first frame, exactly once
 *                   { type: 'request', id, channel, request }   then any number
 *   host → client   { type: 'ready', channels, events }          after a good hello
 *                   { type: 'response', id, result }             result = { ok, value } | { ok: false, error }
 *                   { type: 'event', event, payload }
 *
 * One definition for both ends: the host (electron/browser-host/server.ts) parses client frames with
 * the schemas below; the renderer's socket bridge (renderer/src/lib/bridge/socket-bridge.ts) imports
 * the types only. Close codes, limits and the secret's place in the URL are the host's
 * (electron/browser-host/protocol.ts).
 */
import { z } from 'zod';
import type { ApiResult } from './errors.js';

/** A hello is tiny; a longer first frame is refused before it is parsed. */
export const MAX_HELLO_BYTES = 256;
/** Longer than any channel name of the contract. */
export const MAX_CHANNEL_NAME_LENGTH = 128;

export const HelloFrameSchema = z.strictObject({ type: z.literal('hello'), secret: z.string().max(MAX_HELLO_BYTES) });
export type HelloFrame = z.infer<typeof HelloFrameSchema>;

/** The request is validated later, by the engine's dispatcher, against its channel's schema. */
export const RequestFrameSchema = z.strictObject({
  type: z.literal('request'),
  id: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  channel: z.string().max(MAX_CHANNEL_NAME_LENGTH),
  request: z.unknown(),
});
export type RequestFrame = z.infer<typeof RequestFrameSchema>;

export type ClientFrame = HelloFrame | RequestFrame;

export type ReadyFrame = {
  readonly type: 'ready';
  readonly channels: readonly { readonly channel: string; readonly method: string }[];
  readonly events: readonly string[];
};
export type ResponseFrame = { readonly type: 'response'; readonly id: number; readonly result: ApiResult<unknown> };
export type EventFrame = { readonly type: 'event'; readonly event: string; readonly payload: unknown };
export type HostFrame = ReadyFrame | ResponseFrame | EventFrame;
