/**
 * The browser host's side of its WebSocket (DESIGN §4 "Hosts"): where the socket lives, how the
 * per-launch secret travels, the close codes and the limits. The frames themselves are defined once
 * for both ends in shared/api/host-frames.ts.
 *
 * Close codes: 4401 wrong or missing secret (the first frame was not a good hello), 4408 no hello in
 * time, 1008 a malformed frame or too many requests in flight, 1003 a binary frame, 1001 host
 * shutting down. The renderer mirrors the path, the fragment key and the 44xx codes in
 * renderer/src/lib/bridge/socket-bridge.ts (it may import only types); the e2e specs run both ends
 * against each other.
 */
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
/** Largest frame either way (a page of 200 message views with 64 KiB bodies fits). */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** Requests one socket may have awaiting an answer; more is a misbehaving page. */
export const MAX_IN_FLIGHT = 64;
/** Sockets at once (tabs of the same profile); more are refused at the upgrade. */
export const MAX_SOCKETS = 8;
