/**
 * The prekey lifecycle (DESIGN §3.3) over this device's stores, with an injected clock:
 *  - the signed prekey and the last-resort ML-KEM prekey rotate every SIGNED_PREKEY_ROTATION_MS
 *    (7 days), and also when the current one claims to be from the future (the clock went back);
 *  - a replaced one keeps its private key OLD_PREKEY_RETENTION_MS (30 days, the relay's mailbox
 *    retention: a message built on it may still arrive) and is then erased, with its seen set;
 *  - one-time X25519 and ML-KEM prekeys are refilled to a full batch when fewer than
 *    ONE_TIME_PREKEY_REFILL_THRESHOLD (10) are left — as the relay reports, or counted locally;
 *  - one-time keys are erased on use (in the session commit, db/prekeys.ts), never here.
 * `planPrekeyMaintenance` is pure; `maintainPrekeys` generates what the plan asks for in slices that
 * yield to the event loop (ML-KEM key generation is the expensive part) and commits it in one
 * transaction. What it returns is what must be uploaded; uploading belongs to the relay client.
 */
import type { Clock, Rng } from '../../../shared/crypto/random.js';
import {
  MAX_CLOCK_SKEW_MS,
  OLD_PREKEY_RETENTION_MS,
  ONE_TIME_PREKEY_REFILL_THRESHOLD,
  SIGNED_PREKEY_ROTATION_MS,
} from '../../../shared/protocol/constants.js';
import {
  generateKemPrekey,
  generateOneTimePrekeys,
  generateSignedPrekey,
  type KemPrekeyPrivate,
  type KemPrekeyPublic,
  type OneTimePrekeyPrivate,
  type OneTimePrekeyPublic,
  type SignedPrekeyPrivate,
  type SignedPrekeyPublic,
} from '../../../shared/protocol/prekeys.js';
import type { LocalAccount } from '../db/account.js';
import type { WriteDb } from '../db/database.js';
import {
  allocatePrekeyIds,
  dropKemPrekey,
  dropSignedPrekey,
  insertKemPrekey,
  insertOneTimePrekeys,
  insertSignedPrekey,
  readPrekeyInventory,
  supersedeLastResortKemPrekey,
  supersedeSignedPrekey,
  type PrekeyInventory,
  type RotatingPrekeyInfo,
} from '../db/prekeys.js';

/** One-time X25519 prekeys generated per refill (and at account creation). */
export const ONE_TIME_PREKEY_BATCH = 100;
/** One-time ML-KEM prekeys generated per refill (and at account creation). */
export const KEM_ONE_TIME_PREKEY_BATCH = 100;
/** Keys generated between two yields to the event loop (10 ML-KEM keys ≈ 15 ms). */
const GENERATION_SLICE = 10;

export type PrekeyPlan = {
  readonly rotateSignedPrekey: boolean;
  readonly rotateLastResortKemPrekey: boolean;
  /** Replaced keys whose retention has ended: erase now. */
  readonly eraseSignedPrekeys: readonly number[];
  readonly eraseLastResortKemPrekeys: readonly number[];
  readonly oneTimePrekeys: number;
  readonly kemOneTimePrekeys: number;
};

/** One-time prekeys still available to initiators, as the relay reported them. */
export type AvailablePrekeys = { readonly oneTime: number; readonly kemOneTime: number };

function needsRotation(keys: readonly RotatingPrekeyInfo[], now: number): boolean {
  const active = keys.filter((k) => k.supersededAt === null);
  if (active.length === 0) return true;
  const newest = Math.max(...active.map((k) => k.createdAt));
  return now - newest >= SIGNED_PREKEY_ROTATION_MS || newest > now + MAX_CLOCK_SKEW_MS;
}

function expired(keys: readonly RotatingPrekeyInfo[], now: number): number[] {
  return keys.filter((k) => k.supersededAt !== null && now - k.supersededAt >= OLD_PREKEY_RETENTION_MS).map((k) => k.keyId);
}

function refill(count: number, batch: number): number {
  return count < ONE_TIME_PREKEY_REFILL_THRESHOLD ? batch - count : 0;
}

/** What maintenance is due at `now` (pure). */
export function planPrekeyMaintenance(inventory: PrekeyInventory, now: number, available?: AvailablePrekeys): PrekeyPlan {
  return {
    rotateSignedPrekey: needsRotation(inventory.signed, now),
    rotateLastResortKemPrekey: needsRotation(inventory.lastResortKem, now),
    eraseSignedPrekeys: expired(inventory.signed, now),
    eraseLastResortKemPrekeys: expired(inventory.lastResortKem, now),
    oneTimePrekeys: refill(available?.oneTime ?? inventory.oneTimeCount, ONE_TIME_PREKEY_BATCH),
    kemOneTimePrekeys: refill(available?.kemOneTime ?? inventory.kemOneTimeCount, KEM_ONE_TIME_PREKEY_BATCH),
  };
}

export function isPlanEmpty(p: PrekeyPlan): boolean {
  return (
    !p.rotateSignedPrekey &&
    !p.rotateLastResortKemPrekey &&
    p.eraseSignedPrekeys.length === 0 &&
    p.eraseLastResortKemPrekeys.length === 0 &&
    p.oneTimePrekeys === 0 &&
    p.kemOneTimePrekeys === 0
  );
}

/** Public parts of what was generated: the relay upload. */
export type PrekeyUploadParts = {
  readonly signedPrekey?: SignedPrekeyPublic | undefined;
  readonly lastResortKemPrekey?: KemPrekeyPublic | undefined;
  readonly oneTimePrekeys: readonly OneTimePrekeyPublic[];
  readonly kemOneTimePrekeys: readonly KemPrekeyPublic[];
};

export type PrekeyMaintenance = {
  readonly plan: PrekeyPlan;
  readonly upload: PrekeyUploadParts;
};

type Generated = {
  signed?: SignedPrekeyPrivate | undefined;
  lastResort?: KemPrekeyPrivate | undefined;
  oneTime: OneTimePrekeyPrivate[];
  kemOneTime: KemPrekeyPrivate[];
};

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Generates the keys a plan asks for, yielding between slices; ids are reserved first. */
async function generate(db: WriteDb, account: LocalAccount, plan: PrekeyPlan, rng: Rng, now: number): Promise<Generated> {
  const ids = db.transaction(() => ({
    signed: plan.rotateSignedPrekey ? allocatePrekeyIds(db, 'signed', 1) : 0,
    oneTime: plan.oneTimePrekeys > 0 ? allocatePrekeyIds(db, 'one-time', plan.oneTimePrekeys) : 0,
    kem: plan.rotateLastResortKemPrekey || plan.kemOneTimePrekeys > 0
      ? allocatePrekeyIds(db, 'kem', plan.kemOneTimePrekeys + (plan.rotateLastResortKemPrekey ? 1 : 0))
      : 0,
  }));
  const signing = account.identitySigning.privateKey;
  const out: Generated = { oneTime: [], kemOneTime: [] };
  if (plan.rotateSignedPrekey) out.signed = generateSignedPrekey(signing, ids.signed, { rng, now });
  let kemId = ids.kem;
  if (plan.rotateLastResortKemPrekey) out.lastResort = generateKemPrekey(signing, kemId++, true, { rng, now });
  if (plan.oneTimePrekeys > 0) out.oneTime = generateOneTimePrekeys(ids.oneTime, plan.oneTimePrekeys, rng);
  for (let done = 0; done < plan.kemOneTimePrekeys; done += GENERATION_SLICE) {
    await yieldToEventLoop();
    const n = Math.min(GENERATION_SLICE, plan.kemOneTimePrekeys - done);
    for (let i = 0; i < n; i++) out.kemOneTime.push(generateKemPrekey(signing, kemId++, false, { rng, now }));
  }
  return out;
}

/** Commits generated keys, rotations and erasures in one transaction. */
function commit(db: WriteDb, plan: PrekeyPlan, g: Generated, now: number): void {
  db.transaction(() => {
    if (g.signed) {
      for (const k of readPrekeyInventory(db).signed) if (k.supersededAt === null) supersedeSignedPrekey(db, k.keyId, now);
      insertSignedPrekey(db, g.signed);
    }
    if (g.lastResort) {
      for (const k of readPrekeyInventory(db).lastResortKem) if (k.supersededAt === null) supersedeLastResortKemPrekey(db, k.keyId, now);
      insertKemPrekey(db, g.lastResort);
    }
    insertOneTimePrekeys(db, g.oneTime, now);
    for (const k of g.kemOneTime) insertKemPrekey(db, k);
    for (const id of plan.eraseSignedPrekeys) dropSignedPrekey(db, id);
    for (const id of plan.eraseLastResortKemPrekeys) dropKemPrekey(db, id);
  });
}

function publicParts(g: Generated): PrekeyUploadParts {
  const kemPublic = (k: KemPrekeyPrivate): KemPrekeyPublic => ({
    keyId: k.keyId,
    publicKey: k.publicKey,
    createdAt: k.createdAt,
    lastResort: k.lastResort,
    signature: k.signature,
  });
  return {
    signedPrekey: g.signed && { keyId: g.signed.keyId, publicKey: g.signed.publicKey, createdAt: g.signed.createdAt, signature: g.signed.signature },
    lastResortKemPrekey: g.lastResort && kemPublic(g.lastResort),
    oneTimePrekeys: g.oneTime.map((k) => ({ keyId: k.keyId, publicKey: k.publicKey })),
    kemOneTimePrekeys: g.kemOneTime.map(kemPublic),
  };
}

/**
 * Runs the lifecycle once at `deps.now()`: plans, generates (yielding) and commits. Callers run one
 * maintenance at a time per device. `available` is the relay's count of one-time keys it still
 * holds; without it the local count is used.
 */
export async function maintainPrekeys(
  db: WriteDb,
  account: LocalAccount,
  deps: { readonly rng: Rng; readonly now: Clock },
  available?: AvailablePrekeys,
): Promise<PrekeyMaintenance> {
  const now = deps.now();
  const plan = planPrekeyMaintenance(readPrekeyInventory(db), now, available);
  if (isPlanEmpty(plan)) return { plan, upload: { oneTimePrekeys: [], kemOneTimePrekeys: [] } };
  const generated = await generate(db, account, plan, deps.rng, now);
  commit(db, plan, generated, now);
  return { plan, upload: publicParts(generated) };
}
