/**
 * shared/wire: the relay's wire format (DESIGN §2, §5) — JSON REST bodies and WebSocket frames as zod
 * schemas, the wire version, limits, error codes and authentication signature inputs. Used by the
 * relay (server/) and its client (electron/engine/relay/); the renderer may import types
 * only. Owns no I/O and no policy.
 */
export * from './attachments.js';
export * from './auth.js';
export * from './backup.js';
export * from './errors.js';
export * from './frames.js';
export * from './limits.js';
export * from './primitives.js';
export * from './provisioning.js';
export * from './rest.js';
export * from './sealed.js';
export * from './username.js';
export * from './version.js';
export * from './wire-size.js';
