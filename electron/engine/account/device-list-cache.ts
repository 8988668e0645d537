/**
 * Parsed device lists, memoised by their signed bytes. parseDeviceList decodes and validates every
 * Ed25519 key of a list (a point decompression each, ~0.2 ms in pure JS), and the engine needs a
 * contact's list for every envelope it receives (is the sending device listed?), every send (which
 * devices?) and every conversation view (quantum-resistant?) — the engine benchmark found a third
 * of the receiver's time in re-parsing the same few lists (docs/benchmarks.md, "Engine").
 *
 * A signed list is public and immutable (new content means new bytes, hence a new key), so a hit
 * returns exactly what a fresh parse would; callers must not mutate the result. Parse failures are
 * not cached. Does not verify signatures (contacts.ts does, before a list is stored).
 */
import { toHex } from '../../../shared/crypto/bytes.js';
import { parseDeviceList } from '../../../shared/protocol/device-list.js';

/** Distinct lists kept (least recently used out): far more than the lists one batch touches. */
export const DEVICE_LIST_CACHE_SIZE = 256;

type Parsed = ReturnType<typeof parseDeviceList>;

const cache = new Map<string, Parsed>();

/** parseDeviceList(signed), from the cache when these exact bytes were parsed before. */
export function parsedDeviceList(signed: Uint8Array): Parsed {
  const key = toHex(signed);
  const hit = cache.get(key);
  if (hit) {
    cache.delete(key);
    cache.set(key, hit);
    return hit;
  }
  const parsed = parseDeviceList(signed);
  if (cache.size >= DEVICE_LIST_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, parsed);
  return parsed;
}
