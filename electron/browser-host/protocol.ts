/**
 * The browser host's WebSocket framing of the contract (DESIGN §4 "Hosts"). JSON text frames:
 *
 *   client → host   { type: 'hello', secret }                   first frame, exactly once
 *                   { type: 'request', id, channel, request }   then any number
 *   host → client   { type: 'ready', channels, events }          after a good hello
 *                   { type: 'response', id, result }             result = { ok, value } | { ok: false, error }
 *                   { type: 'event', event, payload }
 *
 * Close codes: 4401 wrong or missing secret (the first frame was not a good hello), 4408 no hello in
 * time, 1008 a malformed frame or too many requests in flight, 1003 a binary frame, 1001 host
 * shutting down. The renderer mirrors these types in renderer/src/lib/bridge/socket-bridge.ts (it
 * may not import from electron/); the e2e specs run both ends against each other.
 */
import { z } from 'zod';

export const WS_PATH = '/ws';
/** The URL fragment key that carries the per-launch secret: `http://127.0.0.1:PORT/#k=SECRET`. */
export const SECRET_FRAGMENT_KEY = 'k';
/** 32 random bytes, base64url without padding. */
export const SECRET_BYTES = 32;
export const SECRET_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_AUTH_TIMEOUT = 4408;
export const CLOSE_POLICY = 1008;
export const CLOSE_UNSUPPORTED = 1003;
export const CLOSE_GOING_AWAY = 1001;

/** The hello must arrive this soon after the upgrade. */
export const AUTH_TIMEOUT_MS = 5_000;
/** A hello is tiny; a longer first frame is refused before it is parsed. */
export const MAX_HELLO_BYTES = 256;
/** Largest frame either way (a page of 200 message views with 64 KiB bodies fits). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Requests one socket may have awaiting an answer; more is a misbehaving page. */
export const MAX_IN_FLIGHT = 64;
/** Sockets at once (tabs of the same profile); more are refused at the upgrade. */
export const MAX_SOCKETS = 8;

export const HelloSchema = z.strictObject({ type: z.literal('hello'), secret: z.string().max(MAX_HELLO_BYTES) });

export const RequestFrameSchema = z.strictObject({
  type: z.literal('request'),
  id: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  channel: z.string().max(128),
  request: z.unknown(),
});
export type RequestFrame = z.infer<typeof RequestFrameSchema>;

export type ReadyFrame = {
  readonly type: 'ready';
  readonly channels: readonly { readonly channel: string; readonly method: string }[];
  readonly events: readonly string[];
};
export type ResponseFrame = { readonly type: 'response'; readonly id: number; readonly result: unknown };
export type EventFrame = { readonly type: 'event'; readonly event: string; readonly payload: unknown };
export type HostFrame = ReadyFrame | ResponseFrame | EventFrame;
