/**
 * The engine's side of the relay's backup endpoints (shared/wire/backup.ts, docs/protocol.md §25.8):
 * a single-use challenge, then one signed request — upload a blob file, download it into a file,
 * or delete it. The relay id in each challenge must be the one this account pinned (a relay that
 * answers with another is refused before anything is signed); a restore, which has no pin yet, pins
 * the relay's `/.well-known/parley` id first. Every failure is a RelayClientError (the relay's code,
 * NETWORK, TIMEOUT, BAD_RESPONSE, INSECURE_TRANSPORT). Nothing here knows an account or a session.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { bytesEqual, toBase64Url } from '../../../shared/crypto/bytes.js';
import type { Clock } from '../../../shared/crypto/random.js';
import { signBackupRequest, type BackupKeys, type BackupOperationName } from '../../../shared/protocol/backup.js';
import { BackupChallengeResponseSchema, BACKUPS_PATH, encodeBackupAuthorization } from '../../../shared/wire/backup.js';
import { ErrorBodySchema } from '../../../shared/wire/errors.js';
import { RelayClientError } from '../relay/errors.js';
import { checkRelayTransport } from '../relay/rest.js';

export type BackupRelay = {
  readonly baseUrl: string;
  /** The relay id this account pinned; requests naming another are refused. */
  readonly relayId: Uint8Array;
  readonly keys: BackupKeys;
  readonly clock: Clock;
  readonly timeoutMs?: number;
};

const DEFAULT_TIMEOUT_MS = 30_000;

async function failure(response: Response): Promise<RelayClientError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const parsed = ErrorBodySchema.safeParse(body);
  if (!parsed.success) return new RelayClientError('BAD_RESPONSE', `relay answered ${response.status} without an error body`, { status: response.status });
  return new RelayClientError(parsed.data.error.code, parsed.data.error.message, { status: response.status });
}

async function call(input: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(input, init);
  } catch (e) {
    // The caller cancelled (not a timeout): its own error, which it maps.
    if (init.signal?.aborted && (init.signal.reason as { name?: string } | undefined)?.name !== 'TimeoutError') throw e;
    const timeout = e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError');
    throw new RelayClientError(timeout ? 'TIMEOUT' : 'NETWORK', timeout ? 'relay request timed out' : 'relay unreachable');
  }
}

function urlOf(r: BackupRelay): string {
  return new URL(`${BACKUPS_PATH}/${toBase64Url(r.keys.backupId)}`, r.baseUrl).href;
}

/** A challenge from the relay, signed for `operation`: the Authorization header of one request. */
async function signed(r: BackupRelay, operation: BackupOperationName): Promise<string> {
  checkRelayTransport(r.baseUrl);
  const response = await call(new URL(`${BACKUPS_PATH}/challenge`, r.baseUrl).href, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ backupId: toBase64Url(r.keys.backupId) }),
    signal: AbortSignal.timeout(r.timeoutMs ?? DEFAULT_TIMEOUT_MS),
  });
  if (!response.ok) throw await failure(response);
  const parsed = BackupChallengeResponseSchema.safeParse(await response.json().catch(() => undefined));
  if (!parsed.success) throw new RelayClientError('BAD_RESPONSE', 'unexpected answer to a backup challenge', { status: response.status });
  if (!bytesEqual(parsed.data.relayId, r.relayId)) throw new RelayClientError('BAD_RESPONSE', 'the relay named another relay id than the one pinned');
  const time = r.clock();
  const signature = signBackupRequest(r.keys, r.relayId, parsed.data.nonce, time, operation);
  return encodeBackupAuthorization({ authPublicKey: r.keys.authPublicKey, nonce: parsed.data.nonce, time, signature });
}

/** Uploads the blob file as the current backup of this recovery key. `onBytes` reports bytes sent. */
export async function uploadBackup(r: BackupRelay, file: string, o: { signal?: AbortSignal; onBytes?: (n: number) => void } = {}): Promise<void> {
  const authorization = await signed(r, 'put');
  const size = (await stat(file)).size;
  let sent = 0;
  const source = createReadStream(file, { highWaterMark: 1 << 20 });
  source.on('data', (chunk) => {
    sent += chunk.length;
    o.onBytes?.(sent);
  });
  const response = await call(urlOf(r), {
    method: 'PUT',
    headers: { authorization, 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body: Readable.toWeb(source) as ReadableStream<Uint8Array>,
    duplex: 'half',
    ...(o.signal && { signal: o.signal }),
  } as RequestInit);
  if (!response.ok) throw await failure(response);
}

/** Downloads the current backup of this recovery key into `file`; returns its length. */
export async function downloadBackup(r: BackupRelay, file: string, o: { signal?: AbortSignal; onBytes?: (n: number, total: number | null) => void } = {}): Promise<number> {
  const authorization = await signed(r, 'get');
  const response = await call(urlOf(r), { headers: { authorization }, ...(o.signal && { signal: o.signal }) });
  if (!response.ok || !response.body) throw await failure(response);
  const total = Number(response.headers.get('content-length') ?? NaN);
  let received = 0;
  const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
  body.on('data', (chunk: Buffer) => {
    received += chunk.length;
    o.onBytes?.(received, Number.isFinite(total) ? total : null);
  });
  await pipeline(body, createWriteStream(file, { mode: 0o600 }));
  if (Number.isFinite(total) && received !== total) throw new RelayClientError('NETWORK', 'the backup download ended early');
  return received;
}

/** Deletes the relay's copy (turning backups off); NOT_FOUND when there is none. */
export async function deleteRelayBackup(r: BackupRelay): Promise<void> {
  const authorization = await signed(r, 'delete');
  const response = await call(urlOf(r), { method: 'DELETE', headers: { authorization }, signal: AbortSignal.timeout(r.timeoutMs ?? DEFAULT_TIMEOUT_MS) });
  if (!response.ok) throw await failure(response);
}
