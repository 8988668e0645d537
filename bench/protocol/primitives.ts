/**
 * The primitive calls the floors are made of, each timed alone (shared/crypto adapters, the sizes
 * the protocol uses). Printed for reference next to the benchmarks: they explain each floor.
 */
import { aesGcmOpen, aesGcmSeal } from '../../shared/crypto/aead.js';
import { ed25519GenerateKeyPair, ed25519Sign, ed25519Verify } from '../../shared/crypto/ed25519.js';
import { hkdfSha256 } from '../../shared/crypto/hkdf.js';
import { hmacSha256 } from '../../shared/crypto/hmac.js';
import { systemRng } from '../../shared/crypto/random.js';
import { sha256 } from '../../shared/crypto/sha256.js';
import { x25519, x25519GenerateKeyPair, x25519PrivateHandle } from '../../shared/crypto/x25519.js';
import type { Case } from './harness.js';

function each(name: string, op: () => void): Case {
  return { name, prepare: (n) => Array.from({ length: n }, () => op) };
}

/** Like `each`, but every op gets its own fresh X25519 public key (no cache can help). */
function withFreshPeer(name: string, op: (peer: Uint8Array) => void): Case {
  return {
    name,
    prepare: (n) =>
      Array.from({ length: n }, () => {
        const peer = x25519GenerateKeyPair(systemRng).publicKey;
        return () => op(peer);
      }),
  };
}

export function primitiveCases(): Case[] {
  const key = systemRng(32);
  const salt = systemRng(32);
  const info = systemRng(21);
  const one = Uint8Array.of(1);
  const plaintext = new Uint8Array(160);
  const ad = new Uint8Array(161);
  const nonce = systemRng(12);
  const sealed = aesGcmSeal(key, nonce, plaintext, ad);
  const privateKey = systemRng(32);
  const handle = x25519PrivateHandle(privateKey);
  const signer = ed25519GenerateKeyPair(systemRng);
  const signed = systemRng(1209); // the size of a KEM prekey's signature input
  const signature = ed25519Sign(signer.privateKey, signed);
  const transcript = systemRng(2450);
  return [
    each('HMAC-SHA-256 (1 byte)', () => void hmacSha256(key, one)),
    each('HKDF-SHA-256 (L = 44)', () => void hkdfSha256(key, salt, info, 44)),
    each('HKDF-SHA-256 (L = 64)', () => void hkdfSha256(key, salt, info, 64)),
    each('AES-256-GCM seal (160 B)', () => void aesGcmSeal(key, nonce, plaintext, ad)),
    each('AES-256-GCM open (160 B)', () => void aesGcmOpen(key, nonce, sealed, ad)),
    each('X25519 key pair (rng + import)', () => void x25519PrivateHandle(systemRng(32))),
    withFreshPeer('X25519 DH (imported private)', (peer) => void x25519(handle, peer)),
    withFreshPeer('X25519 DH (raw private)', (peer) => void x25519(privateKey, peer)),
    each('Ed25519 verify (1209 B)', () => void ed25519Verify(signer.publicKey, signed, signature)),
    each('SHA-256 (2450 B)', () => void sha256(transcript)),
  ];
}
