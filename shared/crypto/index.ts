/**
 * shared/crypto: thin, validated adapters over node:crypto (and @noble/post-quantum for ML-KEM-768).
 * Owns primitive calls, key encodings and the Rng/Clock types; owns no protocol logic, no state,
 * no I/O beyond the primitives. Protocol code imports from here only.
 */
export * from './aead.js';
export * from './bytes.js';
export * from './ed25519.js';
export * from './encoding.js';
export * from './errors.js';
export * from './hkdf.js';
export * from './hmac.js';
export * from './ml-kem-768.js';
export * from './random.js';
export * from './sha256.js';
export * from './x25519.js';
