/**
 * The relay's backups (issue 18, docs/protocol.md §25.8, ADR 0033): one current blob per backup id,
 * in `<data dir>/backups/`, stored, served and deleted only for a request signed by the backup auth
 * key. Owns:
 *  - challenges: a single-use 32-byte nonce bound to one backup id, limited per address and per id;
 *  - the check of every signed request, in this order: the Authorization header's form, the nonce
 *    (taken first: one attempt each), its backup id and expiry, the signed time against the relay's
 *    clock, the signature over §25.8's input for this operation, and the key the id is bound to
 *    (the first stored blob binds it). Every failure is the same UNAUTHORIZED;
 *  - uploads: a declared Content-Length within the per-id maximum and the per-address byte budget,
 *    streamed to a new file (the current backup stays until the new one is complete and durable),
 *    checked to start like a backup of this id, then made current atomically; the file it replaced
 *    is removed after the switch;
 *  - downloads with HTTP range requests (a resumed download signs a new request), and deletion;
 *  - the sweep: backups not replaced for the retention period, and files of no current backup
 *    (a crash between writing and switching, or an abandoned upload).
 * Nothing here reads or records an account or a session token: the relay learns a backup id, a
 * public key, a size and when it changed. Does not own limiter values (server/limits) or the app.
 */
import express, { type Request, type Response } from 'express';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { bytesEqual, fromBase64Url, toBase64Url } from '../../shared/crypto/bytes.js';
import { ed25519Verify } from '../../shared/crypto/ed25519.js';
import { BACKUP_MAGIC, backupRequestSignatureInput, type BackupOperationName } from '../../shared/protocol/backup.js';
import { ATTACHMENT_TAG_LENGTH, BACKUP_HEADER_LENGTH, BACKUP_ID_LENGTH, BACKUP_VERSION } from '../../shared/protocol/constants.js';
import { BackupChallengeRequestSchema, BACKUPS_PATH, parseBackupAuthorization, type BackupLimits } from '../../shared/wire/backup.js';
import { CHALLENGE_NONCE_LENGTH, CHALLENGE_TTL_MS, MAX_AUTH_CLOCK_SKEW_MS } from '../../shared/wire/limits.js';
import { MAX_SMALL_BODY_BYTES } from '../../shared/wire/wire-size.js';
import type { RelayContext } from '../core/context.js';
import { RelayError, spend } from '../core/errors.js';
import { parseOrThrow } from '../core/validation.js';

/** Where the blobs live inside the relay's data directory. */
export const BACKUPS_DIR = 'backups';
const GENERATION_LENGTH = 16;
/** Offset of the backup id in a version-1 header (docs/protocol.md §25.4). */
const HEADER_BACKUP_ID_OFFSET = 94;
/** An upload file older than this with no current backup naming it is abandoned. */
const ABANDONED_UPLOAD_MS = 24 * 3600_000;
/** A stored file no current backup names is removed only after this long (a commit may be under way). */
const ORPHAN_GRACE_MS = 3600_000;
const SWEEP_BATCH_SIZE = 1_000;
const DECIMAL = /^[0-9]{1,16}$/;

export type BackupServiceOptions = {
  readonly dataDir: string;
  readonly maxBytes: number;
  readonly retentionMs: number;
  /** The client address a request is counted under (an IPv4 address or IPv6 /64). */
  readonly addressOf: (req: Request) => string;
};

export type BackupSweepResult = { readonly expired: number; readonly orphans: number };

const unauthorized = (): RelayError => new RelayError('UNAUTHORIZED', 'backup request not authorized');

function parseId(text: unknown): Uint8Array {
  if (typeof text === 'string' && text.length === 22) {
    try {
      const id = fromBase64Url(text);
      if (id.length === BACKUP_ID_LENGTH) return id;
    } catch {
      // fall through
    }
  }
  throw new RelayError('NOT_FOUND', 'no such backup');
}

export class BackupService {
  readonly directory: string;
  readonly #ctx: RelayContext;
  readonly #options: BackupServiceOptions;

  constructor(ctx: RelayContext, options: BackupServiceOptions) {
    this.#ctx = ctx;
    this.#options = options;
    this.directory = path.join(options.dataDir, BACKUPS_DIR);
  }

  /** Creates the blob directory (mode 0700). */
  async init(): Promise<void> {
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
  }

  /** What /.well-known/parley announces. */
  announce(): BackupLimits {
    return { path: BACKUPS_PATH, maxBytes: this.#options.maxBytes, retentionMs: this.#options.retentionMs };
  }

  router(): express.Router {
    const router = express.Router();
    router.post(`${BACKUPS_PATH}/challenge`, express.json({ limit: MAX_SMALL_BODY_BYTES, strict: true, type: 'application/json' }), async (req, res) => {
      if (req.body === undefined) throw new RelayError('MALFORMED', 'expected an application/json body');
      const { backupId } = parseOrThrow(BackupChallengeRequestSchema, req.body);
      const c = await this.challenge(this.#options.addressOf(req), backupId);
      res.set('Cache-Control', 'no-store').json({ nonce: toBase64Url(c.nonce), relayId: toBase64Url(c.relayId), serverTime: c.serverTime });
    });
    router.put(`${BACKUPS_PATH}/:id`, (req, res) => this.#put(req, res));
    router.get(`${BACKUPS_PATH}/:id`, (req, res) => this.#get(req, res));
    router.delete(`${BACKUPS_PATH}/:id`, async (req, res) => {
      const backupId = parseId(req.params.id);
      const authKey = await this.#authorize(req, backupId, 'delete');
      const generation = await this.#ctx.store.deleteBackup(backupId, authKey);
      if (!generation) throw new RelayError('NOT_FOUND', 'no such backup');
      await rm(this.#file(backupId, generation), { force: true });
      res.status(204).end();
    });
    return router;
  }

  /** A single-use challenge for one request on `backupId`. */
  async challenge(address: string, backupId: Uint8Array): Promise<{ nonce: Uint8Array; relayId: Uint8Array; serverTime: number }> {
    const { limits } = this.#ctx;
    await spend(limits.backupChallengesIp, address, 'backup requests from this address');
    await spend(limits.backupChallengesId, toBase64Url(backupId), 'requests for this backup');
    const now = this.#ctx.clock();
    const nonce = this.#ctx.rng(CHALLENGE_NONCE_LENGTH);
    await this.#ctx.store.putBackupChallenge({ nonce, backupId, expiresAt: now + CHALLENGE_TTL_MS });
    return { nonce, relayId: this.#ctx.identity.relayId, serverTime: now };
  }

  /**
   * The auth key of a signed request for `operation` on `backupId`, checked in the order of the
   * module comment; for get and delete also the key the backup is bound to (NOT_FOUND if there is
   * no backup), for put the bound key if there is one.
   */
  async #authorize(req: Request, backupId: Uint8Array, operation: BackupOperationName): Promise<Uint8Array> {
    const auth = parseBackupAuthorization(req.get('authorization'));
    if (!auth) throw unauthorized();
    const challenge = await this.#ctx.store.takeBackupChallenge(auth.nonce);
    const now = this.#ctx.clock();
    if (!challenge || challenge.expiresAt < now || !bytesEqual(challenge.backupId, backupId) || Math.abs(auth.time - now) > MAX_AUTH_CLOCK_SKEW_MS) {
      throw unauthorized();
    }
    const input = backupRequestSignatureInput(this.#ctx.identity.relayId, auth.nonce, auth.time, backupId, operation);
    let valid = false;
    try {
      valid = ed25519Verify(auth.authPublicKey, input, auth.signature);
    } catch {
      valid = false; // a malformed or small-order key
    }
    if (!valid) throw unauthorized();
    const record = await this.#ctx.store.getBackup(backupId);
    if (record && !bytesEqual(record.authKey, auth.authPublicKey)) throw unauthorized();
    if (!record && operation !== 'put') throw new RelayError('NOT_FOUND', 'no such backup');
    return auth.authPublicKey;
  }

  #file(backupId: Uint8Array, generation: Uint8Array): string {
    return path.join(this.directory, `${toBase64Url(backupId)}.${toBase64Url(generation)}`);
  }

  async #put(req: Request, res: Response): Promise<void> {
    const backupId = parseId(req.params.id);
    const lengthText = req.get('content-length') ?? '';
    if (!DECIMAL.test(lengthText)) throw new RelayError('MALFORMED', 'a backup upload declares its Content-Length');
    const length = Number(lengthText);
    if (length > this.#options.maxBytes) throw new RelayError('PAYLOAD_TOO_LARGE', `a backup is at most ${this.#options.maxBytes} bytes`);
    if (length < BACKUP_HEADER_LENGTH + ATTACHMENT_TAG_LENGTH) throw new RelayError('MALFORMED', 'too short to be a backup');
    const authKey = await this.#authorize(req, backupId, 'put');
    await spend(this.#ctx.limits.backupUploadBytesIp, this.#options.addressOf(req), 'backup bytes from this address', length);

    const generation = this.#ctx.rng(GENERATION_LENGTH);
    const file = this.#file(backupId, generation);
    const partial = `${file}.part`;
    let head = new Uint8Array(0);
    let received = 0;
    const check = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        if (received > length) {
          done(new RelayError('MALFORMED', 'more bytes than the declared length'));
          return;
        }
        if (head.length < BACKUP_HEADER_LENGTH) {
          const next = new Uint8Array(Math.min(BACKUP_HEADER_LENGTH, head.length + chunk.length));
          next.set(head);
          next.set(chunk.subarray(0, next.length - head.length), head.length);
          head = next;
        }
        done(null, chunk);
      },
    });
    try {
      await pipeline(req, check, createWriteStream(partial, { mode: 0o600, flags: 'wx' }));
      if (received !== length) throw new RelayError('MALFORMED', 'the upload ended before its declared length');
      // Only what starts like a backup of this id is stored; a later format version is taken as it is.
      if (!bytesEqual(head.subarray(0, BACKUP_MAGIC.length), BACKUP_MAGIC)) throw new RelayError('MALFORMED', 'not a backup');
      if (head[BACKUP_MAGIC.length] === BACKUP_VERSION && !bytesEqual(head.subarray(HEADER_BACKUP_ID_OFFSET, HEADER_BACKUP_ID_OFFSET + BACKUP_ID_LENGTH), backupId)) {
        throw new RelayError('MALFORMED', 'the blob is a backup of another id');
      }
      const handle = await open(partial, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(partial, file);
    } catch (e) {
      await rm(partial, { force: true });
      if (e instanceof RelayError) throw e;
      // The client went away or the disk failed: nothing was stored.
      if (req.destroyed || req.readableAborted) {
        res.destroy();
        return;
      }
      throw e;
    }
    const outcome = await this.#ctx.store.commitBackup({ backupId, authKey, generation, length, now: this.#ctx.clock() });
    if (outcome.status === 'key-mismatch') {
      await rm(file, { force: true });
      throw unauthorized();
    }
    if (outcome.replaced) await rm(this.#file(backupId, outcome.replaced), { force: true });
    res.status(204).set('Cache-Control', 'no-store').end();
  }

  async #get(req: Request, res: Response): Promise<void> {
    const backupId = parseId(req.params.id);
    await this.#authorize(req, backupId, 'get');
    const record = await this.#ctx.store.getBackup(backupId);
    if (!record) throw new RelayError('NOT_FOUND', 'no such backup');
    const length = record.length;
    let start = 0;
    let end = length - 1;
    let partial = false;
    const match = /^bytes=([0-9]{1,16})-([0-9]{0,16})$/.exec(req.get('range') ?? '');
    if (match) {
      start = Number(match[1]);
      if (match[2] !== '') end = Math.min(end, Number(match[2]));
      if (start >= length || start > end) {
        res.status(416).set({ 'Content-Range': `bytes */${length}`, 'Cache-Control': 'no-store' }).end();
        return;
      }
      partial = true;
    }
    const stream = createReadStream(this.#file(backupId, record.generation), { start, end, highWaterMark: 1024 * 1024 });
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', (e) => reject(e));
    });
    res.status(partial ? 206 : 200).set({
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(end - start + 1),
      'Accept-Ranges': 'bytes',
      'Cache-Control': 'no-store',
      ...(partial ? { 'Content-Range': `bytes ${start}-${end}/${length}` } : {}),
    });
    try {
      await pipeline(stream, res);
    } catch {
      stream.destroy(); // the client went away
    }
  }

  /** Expiry: backups not replaced within the retention period, then files no current backup names. */
  async sweep(): Promise<BackupSweepResult> {
    const now = this.#ctx.clock();
    let expired = 0;
    for (;;) {
      const r = await this.#ctx.store.expireBackups({ storedBefore: now - this.#options.retentionMs, now, batchSize: SWEEP_BATCH_SIZE });
      for (const b of r.removed) await rm(this.#file(b.backupId, b.generation), { force: true });
      expired += r.removed.length;
      if (r.removed.length < SWEEP_BATCH_SIZE) break;
    }
    return { expired, orphans: await this.#removeOrphans(now) };
  }

  async #removeOrphans(now: number): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch {
      return 0;
    }
    let removed = 0;
    const candidates: { name: string; backupId: Uint8Array; generation: Uint8Array }[] = [];
    for (const name of names) {
      const full = path.join(this.directory, name);
      if (name.endsWith('.part')) {
        // An upload still running is younger than a day; one older was abandoned.
        const info = await stat(full).catch(() => null);
        if (info && now - info.mtimeMs > ABANDONED_UPLOAD_MS) {
          await rm(full, { force: true });
          removed++;
        }
        continue;
      }
      const [id, gen, ...rest] = name.split('.');
      try {
        const backupId = fromBase64Url(id ?? '');
        const generation = fromBase64Url(gen ?? '');
        if (rest.length === 0 && backupId.length === BACKUP_ID_LENGTH && generation.length === GENERATION_LENGTH) candidates.push({ name, backupId, generation });
      } catch {
        // not ours
      }
    }
    if (candidates.length === 0) return removed;
    const live = await this.#ctx.store.liveBackupGenerations(candidates);
    for (let i = 0; i < candidates.length; i++) {
      if (live[i]) continue;
      const full = path.join(this.directory, candidates[i]!.name);
      // A file just renamed into place is current a moment later (its upload is committing).
      const info = await stat(full).catch(() => null);
      if (!info || now - info.mtimeMs < ORPHAN_GRACE_MS) continue;
      await rm(full, { force: true });
      removed++;
    }
    return removed;
  }
}
