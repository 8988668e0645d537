/**
 * The username rule (issue 3): NFKC, then lowercase, then 3-32 of [a-z0-9_.]. Clients run it
 * before registering (to show the canonical form), the relay runs it on every registration and
 * lookup, so `Alice`, `ＡＬＩＣＥ` and `alice` are one name. Usernames are public handles, never
 * identifiers: accounts are addressed by their random 16-byte id.
 */
import { MAX_USERNAME_INPUT_LENGTH, USERNAME_MAX_LENGTH, USERNAME_MIN_LENGTH } from './limits.js';

const CANONICAL = new RegExp(`^[a-z0-9_.]{${USERNAME_MIN_LENGTH},${USERNAME_MAX_LENGTH}}$`);

/** The canonical username, or `null` if the input breaks the rule. */
export function normalizeUsername(raw: string): string | null {
  if (typeof raw !== 'string' || raw.length > MAX_USERNAME_INPUT_LENGTH) return null;
  const canonical = raw.normalize('NFKC').toLowerCase();
  return CANONICAL.test(canonical) ? canonical : null;
}
