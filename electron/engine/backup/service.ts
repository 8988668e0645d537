/**
 * Backups on a ready primary device (DESIGN §3.9, ADR 0033): Settings → Backups. Turning them on
 * makes a recovery key and hands its 24 words out once; backups run only after three of them were
 * typed back. An optional passphrase (a second factor) is stretched once with Argon2id in a worker
 * and kept as its output under the backup salt, never as text. "Back up now", the automatic backup
 * (daily, and after 500 new messages; checked hourly) and "Export to file…" write the same blob
 * (make.ts); a relay backup goes to a temporary file first and is uploaded from it, replacing the
 * relay's copy only once complete. One run at a time; progress as `backup:progress`; a cancel
 * stops between slices or aborts the upload, and nothing is left behind.
 *
 * Does not own the restore (restore.ts and engine.ts), the blob (make.ts) or the relay calls
 * (relay-backup.ts).
 */
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ApiError } from '../../../shared/api/errors.js';
import type { BackupProgress, BackupStatusView } from '../../../shared/api/view-models.js';
import { toHex } from '../../../shared/crypto/bytes.js';
import type { Clock, Rng } from '../../../shared/crypto/random.js';
import { backupPassphraseBytes, deriveBackupKeys, recoveryKeyToWords, wordsToRecoveryKey, type BackupArgon2Params } from '../../../shared/protocol/backup.js';
import { BACKUP_SALT_LENGTH } from '../../../shared/protocol/constants.js';
import type { Timers } from '../app-lock.js';
import type { LocalAccount } from '../db/account.js';
import {
  createBackupSettings,
  deleteBackupSettings,
  getBackupSettings,
  recordBackup,
  setBackupConfirmed,
  setBackupOptions,
  setBackupPassphrase,
  type BackupSettings,
} from '../db/backups.js';
import type { EngineDatabase } from '../db/database.js';
import { sql } from '../db/sql.js';
import { EngineError, toApiError } from '../errors.js';
import { RelayClientError } from '../relay/errors.js';
import { BackupCancelled, makeBackup } from './make.js';
import { deleteRelayBackup, uploadBackup } from './relay-backup.js';

/** The automatic backup runs when the last one is this old… */
export const AUTOMATIC_BACKUP_INTERVAL_MS = 24 * 3600_000;
/** … or this many messages arrived or were sent since ("after big changes"). */
export const BIG_CHANGE_MESSAGES = 500;
/** How often the automatic rule is looked at. */
export const AUTOMATIC_CHECK_MS = 3600_000;

export type BackupServiceDeps = {
  readonly db: EngineDatabase;
  readonly account: () => LocalAccount;
  readonly rng: Rng;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly attachmentsDir: string;
  /** Where a relay backup's temporary file is written (the profile folder). */
  readonly workDir: string;
  readonly argon2: (password: Uint8Array, salt: Uint8Array, params: BackupArgon2Params) => Promise<Uint8Array>;
  readonly argon2Params: BackupArgon2Params;
  readonly emit: (progress: BackupProgress) => void;
  readonly relayTimeoutMs?: number;
};

type Run = { readonly abort: AbortController; progress: BackupProgress };

export class BackupService {
  #run: Run | null = null;
  #timer: unknown = null;
  #stopped = false;

  constructor(private readonly deps: BackupServiceDeps) {}

  #settings(): BackupSettings | undefined {
    return getBackupSettings(this.deps.db.reader);
  }

  #requireSettings(): BackupSettings {
    const s = this.#settings();
    if (!s) throw new EngineError('BACKUP_NOT_ENABLED', 'turn backups on first');
    return s;
  }

  #requirePrimary(): LocalAccount {
    const account = this.deps.account();
    if (!account.accountPrivateKey) throw new EngineError('NOT_PRIMARY_DEVICE', 'only the primary device makes backups');
    return account;
  }

  status(): BackupStatusView {
    const s = this.#settings();
    let lastError: ApiError | null = null;
    if (s?.lastError) {
      try {
        lastError = JSON.parse(s.lastError) as ApiError;
      } catch {
        lastError = { code: 'INTERNAL', message: 'the last backup failed' };
      }
    }
    return {
      enabled: s !== undefined,
      confirmed: s?.confirmed ?? false,
      secondFactor: s !== undefined && s.passphrase !== null,
      automatic: s?.automatic ?? true,
      includeAttachments: s?.includeAttachments ?? false,
      primary: this.deps.account().accountPrivateKey !== null,
      lastBackupAt: s?.lastBackupAt ?? null,
      lastBackupBytes: s?.lastBackupBytes ?? null,
      lastError,
      attachmentBytes: this.#attachmentBytes(),
      running: this.#run?.progress ?? null,
    };
  }

  #attachmentBytes(): number {
    const r = this.deps.db.reader.get<{ n: number | null }>(sql`
      SELECT sum(a.padded_length) AS n FROM attachments a JOIN messages m ON m.id = a.message_row_id
      WHERE a.state IN ('sent', 'downloaded') AND m.expire_timer_seconds IS NULL AND m.expires_at IS NULL`);
    return r?.n ?? 0;
  }

  /** A new recovery key; its words, this once. Replaces an earlier key (and so the backup id). */
  enable(): { words: string[] } {
    this.#requirePrimary();
    const recoveryKey = this.deps.rng(32);
    const db = this.deps.db.writer;
    db.transaction(() => createBackupSettings(db, { recoveryKey, backupSalt: this.deps.rng(BACKUP_SALT_LENGTH), confirmed: false, passphrase: null, now: this.deps.clock() }));
    return { words: recoveryKeyToWords(recoveryKey) };
  }

  confirm(answers: readonly { position: number; word: string }[]): BackupStatusView {
    const s = this.#requireSettings();
    const words = recoveryKeyToWords(s.recoveryKey);
    const positions = new Set(answers.map((a) => a.position));
    const ok = positions.size === 3 && answers.every((a) => words[a.position - 1] === a.word.normalize('NFKD').trim().toLowerCase());
    if (!ok) throw new EngineError('BACKUP_WORDS_MISMATCH', 'those words do not match; look at the words again');
    const db = this.deps.db.writer;
    db.transaction(() => setBackupConfirmed(db));
    return this.status();
  }

  async setPassphrase(passphrase: string | null): Promise<BackupStatusView> {
    this.#requireSettings();
    const backupSalt = this.deps.rng(BACKUP_SALT_LENGTH);
    const stretched = passphrase === null ? null : await this.deps.argon2(backupPassphraseBytes(passphrase), backupSalt, this.deps.argon2Params);
    const db = this.deps.db.writer;
    db.transaction(() => setBackupPassphrase(db, backupSalt, stretched ? { params: this.deps.argon2Params, stretched } : null));
    return this.status();
  }

  configure(o: { automatic?: boolean | undefined; includeAttachments?: boolean | undefined }): BackupStatusView {
    this.#requireSettings();
    const db = this.deps.db.writer;
    db.transaction(() => setBackupOptions(db, o));
    return this.status();
  }

  /** The words again (the engine checks the app passphrase first). */
  words(): string[] {
    return recoveryKeyToWords(this.#requireSettings().recoveryKey);
  }

  /** Back up now, to the relay. */
  run(): Promise<BackupStatusView> {
    return this.#runOnce(async (run, settings, account) => {
      const file = path.join(this.deps.workDir, `backup-${toHex(this.deps.rng(8))}.tmp`);
      try {
        const made = await this.#make(run, settings, account, file);
        run.progress = { phase: 'uploading', bytes: 0, totalBytes: made.bytes, messages: made.messages };
        this.deps.emit(run.progress);
        await uploadBackup(this.#relay(settings, account), file, {
          signal: run.abort.signal,
          onBytes: (n) => {
            run.progress = { ...run.progress, bytes: n };
            this.deps.emit(run.progress);
          },
        });
        return made;
      } finally {
        await rm(file, { force: true });
      }
    });
  }

  /** Export to file: the same blob, written beside `target` and renamed over it when complete. */
  export(target: string): Promise<BackupStatusView> {
    if (!path.isAbsolute(target)) throw new EngineError('INVALID_REQUEST', 'an export needs an absolute path');
    return this.#runOnce(async (run, settings, account) => {
      const partial = `${target}.partial`;
      await rm(partial, { force: true });
      const made = await this.#make(run, settings, account, partial);
      await rename(partial, target);
      return made;
    }, false);
  }

  cancel(): BackupStatusView {
    this.#run?.abort.abort();
    return this.status();
  }

  /** Turns backups off: the relay's copy is deleted first (a relay that cannot be reached leaves everything as it was). */
  async disable(): Promise<BackupStatusView> {
    const s = this.#requireSettings();
    const account = this.deps.account();
    this.#run?.abort.abort();
    if (s.lastBackupAt !== null) {
      try {
        await deleteRelayBackup(this.#relay(s, account));
      } catch (e) {
        if (!(e instanceof RelayClientError && e.code === 'NOT_FOUND')) throw relayFailure(e);
      }
    }
    const db = this.deps.db.writer;
    db.transaction(() => deleteBackupSettings(db));
    return this.status();
  }

  /** Starts the automatic check (hourly). */
  start(): void {
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.deps.timers.clearTimeout(this.#timer);
    this.#timer = null;
    this.#run?.abort.abort();
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.deps.timers.setTimeout(() => {
      void this.#automatic().finally(() => this.#schedule());
    }, AUTOMATIC_CHECK_MS);
  }

  /** Whether the automatic rule wants a backup now. */
  due(): boolean {
    const s = this.#settings();
    if (!s || !s.confirmed || !s.automatic || this.#run || this.deps.account().accountPrivateKey === null) return false;
    if (s.lastBackupAt === null || this.deps.clock() - s.lastBackupAt >= AUTOMATIC_BACKUP_INTERVAL_MS) return true;
    const n = this.deps.db.reader.get<{ n: number }>(sql`SELECT count(*) AS n FROM messages WHERE received_at > ${s.lastBackupAt}`)?.n ?? 0;
    return n >= BIG_CHANGE_MESSAGES;
  }

  async #automatic(): Promise<void> {
    if (!this.due()) return;
    await this.run().catch(() => undefined); // recorded in last_error and shown in Settings
  }

  #relay(settings: BackupSettings, account: LocalAccount) {
    if (!account.relayId) throw new EngineError('RELAY_UNAVAILABLE', 'the relay is not pinned yet; connect once first');
    return {
      baseUrl: account.relayUrl,
      relayId: account.relayId,
      keys: deriveBackupKeys(settings.recoveryKey),
      clock: this.deps.clock,
      ...(this.deps.relayTimeoutMs !== undefined && { timeoutMs: this.deps.relayTimeoutMs }),
    };
  }

  #make(run: Run, settings: BackupSettings, account: LocalAccount, file: string) {
    return makeBackup(
      {
        db: this.deps.db.reader,
        account,
        settings,
        attachmentsDir: this.deps.attachmentsDir,
        rng: this.deps.rng,
        now: this.deps.clock(),
        signal: run.abort.signal,
        onProgress: (p) => {
          run.progress = { phase: 'writing', bytes: p.bytes, totalBytes: null, messages: p.messages };
          this.deps.emit(run.progress);
        },
      },
      file,
    );
  }

  async #runOnce(work: (run: Run, settings: BackupSettings, account: LocalAccount) => Promise<{ createdAt: number; bytes: number }>, record = true): Promise<BackupStatusView> {
    const account = this.#requirePrimary();
    const settings = this.#requireSettings();
    if (!settings.confirmed) throw new EngineError('BACKUP_NOT_ENABLED', 'confirm the recovery words first');
    if (this.#run) throw new EngineError('BACKUP_IN_PROGRESS', 'a backup is running');
    const run: Run = { abort: new AbortController(), progress: { phase: 'writing', bytes: 0, totalBytes: null, messages: 0 } };
    this.#run = run;
    this.deps.emit(run.progress);
    const db = this.deps.db.writer;
    try {
      const made = await work(run, settings, account);
      if (record) db.transaction(() => recordBackup(db, { at: made.createdAt, bytes: made.bytes }));
      this.#run = null;
      return this.status();
    } catch (e) {
      const error = run.abort.signal.aborted || e instanceof BackupCancelled ? new EngineError('BACKUP_CANCELLED', 'the backup was cancelled; nothing was stored') : relayFailure(e);
      if (record && !this.#stopped) db.transaction(() => recordBackup(db, { error: JSON.stringify(toApiError(error)) }));
      throw error;
    } finally {
      this.#run = null;
    }
  }
}

/** A relay failure as the API says it. */
export function relayFailure(e: unknown): unknown {
  if (!(e instanceof RelayClientError)) return e;
  if (e.code === 'PAYLOAD_TOO_LARGE') return new EngineError('BACKUP_TOO_LARGE', 'the backup is larger than the relay takes; export it to a file, or leave attachments out');
  return new EngineError('RELAY_UNAVAILABLE', 'the relay could not be reached; the backup will be tried again');
}

/** The recovery key behind typed words, with the API's codes. */
export function recoveryKeyFromWords(words: string): Uint8Array {
  try {
    return wordsToRecoveryKey(words);
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'BACKUP_BAD_WORD') throw new EngineError('BACKUP_BAD_WORD', (e as Error).message);
    throw new EngineError('BACKUP_BAD_CHECKSUM', 'the recovery words do not check out: look for a typo or two words swapped');
  }
}
