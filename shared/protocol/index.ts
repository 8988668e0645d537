/**
 * shared/protocol: Parley's sans-I/O protocol state machines (DESIGN §3). Synchronous functions of
 * (state, input, deps) that return new state and changes, or throw a typed ProtocolError. They never
 * log, await, read the clock or RNG implicitly, or touch storage.
 */
export * from './attachment-cipher.js';
export * from './attachment-pointer.js';
export * from './codec.js';
export * from './constants.js';
export * from './cpace.js';
export * from './decryption-error.js';
export * from './device-list.js';
export * from './double-ratchet.js';
export * from './errors.js';
export * from './group-membership.js';
export * from './history-archive.js';
export * from './linking.js';
export * from './messages.js';
export * from './padding.js';
export * from './pqxdh.js';
export * from './prekeys.js';
export * from './profile.js';
export * from './safety-number.js';
export * from './sealed-sender.js';
export * from './sender-key-distribution.js';
export * from './sender-key.js';
export * from './session-record.js';
export * from './session.js';
