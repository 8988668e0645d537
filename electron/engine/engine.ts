/**
 * The client engine's lifecycle (DESIGN §4, issue 4 phase 1): one profile, its encrypted database
 * and the key provider protecting it; states needs-account → ready ⇄ locked; account creation
 * (local part), unlock, passphrase changes, lock (manual and after N idle minutes: database closed,
 * key dropped), logout (database files, key file and keychain entry deleted) and settings. It is the
 * composition root of the engine: `handlers()` serves every channel of the contract, the views over
 * the open database through local-queries.ts.
 *
 * The database key is held only for the moment it takes to open the database (SQLCipher keeps its
 * own derived copy inside the connection). Changing the passphrase of a passphrase profile re-keys
 * the database under a new random key (db/rekey.ts, `account:rekeyProgress` events while it runs),
 * crash-safe through a pending key file (keys/passphrase-key-file.ts): unlock takes whichever key
 * the database has (#unlockWithPassphrase). Setting a first passphrase (from the keychain) or
 * removing it re-wraps the same key. Lifecycle operations run one at a time.
 *
 * Starts and stops the messaging layer (electron/engine/messaging, issue 4 phase 2) with the open
 * database; it owns registration at the relay, prekey uploads, contacts:add, send/retry, receipts
 * and typing on the wire, presence and the connection. createAccount registers through it; logout
 * unregisters through it before deleting.
 */
import { mkdir, open as openFile, readdir, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MAX_AVATAR_PICTURE_BYTES, MIN_PASSPHRASE_LENGTH } from '../../shared/api/primitives.js';
import type { EngineEvent, EventName, EventPayload, RequestOf } from '../../shared/api/types.js';
import type { AccountView, BackupInfo, EngineState, HistoryTransferView, KeyProtection, LifecycleState, LinkStatusView, OwnDeviceView, OwnProfileView, Settings } from '../../shared/api/view-models.js';
import { bytesEqual, toBase64Url } from '../../shared/crypto/bytes.js';
import { ed25519Sign } from '../../shared/crypto/ed25519.js';
import { authenticateBackupHeader, backupPassphraseBytes, deriveBackupKeys, parseBackupHeader, type BackupHeader } from '../../shared/protocol/backup.js';
import { BACKUP_HEADER_LENGTH } from '../../shared/protocol/constants.js';
import { isProtocolError } from '../../shared/protocol/errors.js';
import { PutDeviceListResponseSchema } from '../../shared/wire/rest.js';
import { systemClock, systemRng, type Clock, type Rng } from '../../shared/crypto/random.js';
import { normalizeUsername } from '../../shared/wire/username.js';
import { bootstrapAccount } from './account/bootstrap.js';
import { resignDeviceListIfDue } from './account/device-list.js';
import { maintainPrekeys } from './account/prekey-lifecycle.js';
import { IdleLock, systemTimers, type Timers } from './app-lock.js';
import { crashPoint } from './crash-points.js';
import { downloadBackup } from './backup/relay-backup.js';
import { importStagedBackup, stageBackup, type StagedBackup } from './backup/restore.js';
import { BackupService, recoveryKeyFromWords, relayFailure } from './backup/service.js';
import { argon2idInWorker, DEFAULT_ARGON2_PARAMS } from './keys/argon2.js';
import { RelayClientError } from './relay/errors.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, fetchWellKnown, restCall } from './relay/rest.js';
import { getAccount, insertAccount, type LocalAccount } from './db/account.js';
import { setDeviceName } from './db/device-names.js';
import { lastActiveDays, ownDeviceViews, removeDevice, renameDevice } from './account/device-management.js';
import { queueDeviceNames } from './messaging/own-devices.js';
import { databaseFiles, openDatabase, type EngineDatabase } from './db/database.js';
import { StorageError } from './db/errors.js';
import { rekeyDatabase } from './db/rekey.js';
import { readSettings, writeSettings } from './db/settings.js';
import type { Handlers } from './dispatch.js';
import { EngineError } from './errors.js';
import { KeyError } from './keys/errors.js';
import type { KeychainKeyStore } from './keys/keychain.js';
import type { PassphraseKeyFile } from './keys/passphrase-key-file.js';
import { LocalQueries, type OpenProfile } from './local-queries.js';
import { importAccountState, parseAccountState } from './linking/account-state.js';
import { linkFailure } from './linking/channel.js';
import { accountSafetyNumber, NewDeviceLink } from './linking/new-device.js';
import { linkNewDevice } from './linking/primary.js';
import { Messaging, registerNewAccount, uploadLinkedDevicePrekeys, type MessagingTuning } from './messaging/messaging.js';
import { checkProfileInput, createOwnProfile } from './messaging/profiles.js';
import { getOwnProfile } from './db/profiles.js';
import type { Profile } from './profile.js';
import { SearchService } from './search/service.js';
import { purgeExpired } from './disappearing/expiry.js';
import { SEARCH_SQL_FUNCTIONS } from './search/text.js';
import { contactIdOf, ownProfileView } from './views.js';

export type EngineOptions = {
  readonly profile: Profile;
  readonly keychain: KeychainKeyStore;
  readonly passphrase: PassphraseKeyFile;
  readonly rng?: Rng;
  readonly clock?: Clock;
  readonly timers?: Timers;
  /** Receives every pushed event (the host forwards them to the renderer). */
  readonly emit?: (event: EngineEvent) => void;
  /** Electron's build of the SQLite module. */
  readonly nativeBinding?: string;
  /** Messaging details tests inject (relay client clock and backoff, typing timers). */
  readonly messaging?: MessagingTuning;
  /**
   * TESTS ONLY (no host sets it): the database is opened without SQLCipher so a test can scan its
   * raw bytes for deleted plaintext (db/database.ts OpenOptions.unencryptedForTests).
   */
  readonly unencryptedDatabaseForTests?: boolean;
};

function isWrongKey(e: unknown): boolean {
  return e instanceof StorageError && e.code === 'WRONG_KEY';
}

async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

function checkPassphraseStrength(passphrase: string): void {
  if ([...passphrase.normalize('NFC')].length < MIN_PASSPHRASE_LENGTH) {
    throw new EngineError('WEAK_PASSPHRASE', `a passphrase has at least ${MIN_PASSPHRASE_LENGTH} characters`);
  }
}

export class Engine {
  readonly profile: Profile;
  readonly #keychain: KeychainKeyStore;
  readonly #passphrase: PassphraseKeyFile;
  readonly #rng: Rng;
  readonly #clock: Clock;
  readonly #emit: (event: EngineEvent) => void;
  readonly #nativeBinding: string | undefined;
  readonly #idle: IdleLock;
  /** Search index upkeep and queries (electron/engine/search). */
  readonly #search: SearchService;
  #open: OpenProfile | null = null;
  #state: LifecycleState = 'needs-account';
  #protection: KeyProtection | null = null;
  #keychainAvailable = false;
  #queue: Promise<unknown> = Promise.resolve();
  /** The relay side (electron/engine/messaging) while the database is open. */
  #messaging: Messaging | null = null;
  readonly #messagingTuning: MessagingTuning | undefined;
  readonly #unencryptedForTests: boolean;
  /** A new device's link in progress (needs-account only). */
  #link: NewDeviceLink | null = null;
  /** This profile's device was removed from its account and wiped (shown until an account exists again). */
  #removed = false;
  /** The contact, conversation and message views over the open database. */
  readonly #queries: LocalQueries;
  readonly #timers: Timers;
  /** Settings → Backups while ready (electron/engine/backup). */
  #backups: BackupService | null = null;
  /** A restore was cut off before it finished; its partial data was removed at start (ADR 0033). */
  #restoreInterrupted = false;

  private constructor(o: EngineOptions) {
    this.profile = o.profile;
    this.#keychain = o.keychain;
    this.#passphrase = o.passphrase;
    this.#rng = o.rng ?? systemRng;
    this.#clock = o.clock ?? systemClock;
    this.#emit = o.emit ?? (() => {});
    this.#nativeBinding = o.nativeBinding;
    this.#messagingTuning = o.messaging;
    this.#unencryptedForTests = o.unencryptedDatabaseForTests === true;
    this.#timers = o.timers ?? systemTimers;
    this.#idle = new IdleLock(() => void this.#serial(() => this.#lockNow()), this.#timers);
    this.#search = new SearchService({ emit: (p) => this.#emitEvent('search:indexProgress', p), nativeBinding: o.nativeBinding });
    this.#queries = new LocalQueries({
      open: () => this.#require(),
      clock: this.#clock,
      emit: (event, payload) => this.#emitEvent(event, payload),
      messaging: () => this.#messaging,
    });
  }

  /** Finds the profile's state; a keychain-protected database opens right away. */
  static async start(o: EngineOptions): Promise<Engine> {
    const engine = new Engine(o);
    await engine.#serial(() => engine.#detect());
    return engine;
  }

  /** The open database and account (for the messaging layer and tests); null unless ready. */
  get current(): OpenProfile | null {
    return this.#open;
  }

  /** The search service (tests and the benchmark wait for its background rebuild). */
  get search(): SearchService {
    return this.#search;
  }

  /** The messaging layer while ready (tests, the child-process entry); null otherwise. */
  get messaging(): Messaging | null {
    return this.#messaging;
  }

  /** The person used the window (`app:activity`, nothing else): restarts the idle countdown. */
  touch(): void {
    if (this.#state === 'ready') this.#idle.touch();
  }

  /** Stops timers and closes the database (process exit). */
  async close(): Promise<void> {
    // A link in progress stops polling and tells the primary (it would otherwise wait for expiry).
    await this.cancelLink();
    await this.#serial(async () => {
      this.#idle.stop();
      this.#closeDatabase();
      await this.#search.stopped();
    });
  }

  // ── Lifecycle ──────────────────────────────────────────────────────────────

  #serial<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #emitEvent<E extends EventName>(event: E, payload: EventPayload<E>): void {
    this.#emit({ event, payload } as EngineEvent);
  }

  #setState(state: LifecycleState): void {
    const changed = state !== this.#state;
    this.#state = state;
    if (changed) this.#emitEvent('engine:state', this.getState());
  }

  async #detect(): Promise<void> {
    this.#keychainAvailable = await this.#keychain.isAvailable();
    if (await fileExists(this.#restorePaths().marker)) {
      // A restore died before it finished: nothing of it is kept, and the person may start again.
      await this.#removeRestoreLeftovers();
      this.#restoreInterrupted = true;
      this.#protection = null;
      this.#state = 'needs-account';
      return;
    }
    if (!(await fileExists(this.profile.databasePath))) {
      this.#protection = null;
      this.#state = 'needs-account';
      return;
    }
    if (await this.#passphrase.exists()) {
      this.#protection = 'passphrase';
      this.#state = 'locked';
      return;
    }
    this.#protection = 'keychain';
    this.#state = 'locked';
    try {
      await this.#tryKeychainOpen();
    } catch {
      // The stored key does not open the database (or it is damaged): stay locked; unlock reports why.
    }
  }

  /** Opens with the keychain's key; a keychain that does not answer leaves the engine locked. */
  async #tryKeychainOpen(): Promise<void> {
    let key: Uint8Array;
    try {
      key = await this.#keychain.load();
    } catch {
      this.#keychainAvailable = await this.#keychain.isAvailable();
      return;
    }
    this.#keychainAvailable = true;
    await this.#openWith(key);
  }

  /**
   * Opens the database with `key` (wiped afterwards) and runs the local maintenance. The search
   * service takes a copy for its worker's connection (transferred to the worker, never a string).
   */
  /** This profile's database under `key`, with the search functions its triggers call. */
  #openDatabase(key: Uint8Array): EngineDatabase {
    return openDatabase({
      path: this.profile.databasePath,
      key,
      functions: SEARCH_SQL_FUNCTIONS,
      ...(this.#nativeBinding ? { nativeBinding: this.#nativeBinding } : {}),
      ...(this.#unencryptedForTests && { unencryptedForTests: true }),
    });
  }

  async #openWith(key: Uint8Array): Promise<void> {
    let db: EngineDatabase;
    let searchKey: Uint8Array;
    try {
      db = this.#openDatabase(key);
      searchKey = key.slice();
    } finally {
      key.fill(0);
    }
    const account = getAccount(db.reader);
    if (!account) {
      // An account creation that died before its first commit: start over.
      searchKey.fill(0);
      db.close();
      this.#protection = null;
      this.#setState('needs-account');
      return;
    }
    try {
      // Timed messages whose time ran out while the app was closed go before anything is shown
      // (their files with the attachments folder's clean-up at start).
      purgeExpired(db.writer, this.#clock());
      const current = resignedAccount(db, account, this.#clock());
      // An account from before profiles gets one now (its name: the username).
      db.writer.transaction(() => createOwnProfile(db.writer, { displayName: current.username, rng: this.#rng, now: this.#clock() }));
      await maintainPrekeys(db.writer, current, { rng: this.#rng, now: this.#clock });
      this.#open = { db, account: current };
      this.#search.attach(db, searchKey);
    } catch (e) {
      searchKey.fill(0);
      db.close();
      throw e;
    }
    this.#idle.configure(this.#protection === 'passphrase' ? readSettings(db.reader).appLockIdleMinutes : null);
    this.#setState('ready');
    this.#startMessaging();
  }

  #startMessaging(): void {
    const open = this.#open;
    if (!open || this.#messagingTuning?.localOnly) return;
    this.#messaging = new Messaging({
      db: open.db,
      account: open.account,
      rng: this.#rng,
      clock: this.#clock,
      emit: this.#emit,
      attachmentsDir: attachmentsDirOf(this.profile),
      onAccountChanged: (account) => {
        if (this.#open?.db === open.db) this.#open = { ...this.#open, account };
      },
      onRemoved: () => {
        if (this.#open?.db === open.db) void this.#serial(() => this.#removedFromAccount(open.db)).catch(() => undefined);
      },
      ...(this.#messagingTuning && { tuning: this.#messagingTuning }),
    });
    this.#messaging.start();
    this.#startBackups(open);
  }

  #startBackups(open: OpenProfile): void {
    this.#backups = new BackupService({
      db: open.db,
      account: () => (this.#open?.db === open.db ? this.#open.account : open.account),
      rng: this.#rng,
      clock: this.#clock,
      timers: this.#timers,
      attachmentsDir: attachmentsDirOf(this.profile),
      workDir: this.profile.dataDir,
      argon2: (password, salt, params) => argon2idInWorker(password, salt, params),
      argon2Params: DEFAULT_ARGON2_PARAMS,
      emit: (p) => this.#emitEvent('backup:progress', p),
      ...(this.#messagingTuning?.requestTimeoutMs !== undefined && { relayTimeoutMs: this.#messagingTuning.requestTimeoutMs }),
    });
    this.#backups.start();
  }

  #closeDatabase(): void {
    this.#backups?.stop();
    this.#backups = null;
    this.#messaging?.stop();
    this.#messaging = null;
    this.#search.detach();
    this.#open?.db.close();
    this.#open = null;
  }

  #lockNow(): void {
    if (this.#state !== 'ready' || this.#protection !== 'passphrase') return;
    this.#idle.stop();
    this.#closeDatabase();
    this.#setState('locked');
  }

  #require(): OpenProfile {
    if (this.#state === 'needs-account') throw new EngineError('NEEDS_ACCOUNT', 'create an account first');
    if (!this.#open) throw new EngineError('LOCKED', 'unlock first');
    return this.#open;
  }

  async #removeProfileFiles(): Promise<void> {
    for (const f of databaseFiles(this.profile.databasePath)) await rm(f, { force: true });
    // Attachment ciphertext (useless without the database's keys) and any decrypted copy.
    await rm(attachmentsDirOf(this.profile), { recursive: true, force: true });
    await this.#passphrase.destroy();
    try {
      if ((await readdir(this.profile.dataDir)).length === 0) await rmdir(this.profile.dataDir);
    } catch {
      // already gone
    }
  }

  getState(): EngineState {
    const account = this.#state === 'ready' && this.#open ? accountView(this.#open.account) : null;
    return {
      state: this.#state,
      profile: this.profile.name,
      keychainAvailable: this.#keychainAvailable,
      keyProtection: this.#protection,
      account,
      ...(this.#removed && this.#state === 'needs-account' && { removedFromAccount: true as const }),
      ...(this.#restoreInterrupted && this.#state === 'needs-account' && { restoreInterrupted: true as const }),
    };
  }

  async refreshState(): Promise<EngineState> {
    return this.#serial(async () => {
      if (this.#state === 'locked' && this.#protection === 'keychain') await this.#tryKeychainOpen();
      else if (this.#state !== 'ready') this.#keychainAvailable = await this.#keychain.isAvailable();
      return this.getState();
    });
  }

  createAccount(req: RequestOf<'account:create'>): Promise<AccountView> {
    return this.#serial(async () => {
      if (this.#state !== 'needs-account') throw new EngineError('ACCOUNT_EXISTS', 'this profile already has an account');
      const username = normalizeUsername(req.username);
      if (username === null) throw new EngineError('INVALID_USERNAME', 'a username is 3-32 of a-z, 0-9, "_" and "."');
      const profile = checkProfileInput(req.displayName ?? username, '');
      // Creating an account instead of linking ends a link in progress (and tells the primary).
      await this.cancelLink();
      return this.#createProfile(req.passphrase, async (db) => {
        let account = (await bootstrapAccount(db.writer, { username, relayUrl: req.relayUrl }, { rng: this.#rng, now: this.#clock })).account;
        db.writer.transaction(() => createOwnProfile(db.writer, { displayName: profile.displayName, rng: this.#rng, now: this.#clock() }));
        // Registration at the relay is part of creating the account: a taken username fails here.
        if (!this.#messagingTuning?.localOnly) {
          this.#open = { db, account };
          await registerNewAccount(db, account, { rng: this.#rng, clock: this.#clock, ...(this.#messagingTuning && { tuning: this.#messagingTuning }) });
          account = getAccount(db.reader)!;
        }
        return account;
      });
    });
  }

  /**
   * Creates this profile's database under a new key (the keychain's, or a passphrase key file),
   * fills it with `populate` and becomes ready; on any failure every file is removed again.
   */
  async #createProfile(passphrase: string | undefined, populate: (db: EngineDatabase) => Promise<LocalAccount>): Promise<AccountView> {
    if (passphrase !== undefined) checkPassphraseStrength(passphrase);
    else if (!(await this.#keychain.isAvailable())) {
      this.#keychainAvailable = false;
      throw new EngineError('KEYCHAIN_UNAVAILABLE', 'the OS keychain is not available; choose a passphrase');
    }
    await this.#removeProfileFiles();
    await mkdir(this.profile.dataDir, { recursive: true, mode: 0o700 });
    const protection: KeyProtection = passphrase !== undefined ? 'passphrase' : 'keychain';
    // A copy of the key for the search worker, handed over once the account exists.
    let searchKey: Uint8Array | null = null;
    let db: EngineDatabase | null = null;
    let open: OpenProfile;
    try {
      const key = this.#rng(32);
      try {
        if (passphrase !== undefined) await this.#passphrase.create(passphrase, key);
        else await this.#keychain.store(key);
        db = this.#openDatabase(key);
        searchKey = key.slice();
        open = { db, account: await populate(db) };
        this.#open = open;
      } finally {
        key.fill(0);
      }
    } catch (e) {
      searchKey?.fill(0);
      const opened = this.#open?.db === db;
      this.#closeDatabase();
      if (!opened) db?.close();
      await this.#search.stopped();
      await this.#removeProfileFiles();
      if (protection === 'keychain') await this.#keychain.destroy().catch(() => undefined);
      throw e;
    }
    this.#search.attach(open.db, searchKey!);
    this.#protection = protection;
    this.#removed = false;
    if (protection === 'keychain') this.#keychainAvailable = true;
    this.#idle.configure(null);
    this.#setState('ready');
    this.#startMessaging();
    return accountView(open.account);
  }

  // ── Backups (electron/engine/backup, ADR 0033) ──────────────────────────────

  #requireBackups(): BackupService {
    this.#require();
    if (!this.#backups) throw new EngineError('LOCKED', 'unlock first');
    return this.#backups;
  }

  async viewRecoveryWords(req: RequestOf<'backup:viewWords'>): Promise<{ words: string[] }> {
    const backups = this.#requireBackups();
    if (this.#protection === 'passphrase') {
      if (req.passphrase === undefined) throw new EngineError('WRONG_PASSPHRASE', 'enter the app passphrase to see the recovery words');
      (await this.#passphrase.unlock(req.passphrase)).fill(0);
    }
    return { words: backups.words() };
  }

  #restorePaths(): { marker: string; staging: string; download: string } {
    const dir = this.profile.dataDir;
    return { marker: join(dir, 'restore-in-progress'), staging: join(dir, 'restore-staging'), download: join(dir, 'restore-download.blob') };
  }

  /** What an interrupted or failed restore left: the database and key, attachments, staging, the download. */
  async #removeRestoreLeftovers(): Promise<void> {
    const p = this.#restorePaths();
    await rm(p.staging, { recursive: true, force: true });
    await rm(p.download, { force: true });
    await this.#removeProfileFiles();
    await this.#keychain.destroy().catch(() => undefined);
  }

  /** The blob of a restore request: the relay's copy (downloaded into the profile folder) or the file. */
  async #backupBlob(req: { relayUrl?: string | undefined; file?: string | undefined }, recoveryKey: Uint8Array): Promise<{ file: string; relayUrl: string | null; relayId: Uint8Array | null }> {
    if ((req.relayUrl === undefined) === (req.file === undefined)) throw new EngineError('INVALID_REQUEST', 'restore from a relay or from a file');
    if (req.file !== undefined) return { file: req.file, relayUrl: null, relayId: null };
    const relayUrl = req.relayUrl!;
    const timeoutMs = this.#messagingTuning?.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    let relayId: Uint8Array;
    try {
      relayId = (await fetchWellKnown(relayUrl, timeoutMs)).relayId;
    } catch (e) {
      throw relayFailure(e);
    }
    await mkdir(this.profile.dataDir, { recursive: true, mode: 0o700 });
    const file = this.#restorePaths().download;
    await rm(file, { force: true });
    try {
      await downloadBackup({ baseUrl: relayUrl, relayId, keys: deriveBackupKeys(recoveryKey), clock: this.#clock, timeoutMs }, file, {
        onBytes: (bytes, totalBytes) => this.#emitEvent('restore:progress', { phase: 'downloading', bytes, totalBytes }),
      });
    } catch (e) {
      await rm(file, { force: true });
      if (e instanceof RelayClientError && e.code === 'NOT_FOUND') throw new EngineError('BACKUP_NOT_FOUND', 'the relay holds no backup for these words');
      throw relayFailure(e);
    }
    return { file, relayUrl, relayId };
  }

  /** The header of a backup file, checked against the words (§25.4 steps 1-6); nothing else is read. */
  async #backupHeader(file: string, recoveryKey: Uint8Array): Promise<{ header: BackupHeader; bytes: number }> {
    let handle;
    try {
      handle = await openFile(file, 'r');
    } catch {
      throw new EngineError('NOT_FOUND', 'that backup file cannot be read');
    }
    try {
      const head = new Uint8Array(BACKUP_HEADER_LENGTH);
      const { bytesRead } = await handle.read(head, 0, BACKUP_HEADER_LENGTH, 0);
      const header = parseBackupHeader(head.subarray(0, bytesRead));
      authenticateBackupHeader(header, recoveryKey);
      return { header, bytes: (await handle.stat()).size };
    } catch (e) {
      throw backupError(e);
    } finally {
      await handle.close();
    }
  }

  /** restore:inspect — when the backup was made and whether it needs its passphrase. */
  inspectBackup(req: RequestOf<'restore:inspect'>): Promise<BackupInfo> {
    return this.#serial(async () => {
      if (this.#state !== 'needs-account') throw new EngineError('ACCOUNT_EXISTS', 'this profile already has an account');
      const recoveryKey = recoveryKeyFromWords(req.words);
      const blob = await this.#backupBlob(req, recoveryKey);
      const { header, bytes } = await this.#backupHeader(blob.file, recoveryKey);
      return { createdAt: header.createdAt, needsSecondFactor: header.kdf.kind === 'passphrase', bytes };
    });
  }

  /**
   * restore:start — onto this empty profile. A marker file says a restore is under way until it
   * finished; a process killed meanwhile finds it at the next start and removes what was written
   * (#detect). Nothing of a backup that does not check out is kept: staging happens before the
   * database exists, and #createProfile removes every file again on any later failure.
   */
  restoreBackup(req: RequestOf<'restore:start'>): Promise<AccountView> {
    return this.#serial(async () => {
      if (this.#state !== 'needs-account') throw new EngineError('ACCOUNT_EXISTS', 'this profile already has an account');
      if (req.passphrase !== undefined) checkPassphraseStrength(req.passphrase);
      const recoveryKey = recoveryKeyFromWords(req.words);
      await this.cancelLink();
      const paths = this.#restorePaths();
      await mkdir(this.profile.dataDir, { recursive: true, mode: 0o700 });
      await writeFile(paths.marker, String(this.#clock()), { mode: 0o600 });
      this.#restoreInterrupted = false;
      let staged: StagedBackup | null = null;
      try {
        const blob = await this.#backupBlob(req, recoveryKey);
        const { header } = await this.#backupHeader(blob.file, recoveryKey);
        let stretched: Uint8Array | null = null;
        if (header.kdf.kind === 'passphrase') {
          if (req.backupPassphrase === undefined) throw new EngineError('BACKUP_PASSPHRASE_REQUIRED', 'this backup needs its passphrase');
          // The parameters are in bounds (parsed) and authentic (the header MAC): only now does Argon2id run.
          stretched = await argon2idInWorker(backupPassphraseBytes(req.backupPassphrase), header.backupSalt, header.kdf.params);
        }
        try {
          staged = await stageBackup(blob.file, header, recoveryKey, stretched, paths.staging, {
            onProgress: (bytes, totalBytes) => this.#emitEvent('restore:progress', { phase: 'checking', bytes, totalBytes }),
          });
        } catch (e) {
          throw backupError(e);
        }
        const account = staged.account;
        const relayUrl = blob.relayUrl ?? account.relayUrl;
        const relayId = blob.relayId ?? (await fetchWellKnown(relayUrl).catch((e: unknown) => { throw relayFailure(e); })).relayId;
        if (account.relayId && !bytesEqual(account.relayId, relayId)) throw new EngineError('BACKUP_NOT_FOUND', 'this backup is of an account at another relay');
        const st = staged;
        const view = await this.#createProfile(req.passphrase, async (db) => {
          this.#emitEvent('restore:progress', { phase: 'importing', bytes: 0, totalBytes: null });
          const restored = await importStagedBackup(db, st, recoveryKey, stretched, { rng: this.#rng, clock: this.#clock, attachmentsDir: attachmentsDirOf(this.profile), relayUrl, relayId });
          crashPoint('mid-restore');
          if (!this.#messagingTuning?.localOnly) {
            this.#emitEvent('restore:progress', { phase: 'publishing', bytes: 0, totalBytes: null });
            // The list with this device, signed by the restored account key; the relay needs no session for it.
            try {
              await restCall(relayUrl, 'restoreDeviceList', {
                params: { accountId: toBase64Url(restored.accountId) },
                body: { deviceList: toBase64Url(restored.deviceList.signed) },
                schema: PutDeviceListResponseSchema,
                timeoutMs: this.#messagingTuning?.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
              });
            } catch (e) {
              throw relayFailure(e);
            }
            await uploadLinkedDevicePrekeys(db, restored, { rng: this.#rng, clock: this.#clock, ...(this.#messagingTuning && { tuning: this.#messagingTuning }) });
          }
          return restored;
        });
        return view;
      } finally {
        await rm(paths.staging, { recursive: true, force: true });
        await rm(paths.download, { force: true });
        await rm(paths.marker, { force: true });
      }
    });
  }

  /** restore:discard — the person saw that a restore was interrupted. */
  discardRestore(): Promise<EngineState> {
    return this.#serial(async () => {
      this.#restoreInterrupted = false;
      await rm(this.#restorePaths().marker, { force: true });
      return this.getState();
    });
  }

  // ── Device linking (electron/engine/linking, ADR 0025) ────────────────────────

  /** New device: a channel, the offer and the short code; the handshake waits for the primary in the background. */
  startLink(req: RequestOf<'link:start'>): Promise<LinkStatusView> {
    return this.#serial(async () => {
      if (this.#state !== 'needs-account') throw new EngineError('ACCOUNT_EXISTS', 'this profile already has an account');
      await this.#link?.cancel();
      const link = await NewDeviceLink.start(req.relayUrl, {
        rng: this.#rng,
        clock: this.#clock,
        onStatus: (status) => {
          if (this.#link === link) this.#emitEvent('link:status', status);
        },
        ...(this.#messagingTuning?.linkPollMs !== undefined && { pollMs: this.#messagingTuning.linkPollMs }),
      }).catch((e: unknown) => {
        throw linkFailure(e, 'offer');
      });
      this.#link = link;
      return link.status;
    });
  }

  linkStatus(): LinkStatusView | null {
    return this.#link?.status ?? null;
  }

  /**
   * New device: the person compared the account's safety number and accepts. Waits for the
   * provisioning (outside the engine's queue: cancel may interleave), then creates the profile from
   * it — identity keys, the signed list naming this device, the account state, fresh prekeys
   * uploaded — and becomes ready with messaging started (no restart).
   */
  async acceptLink(req: RequestOf<'link:accept'>): Promise<AccountView> {
    const link = this.#link;
    if (!link) throw new EngineError('LINK_NOT_STARTED', 'there is no link in progress');
    if (this.#state !== 'needs-account') throw new EngineError('ACCOUNT_EXISTS', 'this profile already has an account');
    const deviceName = checkProfileInput(req.deviceName, '').displayName;
    if (req.passphrase !== undefined) checkPassphraseStrength(req.passphrase);
    const linked = await link.accept();
    const state = parseAccountState(linked.provisioning.accountState);
    const view = await this.#serial(() =>
      this.#createProfile(req.passphrase, async (db) => {
        const now = this.#clock();
        const account: LocalAccount = {
          accountId: linked.account.accountId,
          username: state.username,
          relayUrl: linked.relayUrl,
          relayId: linked.relayId,
          accountPublicKey: linked.account.accountPublicKey,
          accountPrivateKey: null,
          deviceId: linked.provisioning.deviceId,
          identityDh: linked.identityDh,
          identitySigning: linked.identitySigning,
          pq: true,
          deviceList: { signed: linked.provisioning.signedDeviceList, version: linked.provisioning.deviceList.version, issuedAt: linked.provisioning.deviceList.issuedAt },
          registeredAt: now,
          createdAt: now,
        };
        db.writer.transaction(() => {
          insertAccount(db.writer, account);
          importAccountState(db.writer, state, now);
          setDeviceName(db.writer, account.deviceId, deviceName, now);
          createOwnProfile(db.writer, { displayName: state.username, rng: this.#rng, now });
        });
        await maintainPrekeys(db.writer, account, { rng: this.#rng, now: this.#clock });
        if (!this.#messagingTuning?.localOnly) await uploadLinkedDevicePrekeys(db, account, { rng: this.#rng, clock: this.#clock, ...(this.#messagingTuning && { tuning: this.#messagingTuning }) });
        return account;
      }),
    );
    link.finished();
    if (this.#link === link) this.#link = null;
    // This device's name goes to the account's other devices (the primary shows it at once).
    const messaging = this.#messaging;
    if (messaging && !messaging.core.stopped) {
      messaging.core.db.writer.transaction(() => queueDeviceNames(messaging.core, messaging.core.db.writer));
      messaging.outbox.kick();
    }
    return view;
  }

  async cancelLink(): Promise<null> {
    const link = this.#link;
    this.#link = null;
    await link?.cancel();
    return null;
  }

  /**
   * This account's devices from its own signed list, with the names this device knows and the day
   * each was last active as the relay reports it (none while the relay does not answer).
   */
  async listDevices(): Promise<OwnDeviceView[]> {
    this.#require();
    const messaging = this.#messaging;
    const days = messaging && messaging.relay.state === 'open' ? await lastActiveDays(messaging.core) : new Map<number, number | null>();
    const { db, account } = this.#require();
    return ownDeviceViews(db.reader, account, days);
  }

  accountSafetyNumber(): { safetyNumber: string[] } {
    const { account } = this.#require();
    return { safetyNumber: accountSafetyNumber({ accountId: account.accountId, accountPublicKey: account.accountPublicKey }) };
  }

  /** Primary: links the new device behind the offer or code (linking/primary.ts). */
  async linkDevice(req: RequestOf<'devices:link'>): Promise<OwnDeviceView> {
    const messaging = this.#requireMessaging();
    const r = await linkNewDevice(messaging.core, req, { ...(this.#messagingTuning?.linkPollMs !== undefined && { pollMs: this.#messagingTuning.linkPollMs }) });
    // The names this device knows go to every device (the new one learns the others'); the others
    // fetch the new list at once and show it was linked (ADR 0027).
    if (!messaging.core.stopped) {
      messaging.core.db.writer.transaction(() => queueDeviceNames(messaging.core, messaging.core.db.writer, true));
      messaging.core.emit('devices:changed', {});
      messaging.outbox.kick();
    }
    // The person chose what history moves (ADR 0028); it follows in the background with its own progress.
    if (req.history && req.history !== 'none') messaging.history.start(r.deviceId, req.history);
    return { deviceId: r.deviceId, name: null, addedAt: r.addedAt, lastActiveAt: null, thisDevice: false, primary: false };
  }

  /** devices:rename (account/device-management.ts). */
  async renameDevice(req: RequestOf<'devices:rename'>): Promise<OwnDeviceView[]> {
    const messaging = this.#requireMessaging();
    renameDevice(messaging.core, req.deviceId, req.name, () => messaging.outbox.kick());
    return this.listDevices();
  }

  /** devices:remove (account/device-management.ts): primary only. */
  async removeDevice(req: RequestOf<'devices:remove'>): Promise<OwnDeviceView[]> {
    const messaging = this.#requireMessaging();
    await removeDevice(messaging.core, req.deviceId, () => messaging.outbox.kick());
    return this.listDevices();
  }

  /** History transfers on this device (linking/history.ts); none before an account exists. */
  listHistoryTransfers(): HistoryTransferView[] {
    return this.#messaging?.history.list() ?? [];
  }

  async cancelHistoryTransfer(req: RequestOf<'history:cancel'>): Promise<null> {
    const messaging = this.#requireMessaging();
    await messaging.history.cancel(req.transferId);
    return null;
  }

  unlock(req: RequestOf<'account:unlock'>): Promise<EngineState> {
    return this.#serial(async () => {
      if (this.#state === 'needs-account') throw new EngineError('NEEDS_ACCOUNT', 'create an account first');
      if (this.#state === 'ready') return this.getState();
      if (this.#protection === 'keychain') {
        // The passphrase is not used: this retries the keychain and reports why it failed.
        const key = await this.#keychain.load();
        this.#keychainAvailable = true;
        await this.#openWith(key);
        return this.getState();
      }
      await this.#unlockWithPassphrase(req.passphrase);
      return this.getState();
    });
  }

  /**
   * Unlocks a passphrase profile. A passphrase change a crash interrupted leaves the new key in the
   * pending key file beside the key file: the database has exactly one of the two keys
   * (db/rekey.ts), and the passphrase whose file holds that key unlocks; the other file goes.
   */
  async #unlockWithPassphrase(passphrase: string): Promise<void> {
    let pending: Uint8Array | null = null;
    try {
      pending = await this.#passphrase.unlockPending(passphrase);
    } catch (e) {
      if (!(e instanceof KeyError && e.code === 'WRONG_PASSPHRASE')) throw e;
    }
    const changing = pending !== null || (await this.#passphrase.hasPending());
    if (pending) {
      try {
        await this.#openWith(pending);
        // The re-key had finished: the new key file replaces the old one.
        await this.#passphrase.promotePending();
        return;
      } catch (e) {
        if (!isWrongKey(e)) throw e;
      }
    }
    let key: Uint8Array;
    try {
      key = await this.#passphrase.unlock(passphrase);
    } catch (e) {
      if (pending && e instanceof KeyError && e.code === 'WRONG_PASSPHRASE') {
        throw new EngineError('WRONG_PASSPHRASE', 'the passphrase change did not finish: unlock with the previous passphrase');
      }
      throw e;
    }
    try {
      await this.#openWith(key);
    } catch (e) {
      if (changing && isWrongKey(e)) throw new EngineError('WRONG_PASSPHRASE', 'the passphrase was changed: unlock with the new one');
      throw e;
    }
    // The re-key had not finished (or not started): the database kept the key file's key.
    if (changing) await this.#passphrase.discardPending();
  }

  /**
   * A new passphrase for a passphrase profile re-keys the database (issue 10 item 13): a new random
   * key waits in the pending key file, the database is closed and re-keyed from `oldKey` (progress
   * as `account:rekeyProgress`), the pending file replaces the key file, and the database reopens
   * under the new key. A failed re-key leaves the old key: the pending file goes and the database
   * reopens as it was. A crash anywhere leaves files #unlockWithPassphrase sorts out.
   */
  async #changePassphrase(passphrase: string, oldKey: Uint8Array): Promise<void> {
    const newKey = this.#rng(32);
    try {
      await this.#passphrase.createPending(passphrase, newKey);
      this.#idle.stop();
      this.#closeDatabase();
      await this.#search.stopped();
      try {
        await rekeyDatabase({
          path: this.profile.databasePath,
          oldKey,
          newKey,
          nativeBinding: this.#nativeBinding,
          onProgress: (progress) => {
            this.#emitEvent('account:rekeyProgress', progress);
            // Fault tests: the process dies here, while the worker is rewriting pages.
            if (progress.done > 0 && progress.done < progress.total) crashPoint('mid-rekey');
          },
        });
      } catch (e) {
        await this.#passphrase.discardPending();
        await this.#openWith(oldKey.slice());
        throw e;
      }
      crashPoint('after-rekey-before-key-file');
      try {
        await this.#passphrase.promotePending();
      } finally {
        await this.#openWith(newKey.slice());
      }
    } finally {
      newKey.fill(0);
    }
  }

  setPassphrase(req: RequestOf<'account:setPassphrase'>): Promise<EngineState> {
    return this.#serial(async () => {
      const open = this.#require();
      if (this.#protection === 'passphrase' && req.currentPassphrase === undefined) {
        throw new EngineError('WRONG_PASSPHRASE', 'the current passphrase is required');
      }
      if (req.passphrase !== null) checkPassphraseStrength(req.passphrase);
      if (this.#protection === 'keychain' && req.passphrase === null) return this.getState();
      const key = this.#protection === 'passphrase' ? await this.#passphrase.unlock(req.currentPassphrase!) : await this.#keychain.load();
      try {
        if (req.passphrase !== null && this.#protection === 'passphrase') {
          await this.#changePassphrase(req.passphrase, key);
        } else if (req.passphrase !== null) {
          // Key file first, then the keychain entry goes: a crash in between leaves both, never neither.
          await this.#passphrase.create(req.passphrase, key);
          if (this.#protection === 'keychain') await this.#keychain.destroy().catch(() => undefined);
          this.#protection = 'passphrase';
        } else {
          await this.#keychain.store(key);
          await this.#passphrase.destroy();
          this.#protection = 'keychain';
          this.#keychainAvailable = true;
          // Without a passphrase there is nothing to lock with.
          open.db.writer.transaction(() => writeSettings(open.db.writer, { appLockIdleMinutes: null }));
          this.#idle.configure(null);
        }
      } finally {
        key.fill(0);
      }
      return this.getState();
    });
  }

  lock(): Promise<EngineState> {
    return this.#serial(() => {
      if (this.#state === 'needs-account') throw new EngineError('NEEDS_ACCOUNT', 'create an account first');
      if (this.#protection !== 'passphrase') throw new EngineError('PASSPHRASE_NOT_SET', 'set a passphrase to lock Parley');
      this.#lockNow();
      return this.getState();
    });
  }

  /**
   * Unregisters this device at the relay (when the database is open and the relay answers within
   * a few seconds; otherwise the relay's copy expires with its mailbox retention), then deletes
   * this profile's account locally: the database files (with -wal and -shm), the key file and the
   * keychain entry. The account lives on (its other devices, its username).
   */
  logout(): Promise<EngineState> {
    return this.#serial(async () => {
      await this.#messaging?.unregister().catch(() => undefined);
      return this.#wipe();
    });
  }

  /**
   * Deletes the account at the relay — a statement signed with the account key, which only the
   * primary device holds — and then this device as at logout. The relay must confirm first: a
   * deletion that did not reach it leaves everything as it was (RELAY_UNAVAILABLE), never a wiped
   * device with a live account.
   */
  deleteAccount(): Promise<EngineState> {
    return this.#serial(async () => {
      const { account } = this.#require();
      const key = account.accountPrivateKey;
      if (key === null) throw new EngineError('NOT_PRIMARY_DEVICE', 'only the device that created the account can delete it');
      const messaging = this.#messaging;
      if (!messaging) throw new EngineError('LOCKED', 'unlock first');
      await messaging.deleteAccount((input) => ed25519Sign(key, input));
      return this.#wipe();
    });
  }

  /**
   * The account's primary removed this device, proven by a newer signed list without it
   * (messaging/own-devices.ts): everything of the account goes from this device as at logout —
   * database, attachments, key file, keychain entry — and the state says why (ADR 0027).
   */
  async #removedFromAccount(db: EngineDatabase): Promise<void> {
    if (this.#open?.db !== db) return;
    this.#removed = true;
    try {
      await this.#wipe();
    } finally {
      this.#emitEvent('engine:state', this.getState());
    }
  }

  /** Closes and deletes this device's account: database files, key file, keychain entry. */
  async #wipe(): Promise<EngineState> {
    this.#idle.stop();
    this.#closeDatabase();
    // The search worker closes its connection before the files go.
    await this.#search.stopped();
    await this.#removeProfileFiles();
    const hadKeychain = this.#protection !== 'passphrase';
    this.#protection = null;
    this.#setState('needs-account');
    try {
      await this.#keychain.destroy();
    } catch (e) {
      // A passphrase profile never stored anything there; a keychain profile's entry is orphaned
      // (useless without the database, replaced by the next account) and the user is told.
      if (hadKeychain) throw e;
    }
    return this.getState();
  }

  // ── Settings ───────────────────────────────────────────────────────────────

  getSettings(): Settings {
    return readSettings(this.#require().db.reader);
  }

  setSettings(patch: RequestOf<'settings:set'>): Settings {
    const { db } = this.#require();
    if (patch.appLockIdleMinutes !== undefined && patch.appLockIdleMinutes !== null && this.#protection !== 'passphrase') {
      throw new EngineError('PASSPHRASE_NOT_SET', 'the app lock needs a passphrase');
    }
    // Synced settings follow to this account's other devices (messaging/sync.ts, ADR 0026).
    const synced = db.writer.transaction(() => {
      writeSettings(db.writer, patch);
      return this.#messaging?.sync.settingsChanged(db.writer, patch) ?? false;
    });
    if (synced) this.#messaging?.syncQueued();
    const settings = readSettings(db.reader);
    this.#messaging?.settingsChanged(patch, settings);
    if ('appLockIdleMinutes' in patch) this.#idle.configure(settings.appLockIdleMinutes);
    if ('searchEnabled' in patch) this.#search.reconcile();
    return settings;
  }

  // ── Own profile ────────────────────────────────────────────────────────────

  getProfile(): OwnProfileView {
    const own = getOwnProfile(this.#require().db.reader);
    if (!own) throw new EngineError('INTERNAL', 'no profile');
    return ownProfileView(own);
  }

  async setProfile(req: RequestOf<'profile:set'>): Promise<OwnProfileView> {
    return ownProfileView(await this.#requireMessaging().profiles.set(req.displayName, req.about));
  }

  async setAvatar(req: RequestOf<'profile:setAvatar'>): Promise<OwnProfileView> {
    const picture = req.picture === null ? null : new Uint8Array(Buffer.from(req.picture, 'base64'));
    // The schema bounds the base64 text; this is the exact bound on the bytes.
    if (picture && picture.length > MAX_AVATAR_PICTURE_BYTES) throw new EngineError('INVALID_IMAGE', 'that picture is larger than 10 MiB');
    return ownProfileView(await this.#requireMessaging().profiles.setAvatar(picture));
  }

  /** One handler per channel of the contract (a channel without one does not compile). */
  handlers(): Handlers {
    return {
      'app:getState': () => this.refreshState(),
      'app:activity': () => {
        this.touch();
        return null;
      },
      'account:create': (r) => this.createAccount(r),
      'account:unlock': (r) => this.unlock(r),
      'account:setPassphrase': (r) => this.setPassphrase(r),
      'account:lock': () => this.lock(),
      'account:logout': () => this.logout(),
      'account:delete': () => this.deleteAccount(),
      'link:start': (r) => this.startLink(r),
      'link:status': () => this.linkStatus(),
      'link:accept': (r) => this.acceptLink(r),
      'link:cancel': () => this.cancelLink(),
      'devices:list': () => this.listDevices(),
      'devices:accountSafetyNumber': () => this.accountSafetyNumber(),
      'devices:link': (r) => this.linkDevice(r),
      'devices:rename': (r) => this.renameDevice(r),
      'devices:remove': (r) => this.removeDevice(r),
      'backup:status': () => this.#requireBackups().status(),
      'backup:enable': () => this.#requireBackups().enable(),
      'backup:confirm': (r) => this.#requireBackups().confirm(r.answers),
      'backup:setPassphrase': (r) => this.#requireBackups().setPassphrase(r.passphrase),
      'backup:configure': (r) => this.#requireBackups().configure(r),
      'backup:run': () => this.#requireBackups().run(),
      'backup:cancel': () => this.#requireBackups().cancel(),
      'backup:export': (r) => this.#requireBackups().export(r.path),
      'backup:viewWords': (r) => this.viewRecoveryWords(r),
      'backup:disable': () => this.#requireBackups().disable(),
      'restore:inspect': (r) => this.inspectBackup(r),
      'restore:start': (r) => this.restoreBackup(r),
      'restore:discard': () => this.discardRestore(),
      'history:list': () => this.listHistoryTransfers(),
      'history:cancel': (r) => this.cancelHistoryTransfer(r),
      'profile:get': () => this.getProfile(),
      'profile:setAvatar': (r) => this.setAvatar(r),
      'profile:set': (r) => this.setProfile(r),
      'contacts:list': () => this.#queries.listContacts(),
      'contacts:getAvatar': (r) => this.#queries.getAvatar(r),
      'contacts:getSafetyNumber': (r) => this.#queries.getSafetyNumber(r),
      'contacts:markVerified': (r) => this.#queries.markVerified(r),
      'contacts:acceptKeyChange': (r) => this.#queries.acceptKeyChange(r),
      'conversations:list': () => this.#queries.listConversations(),
      'messages:openPage': (r) => this.#queries.openPage(r),
      'messages:markRead': (r) => this.#queries.markRead(r),
      'messages:info': (r) => this.#queries.messageInfo(r),
      'settings:get': () => this.getSettings(),
      'settings:set': (r) => this.setSettings(r),
      'search:query': async (r) => {
        this.#require();
        // Messages committed a moment ago are indexed by the worker shortly after: wait for them.
        await this.#search.caughtUp();
        const { db, account } = this.#require();
        return this.#search.search(db, r, account.accountId);
      },
      'contacts:add': (r) => this.#requireMessaging().addContact(r),
      'messages:send': (r) => this.#requireMessaging().send(r),
      'messages:retry': (r) => this.#requireMessaging().retry(r),
      'messages:deleteForMe': (r) => this.#requireMessaging().deleteForMe(r),
      'messages:deleteForEveryone': (r) => this.#requireMessaging().deleteForEveryone(r),
      'conversations:setTimer': (r) => this.#requireMessaging().setTimer(r),
      'conversations:setTyping': (r) => this.#requireMessaging().setTyping(r),
      'attachments:stage': (r) => this.#requireMessaging().attachments.stage(r),
      'attachments:write': (r) => this.#requireMessaging().attachments.write(r),
      'attachments:send': (r) => this.#requireMessaging().attachments.send(r),
      'attachments:cancel': (r) => this.#requireMessaging().attachments.cancel(r),
      'attachments:retry': (r) => this.#requireMessaging().attachments.retry(r),
      'attachments:reveal': (r) => this.#requireMessaging().attachments.reveal(r),
      'attachments:open': (r) => this.#requireMessaging().attachments.open(r),
      'attachments:read': (r) => this.#requireMessaging().attachments.read(r),
      'conversations:start': (r) => this.#requireMessaging().startConversation(r),
      'contacts:accept': (r) => this.#requireMessaging().acceptRequest(r),
      'contacts:deleteRequest': (r) => this.#requireMessaging().deleteRequest(r),
      'conversations:delete': (r) => this.#requireMessaging().deleteConversation(r),
      'contacts:setBlocked': (r) => this.#requireMessaging().setBlocked(r),
      'contacts:listBlocked': () => this.#requireMessaging().listBlocked(),
    };
  }

  #requireMessaging(): Messaging {
    this.#require();
    if (!this.#messaging) throw new EngineError('LOCKED', 'unlock first');
    return this.#messaging;
  }
}

/** Where a profile's attachment files live (electron/engine/files/attachments.ts). */
function attachmentsDirOf(profile: Profile): string {
  return join(profile.dataDir, 'attachments');
}

function accountView(a: LocalAccount): AccountView {
  return { username: a.username, accountId: contactIdOf(a.accountId), deviceId: a.deviceId, relayUrl: a.relayUrl, primaryDevice: a.accountPrivateKey !== null };
}

function resignedAccount(db: EngineDatabase, account: LocalAccount, now: number): LocalAccount {
  const list = resignDeviceListIfDue(db.writer, account, now);
  return list ? { ...account, deviceList: list } : account;
}

/** A backup's ProtocolError as the API says it (docs/protocol.md §25.4-§25.7). */
function backupError(e: unknown): unknown {
  if (!isProtocolError(e)) return e;
  switch (e.code) {
    case 'BACKUP_WRONG_RECOVERY_KEY':
      return new EngineError('BACKUP_WRONG_RECOVERY_KEY', 'these recovery words belong to another backup');
    case 'BACKUP_PASSPHRASE_REQUIRED':
      return new EngineError('BACKUP_PASSPHRASE_REQUIRED', 'this backup needs its passphrase');
    case 'BACKUP_WRONG_PASSPHRASE':
      return new EngineError('BACKUP_WRONG_PASSPHRASE', 'wrong backup passphrase');
    case 'BACKUP_PARAMS_OUT_OF_BOUNDS':
      return new EngineError('BACKUP_PARAMS_OUT_OF_BOUNDS', 'the backup asks for Argon2id settings outside what Parley accepts; it was not opened');
    case 'UNSUPPORTED_VERSION':
      return new EngineError('BACKUP_UNSUPPORTED_VERSION', 'this backup was made by a newer version of Parley; update Parley to restore it');
    case 'MALFORMED':
      return e.message === 'not a Parley backup'
        ? new EngineError('BACKUP_NOT_A_BACKUP', 'this file is not a Parley backup')
        : new EngineError('BACKUP_TAMPERED', 'the backup is damaged; nothing was restored');
    default:
      // BACKUP_TAMPERED, TRUNCATED, TRAILING_DATA, SEGMENT_AUTH_FAILED…
      return new EngineError('BACKUP_TAMPERED', 'the backup was changed or cut short; nothing was restored');
  }
}
