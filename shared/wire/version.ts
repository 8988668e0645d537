/**
 * Wire version of the relay protocol (JSON over HTTP and WebSocket, DESIGN §5). Owns the version
 * number, the path prefix and the WebSocket path. Does not own the protocol version of messages
 * (shared/protocol/constants.ts): the relay never looks inside a ciphertext.
 */

/** Bumped on any incompatible change to a REST body or a frame; published at /.well-known/parley. */
export const WIRE_VERSION = 1;

/** Every REST route lives under this prefix. */
export const API_PREFIX = '/v1';

/** The live channel. The session token travels in the first frame, never in the URL. */
export const WS_PATH = '/v1/ws';

/** Relay self-description (relay id, public keys, limits). */
export const WELL_KNOWN_PATH = '/.well-known/parley';
