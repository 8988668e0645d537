/**
 * Backups as the renderer sees them (issue 18, ADR 0033): Settings → Backups (status, turning them
 * on, the recovery words during setup only, confirming three of them, the optional passphrase,
 * automatic and attachments, Back up now with its progress and Cancel, View recovery words behind
 * the app passphrase, turning them off) and onboarding's "Restore from backup" (find the backup,
 * show when it was made, restore). The words are held only while the setup or "View recovery
 * words" shows them, and dropped as soon as that screen closes; they are never logged or stored.
 */
import type { ApiResult, BackupInfo, BackupProgress, BackupStatusView, Bridge } from '../../../../shared/api/types.js';
import { describeError } from '../format/labels.js';
import { settle } from './call.js';

/** Three distinct positions (1-24) to confirm, in order. */
export function confirmationPositions(random: () => number = Math.random): number[] {
  const picked: number[] = [];
  while (picked.length < 3) {
    const p = 1 + Math.floor(random() * 24);
    if (!picked.includes(p)) picked.push(p);
  }
  return picked.sort((a, b) => a - b);
}

export class BackupsState {
  readonly #bridge: Bridge;
  #status = $state.raw<BackupStatusView | null>(null);
  #progress = $state.raw<BackupProgress | null>(null);
  #words = $state.raw<readonly string[] | null>(null);
  #positions = $state.raw<readonly number[]>([]);
  #busy = $state(false);
  #error = $state<string | null>(null);
  #found = $state.raw<BackupInfo | null>(null);

  constructor(bridge: Bridge) {
    this.#bridge = bridge;
  }

  get status(): BackupStatusView | null {
    return this.#status;
  }
  get progress(): BackupProgress | null {
    return this.#status?.running ? (this.#progress ?? this.#status.running) : null;
  }
  /** The recovery words while setup or "View recovery words" shows them; null otherwise. */
  get words(): readonly string[] | null {
    return this.#words;
  }
  /** The positions the person types back during setup. */
  get positions(): readonly number[] {
    return this.#positions;
  }
  get busy(): boolean {
    return this.#busy;
  }
  get error(): string | null {
    return this.#error;
  }
  /** The backup found for a restore (when it was made, whether it needs its passphrase). */
  get found(): BackupInfo | null {
    return this.#found;
  }

  async #run<T>(call: () => Promise<ApiResult<T>>): Promise<T | null> {
    this.#error = null;
    this.#busy = true;
    try {
      const r = await call();
      if (r.ok) return r.value;
      this.#error = describeError(r.error);
      return null;
    } finally {
      this.#busy = false;
    }
  }

  async load(): Promise<void> {
    const r = await settle(this.#bridge.backupStatus({}));
    if (r.ok) this.#status = r.value;
  }

  /** A `backup:progress` event. */
  onProgress(p: BackupProgress): void {
    this.#progress = p;
    if (this.#status && !this.#status.running) this.#status = { ...this.#status, running: p };
  }

  async enable(): Promise<boolean> {
    const r = await this.#run(() => settle(this.#bridge.enableBackups({})));
    if (!r) return false;
    this.#words = r.words;
    this.#positions = confirmationPositions();
    await this.load();
    return true;
  }

  async confirm(answers: readonly string[]): Promise<boolean> {
    const r = await this.#run(() => settle(this.#bridge.confirmBackupWords({ answers: this.#positions.map((position, i) => ({ position, word: answers[i] ?? '' })) })));
    if (!r) return false;
    this.#status = r;
    this.#words = null;
    return true;
  }

  async setPassphrase(passphrase: string | null): Promise<boolean> {
    const r = await this.#run(() => settle(this.#bridge.setBackupPassphrase({ passphrase })));
    if (r) this.#status = r;
    return r !== null;
  }

  async configure(patch: { automatic?: boolean; includeAttachments?: boolean }): Promise<void> {
    const r = await this.#run(() => settle(this.#bridge.configureBackups(patch)));
    if (r) this.#status = r;
  }

  async backUpNow(): Promise<void> {
    this.#progress = null;
    const run = this.#run(() => settle(this.#bridge.runBackup({})));
    await this.load();
    const r = await run;
    this.#progress = null;
    if (r) this.#status = r;
    else await this.load();
  }

  async cancel(): Promise<void> {
    const r = await settle(this.#bridge.cancelBackup({}));
    if (r.ok) this.#status = r.value;
  }

  async viewWords(passphrase: string | undefined): Promise<boolean> {
    const r = await this.#run(() => settle(this.#bridge.viewRecoveryWords(passphrase === undefined ? {} : { passphrase })));
    if (r) this.#words = r.words;
    return r !== null;
  }

  /** The words screen closed: they are dropped. */
  hideWords(): void {
    this.#words = null;
  }

  async disable(): Promise<void> {
    const r = await this.#run(() => settle(this.#bridge.disableBackups({})));
    if (r) {
      this.#status = r;
      this.#words = null;
    }
  }

  // ── Restore (onboarding) ──

  async find(words: string, relayUrl: string): Promise<boolean> {
    this.#found = null;
    const r = await this.#run(() => settle(this.#bridge.inspectBackup({ words, relayUrl })));
    if (r) this.#found = r;
    return r !== null;
  }

  async restore(input: { words: string; relayUrl: string; backupPassphrase?: string; passphrase?: string }): Promise<boolean> {
    const r = await this.#run(() =>
      settle(
        this.#bridge.restoreBackup({
          words: input.words,
          relayUrl: input.relayUrl,
          ...(input.backupPassphrase ? { backupPassphrase: input.backupPassphrase } : {}),
          ...(input.passphrase ? { passphrase: input.passphrase } : {}),
        }),
      ),
    );
    return r !== null;
  }

  async discardInterrupted(): Promise<void> {
    await settle(this.#bridge.discardRestore({}));
  }

  clear(): void {
    this.#status = null;
    this.#progress = null;
    this.#words = null;
    this.#positions = [];
    this.#error = null;
    this.#found = null;
  }
}
