/**
 * Avatars as the renderer shows them (issue 12, docs/adr/0022-avatars-and-unblock.md): contacts'
 * avatars are fetched from the engine once per avatar id (contacts:getAvatar) and kept as blob:
 * URLs of their WebP bytes — decoded here, in the sandboxed renderer, never in the engine — and
 * revoked when replaced or cleared. The own avatar comes with the profile (SettingsState). Whether
 * a message request's avatar is shown at once is the components' rule (it is not: RequestBanner).
 */
import { SvelteMap } from 'svelte/reactivity';
import type { Bridge } from '../../../../shared/api/types.js';
import { fromBase64 } from './attachments.svelte.js';
import { settle } from './call.js';

/** A blob: URL for the bytes of a WebP avatar given as base64 (revoke it when done). */
export function avatarObjectUrl(base64: string): string {
  return URL.createObjectURL(new Blob([fromBase64(base64)], { type: 'image/webp' }));
}

export class AvatarsState {
  readonly #bridge: Bridge;
  /** contact id → the avatar id held and its blob: URL. */
  readonly #held = new SvelteMap<string, { readonly avatarId: string; readonly url: string }>();
  /** `contact:avatarId` fetched or being fetched (a failed fetch is not repeated for the same id). */
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- bookkeeping only: nothing renders it
  readonly #asked = new Set<string>();

  constructor(bridge: Bridge) {
    this.#bridge = bridge;
  }

  /**
   * The URL of a contact's avatar `avatarId` (from a view), or null: none, or not fetched yet (it
   * is fetched now, and the URL appears when it arrives). Until a new avatar arrives the previous
   * one stays.
   */
  url(contactId: string, avatarId: string | null): string | null {
    if (avatarId === null) return null;
    const held = this.#held.get(contactId);
    if (held?.avatarId === avatarId) return held.url;
    const key = `${contactId}:${avatarId}`;
    if (!this.#asked.has(key)) {
      this.#asked.add(key);
      void this.#fetch(contactId);
    }
    return held?.url ?? null;
  }

  async #fetch(contactId: string): Promise<void> {
    const result = await settle(this.#bridge.getAvatar({ contactId }));
    if (!result.ok || result.value.avatarId === null || result.value.avatar === null) return;
    const previous = this.#held.get(contactId);
    if (previous?.avatarId === result.value.avatarId) return;
    this.#held.set(contactId, { avatarId: result.value.avatarId, url: avatarObjectUrl(result.value.avatar) });
    if (previous) URL.revokeObjectURL(previous.url);
  }

  /** Forgets every avatar (the account locked or logged out). */
  clear(): void {
    for (const { url } of this.#held.values()) URL.revokeObjectURL(url);
    this.#held.clear();
    this.#asked.clear();
  }
}
