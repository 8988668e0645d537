/**
 * The account's settings (read receipts, typing indicators, presence, notifications, app lock) and
 * its own profile (display name, about line, avatar: shown from a blob: URL made here).
 */
import type { Bridge, ContactView, OwnProfileView, Settings } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { toBase64 } from './attachments.svelte.js';
import { avatarObjectUrl } from './avatars.svelte.js';
import { settle } from './call.js';

/** shared/api MAX_AVATAR_PICTURE_BYTES (the renderer imports only types from shared/api). */
const MAX_AVATAR_PICTURE_BYTES = 10 * 1024 * 1024;

export class SettingsState {
  readonly #bridge: Bridge;
  #value = $state.raw<Settings | null>(null);
  #error = $state<string | null>(null);
  #saving = $state(false);
  #profile = $state.raw<OwnProfileView | null>(null);
  #blocked = $state.raw<readonly ContactView[]>([]);
  #avatarUrl = $state<string | null>(null);
  #avatarBusy = $state(false);

  constructor(bridge: Bridge) {
    this.#bridge = bridge;
  }

  get value(): Settings | null {
    return this.#value;
  }
  get error(): string | null {
    return this.#error;
  }
  get saving(): boolean {
    return this.#saving;
  }
  get profile(): OwnProfileView | null {
    return this.#profile;
  }
  /** The own avatar as a blob: URL, or null without one. */
  get avatarUrl(): string | null {
    return this.#avatarUrl;
  }
  /** A picture is being made into the avatar (the image process takes a moment). */
  get avatarBusy(): boolean {
    return this.#avatarBusy;
  }

  #setProfile(profile: OwnProfileView | null): void {
    this.#profile = profile;
    if (this.#avatarUrl !== null) URL.revokeObjectURL(this.#avatarUrl);
    this.#avatarUrl = profile?.avatar ? avatarObjectUrl(profile.avatar) : null;
  }
  /** The people this account blocked (Settings lists them with Unblock). */
  get blocked(): readonly ContactView[] {
    return this.#blocked;
  }

  async loadBlocked(): Promise<void> {
    const result = await settle(this.#bridge.listBlocked({}));
    if (result.ok) this.#blocked = result.value;
  }

  async load(): Promise<void> {
    const [result, profile] = await Promise.all([settle(this.#bridge.getSettings({})), settle(this.#bridge.getProfile({}))]);
    if (result.ok) this.#value = result.value;
    else this.#error = describeError(result.error);
    if (profile.ok) this.#setProfile(profile.value);
    await this.loadBlocked();
  }

  /** Settings changed elsewhere (synced from another device of this account): shown as they are now. */
  changed(settings: Settings): void {
    this.#value = settings;
  }

  /** The own profile changed on another device of this account: shown as it is now. */
  profileChanged(profile: OwnProfileView): void {
    this.#setProfile(profile);
  }

  clear(): void {
    this.#value = null;
    this.#setProfile(null);
    this.#blocked = [];
  }

  /** Saves the display name and about line (uploaded encrypted; contacts that hold the key are told). */
  async setProfile(displayName: string, about: string): Promise<boolean> {
    this.#saving = true;
    this.#error = null;
    const result = await settle(this.#bridge.setProfile({ displayName, about }));
    this.#saving = false;
    if (!result.ok) {
      this.#error = describeError(result.error);
      return false;
    }
    this.#setProfile(result.value);
    return true;
  }

  /**
   * Makes `file` the avatar (the engine crops, resizes and re-encodes it without metadata), or
   * removes it (null). A file over the size limit is refused here, before any byte is read.
   */
  async setAvatar(file: File | null): Promise<boolean> {
    this.#error = null;
    if (file !== null && file.size > MAX_AVATAR_PICTURE_BYTES) {
      this.#error = 'That picture is larger than 10 MiB. Choose a smaller one.';
      return false;
    }
    this.#avatarBusy = true;
    const picture = file === null ? null : toBase64(new Uint8Array(await file.arrayBuffer()));
    const result = await settle(this.#bridge.setAvatar({ picture }));
    this.#avatarBusy = false;
    if (!result.ok) {
      this.#error = describeError(result.error);
      return false;
    }
    this.#setProfile(result.value);
    return true;
  }

  async set(patch: Partial<Settings>): Promise<boolean> {
    this.#saving = true;
    this.#error = null;
    const result = await settle(this.#bridge.setSettings(patch));
    this.#saving = false;
    if (!result.ok) {
      this.#error = describeError(result.error);
      return false;
    }
    this.#value = result.value;
    return true;
  }
}
