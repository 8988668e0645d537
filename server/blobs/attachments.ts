/**
 * The relay's attachment blobs (issue 13, docs/adr/0015-attachment-blobs.md): resumable uploads with
 * the tus protocol 1.0.0 (@tus/server with @tus/file-store in `<data dir>/attachments/`), downloads
 * with HTTP range requests, and expiry. Owns:
 *  - creation (POST): a session token, a declared `Upload-Length` within the relay's maximum that is
 *    the length of some attachment ciphertext (docs/protocol.md §17), no metadata; the account's
 *    quota and its number of unfinished uploads, checked atomically with the record (store
 *    aggregate `attachments`); the attachment id is 128 random bits from the relay's Rng;
 *  - HEAD / PATCH / DELETE (tus core and termination) for the uploading account only; a DELETE
 *    removes the partial (or finished) upload at once; a finished upload is recorded durably before
 *    the client hears so;
 *  - downloads (GET, `Range: bytes=a-` or `a-b`) that need no token and name no account, limited
 *    per client address;
 *  - the sweep: unfinished uploads after their deadline (24 h) and finished ones after retention
 *    (30 days) lose their files; an expired attachment answers ATTACHMENT_EXPIRED for a while
 *    (tombstone), then NOT_FOUND; files without a live record (a crash between the two) are removed.
 * The relay stores ciphertext only and never sees a name, type or key: there is nothing else to see.
 * Does not own the rate-limit and metric machinery (handed in), or the Express app (http/app.ts
 * mounts `router()`).
 */
import express, { type Request, type RequestHandler, type Response } from 'express';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { FileStore } from '@tus/file-store';
import { Server as TusServer, Upload, type Locker } from '@tus/server';
import { bytesEqual, fromBase64Url, toBase64Url } from '../../shared/crypto/bytes.js';
import { layoutFromCiphertextLength } from '../../shared/protocol/attachment-cipher.js';
import { ATTACHMENT_ID_LENGTH, ATTACHMENTS_PATH, TUS_VERSION, type AttachmentLimits } from '../../shared/wire/attachments.js';
import type { AuthenticatedDevice, RelayContext } from '../core/context.js';
import { rateLimited, RelayError } from '../core/errors.js';

/** Where the blobs live inside the relay's data directory. */
export const ATTACHMENTS_DIR = 'attachments';
/** Rows handled per expiry transaction. */
const SWEEP_BATCH_SIZE = 1_000;

export type AttachmentLimitsConfig = {
  /** The largest ciphertext an upload may declare. */
  readonly maxBytes: number;
  /** Stored plus unfinished ciphertext per account. */
  readonly quotaBytes: number;
  /** Unfinished uploads per account at once. */
  readonly maxConcurrentUploads: number;
  /** A finished attachment's life after its upload completed. */
  readonly retentionMs: number;
  /** An unfinished upload's life after it was created. */
  readonly partialUploadMaxAgeMs: number;
  /** How long an expired attachment still answers ATTACHMENT_EXPIRED (then NOT_FOUND). */
  readonly tombstoneMs: number;
};

export type AttachmentSweepResult = {
  /** Unfinished uploads discarded (past their deadline). */
  readonly partial: number;
  /** Finished attachments expired (past retention). */
  readonly expired: number;
  /** Files removed that had no live record. */
  readonly orphans: number;
};

export type AttachmentServiceOptions = {
  readonly dataDir: string;
  /** Where the blobs live instead of `<dataDir>/attachments` (a directory shared by every instance). */
  readonly directory?: string;
  /** The upload locker shared by instances (redis-locker.ts); tus's in-process MemoryLocker by default. */
  readonly locker?: Locker;
  readonly limits: AttachmentLimitsConfig;
  /** The client address a download is counted under (an IPv4 address or IPv6 /64). */
  readonly addressOf: (req: Request) => string;
  /** Spends one download of `address`: 0 if allowed, else the ms to wait. */
  readonly takeDownload: (address: string) => Promise<number> | number;
  /** The authenticated device of a request that passed `requireAuth`. */
  readonly deviceOf: (res: Response) => AuthenticatedDevice;
};

/** Parses an attachment id from a path segment: NOT_FOUND for anything that is not one. */
function parseId(text: unknown): Uint8Array {
  if (typeof text !== 'string' || text.length !== 22) throw new RelayError('NOT_FOUND', 'no such attachment');
  try {
    const id = fromBase64Url(text);
    if (id.length === ATTACHMENT_ID_LENGTH) return id;
  } catch {
    // fall through
  }
  throw new RelayError('NOT_FOUND', 'no such attachment');
}

const DECIMAL = /^[0-9]{1,16}$/;

export class AttachmentService {
  readonly directory: string;
  readonly #ctx: RelayContext;
  readonly #options: AttachmentServiceOptions;
  readonly #files: FileStore;
  readonly #tus: TusServer;

  constructor(ctx: RelayContext, options: AttachmentServiceOptions) {
    this.#ctx = ctx;
    this.#options = options;
    this.directory = options.directory !== undefined ? path.resolve(options.directory) : path.join(options.dataDir, ATTACHMENTS_DIR);
    this.#files = new FileStore({ directory: this.directory });
    this.#tus = new TusServer({
      path: ATTACHMENTS_PATH,
      datastore: this.#files,
      relativeLocation: true,
      maxSize: options.limits.maxBytes,
      respectForwardedHeaders: false,
      ...(options.locker && { locker: options.locker }),
      // Runs before the 204 of the PATCH that completed the upload: the record is complete (and
      // durable) before the client can announce the attachment.
      onUploadFinish: async (_req, upload) => {
        const id = fromBase64Url(upload.id);
        if (await ctx.store.completeAttachment(id, ctx.clock() + options.limits.retentionMs)) {
          ctx.metrics.attachmentUploadsCompleted.inc();
        }
        return {};
      },
    });
  }

  /** Creates the blob directory (mode 0700). */
  async init(): Promise<void> {
    await mkdir(this.directory, { recursive: true, mode: 0o700 });
  }

  /** What /.well-known/parley announces. */
  announce(): AttachmentLimits {
    const l = this.#options.limits;
    return {
      path: ATTACHMENTS_PATH,
      tusVersion: TUS_VERSION,
      maxBytes: l.maxBytes,
      quotaBytes: l.quotaBytes,
      maxConcurrentUploads: l.maxConcurrentUploads,
      retentionMs: l.retentionMs,
      partialUploadMaxAgeMs: l.partialUploadMaxAgeMs,
    };
  }

  /** The routes under ATTACHMENTS_PATH; `requireAuth` authenticates the session token. */
  router(requireAuth: RequestHandler): express.Router {
    const router = express.Router();
    router.post(ATTACHMENTS_PATH, requireAuth, (req, res) => this.#create(req, res));
    const tus: RequestHandler = async (req, res) => {
      await this.#checkOwner(req, res);
      await this.#tus.handle(req, res);
    };
    // HEAD before GET: Express answers HEAD with a GET route registered earlier.
    router.head(`${ATTACHMENTS_PATH}/:id`, requireAuth, tus);
    router.get(`${ATTACHMENTS_PATH}/:id`, (req, res) => this.#download(req, res));
    router.patch(`${ATTACHMENTS_PATH}/:id`, requireAuth, tus);
    router.delete(`${ATTACHMENTS_PATH}/:id`, requireAuth, async (req, res) => {
      const id = await this.#checkOwner(req, res);
      // The record first: the quota is free at once, and a crash before the files go leaves an
      // orphan the sweep removes — never a record without its bytes.
      await this.#ctx.store.deleteAttachment(id);
      this.#ctx.metrics.attachmentUploadsTerminated.inc();
      await this.#tus.handle(req, res);
    });
    return router;
  }

  #tusVersion(req: Request): void {
    if (req.get('tus-resumable') !== TUS_VERSION) throw new RelayError('MALFORMED', `Tus-Resumable: ${TUS_VERSION} is required`);
  }

  async #create(req: Request, res: Response): Promise<void> {
    this.#tusVersion(req);
    const limits = this.#options.limits;
    if (req.get('upload-defer-length') !== undefined) throw new RelayError('MALFORMED', 'an upload must declare its length');
    if (req.get('upload-metadata') !== undefined) throw new RelayError('MALFORMED', 'the relay takes no upload metadata');
    const contentLength = req.get('content-length');
    if (contentLength !== undefined && contentLength !== '0') throw new RelayError('MALFORMED', 'creation carries no data');
    const lengthText = req.get('upload-length') ?? '';
    if (!DECIMAL.test(lengthText)) throw new RelayError('MALFORMED', 'Upload-Length is required');
    const length = Number(lengthText);
    if (length > limits.maxBytes) throw new RelayError('ATTACHMENT_TOO_LARGE', `an attachment is at most ${limits.maxBytes} bytes`);
    if (layoutFromCiphertextLength(length) === undefined) throw new RelayError('MALFORMED', 'not the length of an attachment ciphertext');
    const device = this.#options.deviceOf(res);
    const id = this.#ctx.rng(ATTACHMENT_ID_LENGTH);
    const now = this.#ctx.clock();
    const created = await this.#ctx.store.createAttachment({
      attachmentId: id,
      accountId: device.accountId,
      length,
      now,
      expiresAt: now + limits.partialUploadMaxAgeMs,
      maxUploading: limits.maxConcurrentUploads,
      quotaBytes: limits.quotaBytes,
    });
    if (created.status === 'too-many-uploads') {
      throw new RelayError('TOO_MANY_UPLOADS', `at most ${limits.maxConcurrentUploads} unfinished uploads per account`);
    }
    if (created.status === 'quota-exceeded') throw new RelayError('QUOTA_EXCEEDED', 'the account has no room for this attachment');
    const name = toBase64Url(id);
    try {
      await this.#files.create(new Upload({ id: name, size: length, offset: 0, creation_date: new Date(now).toISOString() }));
    } catch (e) {
      await this.#ctx.store.deleteAttachment(id);
      throw e;
    }
    this.#ctx.metrics.attachmentUploadsCreated.inc();
    res.status(201).set({ 'Tus-Resumable': TUS_VERSION, Location: `${ATTACHMENTS_PATH}/${name}`, 'Cache-Control': 'no-store' }).end();
  }

  /** The record of the attachment in the path, if the authenticated account uploaded it (NOT_FOUND otherwise). */
  async #checkOwner(req: Request, res: Response): Promise<Uint8Array> {
    this.#tusVersion(req);
    const id = parseId(req.params.id);
    const record = await this.#ctx.store.getAttachment(id);
    // Someone else's attachment looks exactly like none at all.
    if (!record || !bytesEqual(record.accountId, this.#options.deviceOf(res).accountId)) {
      throw new RelayError('NOT_FOUND', 'no such attachment');
    }
    if (record.state === 'expired' || record.expiresAt <= this.#ctx.clock()) throw new RelayError('ATTACHMENT_EXPIRED', 'the attachment has expired');
    return id;
  }

  async #download(req: Request, res: Response): Promise<void> {
    const wait = await this.#options.takeDownload(this.#options.addressOf(req));
    if (wait) throw rateLimited(wait, 'downloads from this address');
    const id = parseId(req.params.id);
    const record = await this.#ctx.store.getAttachment(id);
    if (!record || record.state === 'uploading') throw new RelayError('NOT_FOUND', 'no such attachment');
    if (record.state === 'expired' || record.expiresAt <= this.#ctx.clock()) throw new RelayError('ATTACHMENT_EXPIRED', 'the attachment has expired');
    const length = record.length;
    let start = 0;
    let end = length - 1;
    let partial = false;
    const range = req.get('range');
    // One range of the forms `bytes=a-` and `bytes=a-b`; anything else is ignored (RFC 9110 §14.2).
    const match = range === undefined ? null : /^bytes=([0-9]{1,16})-([0-9]{0,16})$/.exec(range);
    if (match) {
      start = Number(match[1]);
      if (match[2] !== '') end = Math.min(end, Number(match[2]));
      if (start >= length || start > end) {
        res.status(416).set({ 'Content-Range': `bytes */${length}`, 'Cache-Control': 'no-store' }).end();
        return;
      }
      partial = true;
    }
    const file = path.join(this.directory, toBase64Url(id));
    const stream = createReadStream(file, { start, end, highWaterMark: 1024 * 1024 });
    // Open before answering, so a missing file is an error reply rather than a cut response.
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
      this.#ctx.metrics.attachmentBytesServed.inc(end - start + 1);
    } catch {
      // The client went away; nothing to answer.
      stream.destroy();
    }
  }

  /** Expiry: drops what outlived its life, then files without a live record. */
  async sweep(): Promise<AttachmentSweepResult> {
    const now = this.#ctx.clock();
    const limits = this.#options.limits;
    const result = await this.#ctx.store.expireAttachments({ now, tombstoneCutoff: now - limits.tombstoneMs, batchSize: SWEEP_BATCH_SIZE });
    for (const id of result.files) await this.#removeFiles(toBase64Url(id));
    const orphans = await this.#removeOrphans();
    const metrics = this.#ctx.metrics;
    metrics.attachmentSweeps.inc();
    metrics.attachmentsSwept.inc({ kind: 'partial' }, result.partial);
    metrics.attachmentsSwept.inc({ kind: 'expired' }, result.expired);
    metrics.attachmentsSwept.inc({ kind: 'orphan' }, orphans);
    return { partial: result.partial, expired: result.expired, orphans };
  }

  /** The bytes and tus's record of one upload, whichever of the two exists. */
  async #removeFiles(name: string): Promise<void> {
    await rm(path.join(this.directory, name), { force: true });
    await rm(path.join(this.directory, `${name}.json`), { force: true });
  }

  async #removeOrphans(): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.directory);
    } catch {
      return 0;
    }
    const ids = new Map<string, Uint8Array>();
    for (const name of names) {
      const base = name.endsWith('.json') ? name.slice(0, -5) : name;
      try {
        const id = fromBase64Url(base);
        if (id.length === ATTACHMENT_ID_LENGTH) ids.set(base, id);
      } catch {
        // not ours
      }
    }
    if (ids.size === 0) return 0;
    const live = new Set((await this.#ctx.store.liveAttachments([...ids.values()])).map(toBase64Url));
    let removed = 0;
    for (const name of ids.keys()) {
      if (live.has(name)) continue;
      await this.#removeFiles(name);
      removed++;
    }
    return removed;
  }
}
