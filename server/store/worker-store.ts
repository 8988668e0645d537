/**
 * The SQLite store on its own thread: a RelayStore whose every call is posted to a worker
 * (sqlite-worker.ts) running the real store. The relay's event loop then spends no time in SQLite or
 * in Kysely, and the two threads use two cores; with the group committer, a whole batch of sends and
 * acks is one message each way. Arguments and results are structured-cloned; for committed envelopes
 * the proxy hands back the caller's own content arrays (the clones the worker saw are dropped), so
 * live delivery can reuse what the caller knows about them.
 *
 * If the worker dies, every pending and later call fails: the relay answers UNAVAILABLE/INTERNAL
 * rather than pretending to store anything. Does not own SQL (kysely-store.ts) or setup (sqlite.ts).
 */
import { Worker } from 'node:worker_threads';
import { StoreLockedError, type SqliteSynchronous } from './sqlite.js';
import type {
  AccountRecord,
  AckItem,
  ClaimedBundle,
  CreateAccountInput,
  DeviceKeys,
  DeviceRecord,
  PrekeyCountsRecord,
  PrekeySet,
  RelayStore,
  RemovedDevice,
  SendItem,
  SendOutcome,
  StoredEnvelope,
  SweepResult,
} from './store.js';
import type { StoreMethod, WorkerError, WorkerHello, WorkerReply } from './worker-protocol.js';

/** The compiled worker entry, next to this module in dist/. */
export const DEFAULT_WORKER_SCRIPT = new URL('./sqlite-worker.js', import.meta.url);

function revive(error: WorkerError): Error {
  if (error.name === 'StoreLockedError') return new StoreLockedError(error.message);
  const e = new Error(error.message);
  e.name = error.name;
  return e;
}

export class WorkerRelayStore implements RelayStore {
  readonly backend = 'sqlite' as const;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void }>();
  private nextId = 1;
  private failure: Error | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.ok) p.resolve(reply.result);
      else p.reject(revive(reply.error));
    });
    const fail = (e: Error): void => {
      this.failure ??= e;
      for (const p of this.pending.values()) p.reject(this.failure);
      this.pending.clear();
    };
    worker.on('error', (e) => fail(e));
    worker.on('exit', (code) => fail(new Error(`store worker exited (${code})`)));
  }

  static async open(
    file: string,
    options: { readonly synchronous?: SqliteSynchronous; readonly workerScript?: URL } = {},
  ): Promise<WorkerRelayStore> {
    const worker = new Worker(options.workerScript ?? DEFAULT_WORKER_SCRIPT, {
      workerData: { file, synchronous: options.synchronous ?? 'NORMAL' },
    });
    const hello = await new Promise<WorkerHello>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`store worker exited (${code}) before opening the database`)));
    });
    if (!hello.ready) {
      await worker.terminate();
      throw revive(hello.error);
    }
    return new WorkerRelayStore(worker);
  }

  private call<T>(method: StoreMethod, ...args: unknown[]): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, method, args });
    });
  }

  migrate(): Promise<void> {
    return this.call('migrate');
  }

  async close(): Promise<void> {
    if (!this.failure) await this.call('close');
    this.failure ??= new Error('store closed');
    await this.worker.terminate();
  }

  createAccount(input: CreateAccountInput) {
    return this.call<{ status: 'created'; deviceKey: number } | { status: 'username-taken' | 'account-exists' }>('createAccount', input);
  }
  getAccount(accountId: Uint8Array) {
    return this.call<AccountRecord | undefined>('getAccount', accountId);
  }
  getAccountByUsername(username: string) {
    return this.call<AccountRecord | undefined>('getAccountByUsername', username);
  }
  replaceDeviceList(input: {
    readonly accountId: Uint8Array;
    readonly expectedVersion: number;
    readonly deviceList: Uint8Array;
    readonly version: number;
    readonly devices: readonly DeviceKeys[];
    readonly now: number;
  }) {
    return this.call<{ status: 'replaced'; removed: RemovedDevice[] } | { status: 'conflict' }>('replaceDeviceList', input);
  }
  unregisterDevice(deviceKey: number) {
    return this.call<RemovedDevice | undefined>('unregisterDevice', deviceKey);
  }
  deleteAccount(input: { readonly accountId: Uint8Array; readonly now: number; readonly usernameAvailableAt: number }) {
    return this.call<{ removed: RemovedDevice[] } | undefined>('deleteAccount', input);
  }
  setPresenceVisible(accountId: Uint8Array, visible: boolean) {
    return this.call<void>('setPresenceVisible', accountId, visible);
  }
  getDevice(accountId: Uint8Array, deviceId: number) {
    return this.call<DeviceRecord | undefined>('getDevice', accountId, deviceId);
  }
  listDevices(accountId: Uint8Array) {
    return this.call<DeviceRecord[]>('listDevices', accountId);
  }
  putChallenge(challenge: { readonly nonce: Uint8Array; readonly accountId: Uint8Array; readonly deviceId: number; readonly expiresAt: number }) {
    return this.call<void>('putChallenge', challenge);
  }
  takeChallenge(nonce: Uint8Array) {
    return this.call<{ accountId: Uint8Array; deviceId: number; expiresAt: number } | undefined>('takeChallenge', nonce);
  }
  putSession(session: { readonly tokenId: Uint8Array; readonly secretHash: Uint8Array; readonly deviceKey: number; readonly expiresAt: number }) {
    return this.call<void>('putSession', session);
  }
  getSession(tokenId: Uint8Array) {
    return this.call<{ secretHash: Uint8Array; expiresAt: number; device: DeviceRecord } | undefined>('getSession', tokenId);
  }
  storePrekeys(deviceKey: number, prekeys: PrekeySet) {
    return this.call<void>('storePrekeys', deviceKey, prekeys);
  }
  prekeyCounts(deviceKey: number) {
    return this.call<PrekeyCountsRecord>('prekeyCounts', deviceKey);
  }
  claimBundles(accountId: Uint8Array, deviceId?: number) {
    return this.call<ClaimedBundle[]>('claimBundles', accountId, deviceId);
  }

  /** Answered by the worker once the batch is durable, so `durable` is already settled. */
  async commitBatch(batch: { readonly sends: readonly SendItem[]; readonly acks: readonly AckItem[]; readonly now: number }) {
    const result = await this.call<{ sends: SendOutcome[]; acked: number }>('commitBatch', batch);
    const sends = result.sends.map((outcome, i): SendOutcome => {
      if (outcome.status !== 'committed') return outcome;
      const messages = batch.sends[i]!.messages;
      // Deliveries come in message order: give each envelope the caller's content array back.
      return {
        status: 'committed',
        deliveries: outcome.deliveries.map((d, j): { deviceKey: number; envelope: StoredEnvelope } => ({
          deviceKey: d.deviceKey,
          envelope: { ...d.envelope, content: messages[j]!.content },
        })),
      };
    });
    return { sends, acked: result.acked, durable: Promise.resolve() };
  }

  readMailbox(deviceKey: number, afterSeq: number, limit: number) {
    return this.call<{ nextSeq: number | undefined; envelopes: StoredEnvelope[] }>('readMailbox', deviceKey, afterSeq, limit);
  }
  countEnvelopes() {
    return this.call<number>('countEnvelopes');
  }
  replaceContacts(owner: Uint8Array, contacts: readonly Uint8Array[]) {
    return this.call<void>('replaceContacts', owner, contacts);
  }
  getContacts(owner: Uint8Array) {
    return this.call<Uint8Array[]>('getContacts', owner);
  }
  mutualContacts(owner: Uint8Array, options: { readonly among?: readonly Uint8Array[]; readonly visibleOnly: boolean }) {
    return this.call<Uint8Array[]>('mutualContacts', owner, options);
  }
  sweep(input: { readonly now: number; readonly mailboxCutoff: number; readonly batchSize: number }) {
    return this.call<SweepResult>('sweep', input);
  }
}
