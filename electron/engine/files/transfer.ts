/**
 * Resumable transfers of attachment ciphertext between the engine and the relay (issue 13;
 * docs/adr/0015-attachment-blobs.md): uploads with the tus protocol 1.0.0 (creation, core,
 * termination) that read the spool, downloads with HTTP range requests into a file of the engine's.
 * Both survive a relay restart, a lost connection and an app restart: an upload keeps its upload URL
 * in a state store the caller provides (the engine's database; a file in tests) and asks the relay for
 * the last committed offset (tus HEAD) before it sends more; a download continues from the size of
 * its partial file. Neither ever starts over from zero while the relay still holds the partial upload.
 *
 * Owns the tus and range exchanges, retries with jittered backoff, byte counts, and the mapping of
 * relay answers onto TransferError codes (the relay's wire codes, e.g. ATTACHMENT_TOO_LARGE,
 * QUOTA_EXCEEDED, ATTACHMENT_EXPIRED, plus the client's own). Does not own encryption (the spool is
 * ciphertext already, file-cipher.ts), session tokens (a callback), or where states and files live.
 * Downloads carry no Authorization header and no cookie: an attachment id is all they name.
 */
import { createReadStream } from 'node:fs';
import { open, rename, stat, truncate, type FileHandle } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Transform, type Readable } from 'node:stream';
import { fromBase64Url, toBase64Url } from '../../../shared/crypto/bytes.js';
import { systemRng, type Rng } from '../../../shared/crypto/random.js';
import { ATTACHMENT_ID_LENGTH, ATTACHMENTS_PATH, TUS_VERSION } from '../../../shared/wire/attachments.js';
import { ErrorBodySchema } from '../../../shared/wire/errors.js';
import { backoffDelay, DEFAULT_BACKOFF, type BackoffOptions } from '../relay/socket.js';
import { TransferError, transferIoError, type TransferErrorCode } from './errors.js';

/** Bytes per PATCH: what a relay restart can cost again at most (plus what the relay had not written yet). */
export const DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024;
/** Consecutive failed attempts (no byte committed in between) before a transfer gives up for now. */
export const DEFAULT_MAX_ATTEMPTS = 8;
/** A download is written to its file in pieces of about this size. */
const WRITE_BYTES = 1024 * 1024;
/** A request that sends or receives nothing for this long is abandoned and retried. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

export type RetryOptions = {
  readonly maxAttempts: number;
  readonly backoff: BackoffOptions;
  readonly rng: Rng;
};

const DEFAULT_RETRY: RetryOptions = { maxAttempts: DEFAULT_MAX_ATTEMPTS, backoff: DEFAULT_BACKOFF, rng: systemRng };

/** Where an upload in progress is remembered across restarts (the engine keeps it in its database). */
export type UploadState = {
  /** The tus upload URL the relay created (absolute; for the record — requests go to the relay's current address). */
  readonly uploadUrl: string;
  /** base64url of the 16-byte attachment id (the last path segment of the URL). */
  readonly attachmentId: string;
  /** The last offset the relay confirmed (informational: a resume asks the relay again). */
  readonly offset: number;
};

export type UploadStateStore = {
  load(): Promise<UploadState | undefined>;
  save(state: UploadState): Promise<void>;
  clear(): Promise<void>;
};

export type TransferStats = {
  /** Ciphertext bytes put on the wire (uploads) or received (downloads), counting repeats. */
  readonly bytes: number;
  /** How many times the transfer resumed after a failure. */
  readonly resumes: number;
};

type Common = {
  /** Base URL of the relay: https, or http on a loopback address only (DESIGN §4). */
  readonly relayUrl: string;
  readonly signal?: AbortSignal | undefined;
  /** Committed (uploads) or received (downloads) bytes and the total. */
  readonly onProgress?: ((bytes: number, total: number) => void) | undefined;
  readonly retry?: Partial<RetryOptions> | undefined;
  readonly idleTimeoutMs?: number | undefined;
};

export type UploadOptions = Common & {
  readonly spoolPath: string;
  /** The spool's size: the ciphertext length. */
  readonly length: number;
  /** A current session token (base64url), fetched anew for each request. */
  readonly sessionToken: () => Promise<string>;
  readonly state: UploadStateStore;
  readonly chunkBytes?: number | undefined;
};

export type DownloadOptions = Common & {
  readonly attachmentId: Uint8Array;
  /** The ciphertext length the E2E message announced; a relay answering another size is refused. */
  readonly length: number;
  /** Where the ciphertext goes; `<destination>.partial` holds it until it is complete. */
  readonly destination: string;
};

// ── Plumbing ──────────────────────────────────────────────────────────────────

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** https, or http on a loopback address: the engine never sends ciphertext to a relay in clear elsewhere. */
export function checkRelayUrl(relayUrl: string): URL {
  let url: URL;
  try {
    url = new URL(relayUrl);
  } catch {
    throw new TransferError('INSECURE_URL', 'not an https URL');
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) return url;
  throw new TransferError('INSECURE_URL', 'the relay must be reached over https (plain http only on a loopback address)');
}

function cancelled(): TransferError {
  return new TransferError('CANCELLED', 'the transfer was cancelled');
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelled());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A signal that fires on the caller's abort or after `idleMs` without activity (`touch()` re-arms it). */
function idleSignal(parent: AbortSignal | undefined, idleMs: number): { signal: AbortSignal; touch: () => void; done: () => void } {
  const controller = new AbortController();
  let timer = setTimeout(() => controller.abort(new TransferError('NETWORK', 'the relay stopped answering')), idleMs);
  const onAbort = (): void => controller.abort(cancelled());
  if (parent?.aborted) onAbort();
  else parent?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: controller.signal,
    touch: () => {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new TransferError('NETWORK', 'the relay stopped answering')), idleMs);
    },
    done: () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onAbort);
    },
  };
}

/** Errors worth another attempt: the connection, the relay restarting or busy, an offset that moved. */
const TRANSIENT: ReadonlySet<TransferErrorCode> = new Set(['NETWORK', 'UNAVAILABLE', 'INTERNAL', 'RATE_LIMITED', 'OFFSET_CONFLICT']);

/** Maps a relay answer that is not a success onto a TransferError (JSON error bodies, or tus's plain ones). */
async function errorFrom(response: Answer): Promise<TransferError> {
  let text = '';
  try {
    text = await response.text();
  } catch {
    // the body is optional
  }
  let code: TransferErrorCode | undefined;
  let retryAfterMs: number | undefined;
  try {
    const parsed = ErrorBodySchema.safeParse(JSON.parse(text));
    if (parsed.success) {
      code = parsed.data.error.code;
      retryAfterMs = parsed.data.error.retryAfterMs;
    }
  } catch {
    // not JSON: a tus-level answer
  }
  if (code === undefined) {
    if (response.status === 404) code = 'NOT_FOUND';
    else if (response.status === 409) code = 'OFFSET_CONFLICT';
    else if (response.status === 410) code = 'ATTACHMENT_EXPIRED';
    else if (response.status === 413) code = 'ATTACHMENT_TOO_LARGE';
    else if (response.status === 429) code = 'RATE_LIMITED';
    else if (response.status >= 500) code = 'UNAVAILABLE';
    else code = 'BAD_RESPONSE';
  }
  return new TransferError(code, `the relay answered ${response.status}`, { status: response.status, retryAfterMs });
}

/** What the transfer code needs of an HTTP answer (node:http underneath: fetch's streams cost twice the CPU here). */
type Answer = {
  readonly status: number;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
  /** The body, consumed once: by text() or by iterating this. */
  readonly body: AsyncIterable<Buffer>;
  /** Drops the rest of the body (and the connection with it). */
  discard(): void;
};

type RequestInit = {
  readonly method: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** A request body streamed as it is read (PATCH). */
  readonly body?: Readable;
};

/**
 * One HTTP(S) exchange with node:http: no redirects, no cookies, no proxy; `signal` aborts it (its
 * reason, when a TransferError, is what the caller sees).
 */
function request(url: string | URL, init: RequestInit, signal: AbortSignal): Promise<Answer> {
  const target = typeof url === 'string' ? new URL(url) : url;
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Answer>((resolve, reject) => {
    const fail = (e: unknown): void => {
      if (signal.aborted && signal.reason instanceof TransferError) reject(signal.reason);
      else reject(e instanceof TransferError ? e : new TransferError('NETWORK', 'the relay could not be reached'));
    };
    if (signal.aborted) return fail(signal.reason);
    const req = send(target, { method: init.method, headers: init.headers, signal }, (res: IncomingMessage) => {
      const headers = {
        get: (name: string): string | null => {
          const value = res.headers[name.toLowerCase()];
          return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
        },
      };
      const status = res.statusCode ?? 0;
      resolve({
        status,
        ok: status >= 200 && status < 300,
        headers,
        body: res,
        discard: () => res.destroy(),
        text: async () => {
          let text = '';
          res.setEncoding('utf8');
          for await (const chunk of res) if (text.length < 64 * 1024) text += chunk as unknown as string;
          return text;
        },
      });
    });
    req.on('error', fail);
    if (init.body) {
      init.body.on('error', (e) => req.destroy(e));
      init.body.pipe(req);
    } else req.end();
  });
}

/**
 * Runs `attempt` until it completes, retrying transient failures with backoff; `progressed` (bytes
 * committed since the last call) resets the failure count, so a long transfer over a flaky link
 * keeps going as long as it moves.
 */
async function withRetries<T>(
  common: Common,
  attempt: (markProgress: () => void) => Promise<T>,
  onResume: () => void,
): Promise<T> {
  const retry = { ...DEFAULT_RETRY, ...common.retry };
  let failures = 0;
  for (;;) {
    if (common.signal?.aborted) throw cancelled();
    try {
      return await attempt(() => {
        failures = 0;
      });
    } catch (e) {
      const error = e instanceof TransferError ? e : new TransferError('NETWORK', 'the transfer failed');
      if (error.code === 'CANCELLED' || common.signal?.aborted) throw cancelled();
      if (!TRANSIENT.has(error.code) || ++failures >= retry.maxAttempts) throw error;
      onResume();
      const wait = Math.max(error.details.retryAfterMs ?? 0, backoffDelay(failures - 1, retry.backoff, retry.rng));
      await sleep(wait, common.signal);
    }
  }
}

// ── Uploads (tus 1.0.0) ───────────────────────────────────────────────────────

function tusHeaders(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { 'tus-resumable': TUS_VERSION, authorization: `Bearer ${token}`, ...extra };
}

function attachmentIdOf(uploadUrl: URL): string {
  const id = uploadUrl.pathname.slice(uploadUrl.pathname.lastIndexOf('/') + 1);
  let raw: Uint8Array;
  try {
    raw = fromBase64Url(id);
  } catch {
    throw new TransferError('BAD_RESPONSE', 'the relay answered an upload URL without an attachment id');
  }
  if (raw.length !== ATTACHMENT_ID_LENGTH) throw new TransferError('BAD_RESPONSE', 'the relay answered an attachment id of the wrong size');
  return id;
}

/** An upload's URL at the relay's current address (a relay may move between an upload's start and its resume). */
function uploadUrlOf(base: URL, state: UploadState): URL {
  return new URL(`${ATTACHMENTS_PATH}/${state.attachmentId}`, base);
}

function headerInt(response: Answer, name: string): number {
  const text = response.headers.get(name);
  if (text === null || !/^[0-9]{1,16}$/.test(text)) throw new TransferError('BAD_RESPONSE', `the relay answered without a valid ${name}`);
  return Number(text);
}

/**
 * Uploads the spool: creates the upload (or takes up the one in `state`), then sends it in chunks
 * of `chunkBytes`, each from the offset the relay last confirmed. Resolves with the attachment id
 * once the relay holds every byte; the state is cleared then.
 */
export async function uploadSpool(options: UploadOptions): Promise<{ readonly attachmentId: Uint8Array } & TransferStats> {
  const base = checkRelayUrl(options.relayUrl);
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  let sent = 0;
  let resumes = 0;
  let state = await options.state.load();
  const urlOf = (s: UploadState): URL => uploadUrlOf(base, s);

  const create = async (): Promise<UploadState> => {
    const idle = idleSignal(options.signal, idleMs);
    try {
      const response = await request(
        new URL(ATTACHMENTS_PATH, base),
        { method: 'POST', headers: tusHeaders(await options.sessionToken(), { 'upload-length': String(options.length) }) },
        idle.signal,
      );
      if (response.status !== 201) throw await errorFrom(response);
      const location = response.headers.get('location');
      if (!location) throw new TransferError('BAD_RESPONSE', 'the relay created an upload without a location');
      const uploadUrl = new URL(location, base);
      if (uploadUrl.origin !== base.origin) throw new TransferError('BAD_RESPONSE', 'the relay answered an upload URL elsewhere');
      return { uploadUrl: uploadUrl.href, attachmentId: attachmentIdOf(uploadUrl), offset: 0 };
    } finally {
      idle.done();
    }
  };

  /** The relay's committed offset, or undefined if it no longer holds the upload. */
  const committedOffset = async (s: UploadState): Promise<number | undefined> => {
    const idle = idleSignal(options.signal, idleMs);
    try {
      const response = await request(urlOf(s), { method: 'HEAD', headers: tusHeaders(await options.sessionToken()) }, idle.signal);
      if (response.status === 404 || response.status === 410) return undefined;
      if (!response.ok) throw await errorFrom(response);
      if (headerInt(response, 'upload-length') !== options.length) return undefined;
      return headerInt(response, 'upload-offset');
    } finally {
      idle.done();
    }
  };

  const patch = async (s: UploadState, offset: number): Promise<number> => {
    const size = Math.min(chunkBytes, options.length - offset);
    const idle = idleSignal(options.signal, idleMs);
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        sent += chunk.length;
        idle.touch();
        callback(null, chunk);
      },
    });
    const source = createReadStream(options.spoolPath, { start: offset, end: offset + size - 1, highWaterMark: 1024 * 1024 });
    source.on('error', (e) => counter.destroy(e));
    try {
      const response = await request(
        urlOf(s),
        {
          method: 'PATCH',
          headers: tusHeaders(await options.sessionToken(), {
            'upload-offset': String(offset),
            'content-type': 'application/offset+octet-stream',
            'content-length': String(size),
          }),
          body: source.pipe(counter),
        },
        idle.signal,
      );
      if (response.status !== 204) throw await errorFrom(response);
      return headerInt(response, 'upload-offset');
    } finally {
      source.destroy();
      idle.done();
    }
  };

  await withRetries(
    options,
    async (progressed) => {
      let offset: number;
      if (state === undefined) {
        state = await create();
        await options.state.save(state);
        offset = 0;
      } else {
        const committed = await committedOffset(state);
        if (committed === undefined) {
          // The relay dropped it (discarded after 24 h, or cancelled elsewhere): a new upload of the same spool.
          state = undefined;
          await options.state.clear();
          throw new TransferError('OFFSET_CONFLICT', 'the relay no longer holds the upload');
        }
        offset = committed;
      }
      options.onProgress?.(offset, options.length);
      while (offset < options.length) {
        const next = await patch(state, offset);
        if (next <= offset || next > options.length) throw new TransferError('BAD_RESPONSE', 'the relay confirmed an impossible offset');
        offset = next;
        state = { ...state, offset };
        await options.state.save(state);
        progressed();
        options.onProgress?.(offset, options.length);
      }
    },
    () => resumes++,
  );
  const done = state!;
  await options.state.clear();
  return { attachmentId: fromBase64Url(done.attachmentId), bytes: sent, resumes };
}

/**
 * Cancels an upload: tus termination, so the relay deletes the partial upload at once. Forgets the
 * state whatever the relay answers about an upload it no longer holds.
 */
export async function cancelUpload(options: {
  readonly relayUrl: string;
  readonly state: UploadStateStore;
  readonly sessionToken: () => Promise<string>;
  readonly idleTimeoutMs?: number;
}): Promise<void> {
  const base = checkRelayUrl(options.relayUrl);
  const state = await options.state.load();
  if (state === undefined) return;
  const idle = idleSignal(undefined, options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
  try {
    const response = await request(uploadUrlOf(base, state), { method: 'DELETE', headers: tusHeaders(await options.sessionToken()) }, idle.signal);
    if (!response.ok && response.status !== 404 && response.status !== 410) throw await errorFrom(response);
  } finally {
    idle.done();
  }
  await options.state.clear();
}

// ── Downloads (HTTP range requests) ───────────────────────────────────────────

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw transferIoError('read the partial download', e);
  }
}

/**
 * Downloads an attachment's ciphertext into `destination`, resuming from `<destination>.partial`.
 * The file appears under its name only once it has exactly `length` bytes.
 */
export async function downloadAttachment(options: DownloadOptions): Promise<TransferStats> {
  const base = checkRelayUrl(options.relayUrl);
  if (options.attachmentId.length !== ATTACHMENT_ID_LENGTH) throw new RangeError('an attachment id is 16 bytes');
  const url = new URL(`${ATTACHMENTS_PATH}/${toBase64Url(options.attachmentId)}`, base);
  const partial = `${options.destination}.partial`;
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  let received = 0;
  let resumes = 0;

  await withRetries(
    options,
    async (progressed) => {
      let offset = await sizeOf(partial);
      if (offset > options.length) {
        await truncate(partial, 0);
        offset = 0;
      }
      options.onProgress?.(offset, options.length);
      if (offset === options.length) return;
      const idle = idleSignal(options.signal, idleMs);
      try {
        const response = await request(url, { method: 'GET', headers: offset > 0 ? { range: `bytes=${offset}-` } : {} }, idle.signal);
        if (response.status === 200) offset = 0;
        else if (response.status === 206) {
          const range = /^bytes ([0-9]+)-([0-9]+)\/([0-9]+)$/.exec(response.headers.get('content-range') ?? '');
          if (!range || Number(range[1]) !== offset) throw new TransferError('BAD_RESPONSE', 'the relay answered another range');
          if (Number(range[3]) !== options.length) throw new TransferError('SIZE_MISMATCH', 'the relay holds an attachment of another size');
        } else throw await errorFrom(response);
        if (response.status === 200 && headerInt(response, 'content-length') !== options.length) {
          throw new TransferError('SIZE_MISMATCH', 'the relay holds an attachment of another size');
        }
        // Pieces are gathered into writes of WRITE_BYTES, one write in flight while reading goes on,
        // and counted once written: whatever was counted is in the partial file, so an interrupted
        // download resumes exactly after the last byte it reported.
        let file: FileHandle;
        try {
          file = await open(partial, offset === 0 ? 'w' : 'r+', 0o600);
        } catch (e) {
          throw transferIoError('write the download', e);
        }
        let written = offset;
        let position = offset;
        let pending: Buffer[] = [];
        let pendingBytes = 0;
        let inflight: Promise<void> = Promise.resolve();
        const flush = (): void => {
          if (pendingBytes === 0) return;
          const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
          const at = position;
          position += data.length;
          pending = [];
          pendingBytes = 0;
          inflight = inflight.then(async () => {
            try {
              await file.write(data, 0, data.length, at);
            } catch (e) {
              throw transferIoError('write the download', e);
            }
            written += data.length;
            received += data.length;
            progressed();
            options.onProgress?.(written, options.length);
          });
        };
        try {
          const pieces = response.body[Symbol.asyncIterator]();
          for (;;) {
            const next = await pieces.next().catch(() => {
              if (idle.signal.aborted && idle.signal.reason instanceof TransferError) throw idle.signal.reason;
              throw new TransferError('NETWORK', 'the download was interrupted');
            });
            if (next.done === true) break;
            const piece: Buffer = next.value;
            idle.touch();
            if (position + pendingBytes + piece.length > options.length) {
              throw new TransferError('SIZE_MISMATCH', 'the relay sent more than the attachment holds');
            }
            pending.push(piece);
            pendingBytes += piece.length;
            if (pendingBytes >= WRITE_BYTES) {
              await inflight;
              flush();
            }
          }
        } finally {
          response.discard();
          // What arrived is kept, whatever ended the loop.
          flush();
          await inflight.finally(() => file.close());
        }
      } finally {
        idle.done();
      }
      if ((await sizeOf(partial)) !== options.length) throw new TransferError('NETWORK', 'the download ended early');
    },
    () => resumes++,
  );
  try {
    await rename(partial, options.destination);
  } catch (e) {
    throw transferIoError('finish the download', e);
  }
  return { bytes: received, resumes };
}
