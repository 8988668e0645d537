/**
 * What `npm run kt` (server/transparency/cli.ts) prints, for auditors and operators (issue 19,
 * docs/protocol.md §26, ADR 0034): the current signed head, an inclusion proof for a leaf index, a
 * consistency proof between two tree sizes — from a running relay's public routes or from a stopped
 * relay's data dir — as JSON with every byte in hex (the leaf bytes and hashes included, so that any
 * RFC 9162 implementation can recompute them), each already checked here; and `verify`, which
 * re-checks such a JSON document without any relay.
 *
 * Owns the sources (HTTP, data dir) and the JSON shapes. Does not own proof generation (the relay's
 * TransparencyLog) or the checks (shared/protocol/transparency.ts).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { fromHex, toHex } from '../../shared/crypto/bytes.js';
import { isProtocolError, ProtocolError } from '../../shared/protocol/errors.js';
import {
  merkleLeafHash,
  parseKtLeaf,
  parseTreeHead,
  verifyConsistency,
  verifyInclusion,
  verifyTreeHead,
} from '../../shared/protocol/transparency.js';
import { ROUTES, WellKnownSchema, type RouteName } from '../../shared/wire/rest.js';
import { KtConsistencyResponseSchema, KtHeadResponseSchema, KtInclusionResponseSchema } from '../../shared/wire/transparency.js';
import { IDENTITY_FILE, loadOrCreateIdentity } from '../identity.js';
import { DATABASE_FILE } from '../relay.js';
import { openPostgresStore } from '../store/postgres.js';
import { openSqliteStore, StoreLockedError } from '../store/sqlite.js';
import type { RelayStore } from '../store/store.js';
import { TREE_HEAD_KEY_ID, TransparencyLog } from './log.js';

/** A failure the CLI reports as one line and exit code 1 (never a stack trace). */
export class AuditError extends Error {
  override readonly name = 'AuditError';
  constructor(
    readonly code: 'UNREACHABLE' | 'BAD_RESPONSE' | 'RELAY_ERROR' | 'NOT_A_DATA_DIR' | 'RELAY_RUNNING' | 'NOT_MIGRATED' | 'BAD_INPUT',
    message: string,
  ) {
    super(message);
  }
}

/** Where the log comes from. */
export type KtSource = {
  relay(): Promise<{ relayId: Uint8Array; treeHeadKey: Uint8Array; keyId: number }>;
  head(since: number): Promise<{ head: Uint8Array; consistency: Uint8Array[] }>;
  inclusion(index: number, size: number): Promise<{ leaf: Uint8Array; leafHash: Uint8Array; root: Uint8Array; proof: Uint8Array[] }>;
  consistency(from: number, to: number): Promise<{ root1: Uint8Array; root2: Uint8Array; proof: Uint8Array[] }>;
  close(): Promise<void>;
};

/** A running relay, through its public routes (no account needed). */
export function httpSource(url: string): KtSource {
  const base = url.endsWith('/') ? url : `${url}/`;
  const get = async <S extends z.ZodType>(route: RouteName, params: Record<string, string>, schema: S): Promise<z.output<S>> => {
    const p = ROUTES[route].path.replace(/:([A-Za-z]+)/g, (_, name: string) => encodeURIComponent(params[name] ?? ''));
    let response: Response;
    try {
      response = await fetch(new URL(p.replace(/^\//, ''), base), { signal: AbortSignal.timeout(30_000) });
    } catch {
      throw new AuditError('UNREACHABLE', `no answer from ${base}`);
    }
    const body: unknown = await response.json().catch(() => undefined);
    if (!response.ok) {
      const error = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new AuditError('RELAY_ERROR', `the relay answered ${response.status}${error?.code ? ` ${error.code}: ${error.message ?? ''}` : ''}`);
    }
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new AuditError('BAD_RESPONSE', `unexpected answer to ${route}`);
    return parsed.data;
  };
  return {
    async relay() {
      const known = await get('wellKnown', {}, WellKnownSchema);
      if (!known.transparency) throw new AuditError('BAD_RESPONSE', 'this relay announces no key-transparency log');
      return { relayId: known.relayId, treeHeadKey: known.treeHeadKey, keyId: known.transparency.treeHeadKeyId };
    },
    head: (since) => get('ktHead', { since: String(since) }, KtHeadResponseSchema),
    inclusion: (index, size) => get('ktInclusion', { index: String(index), size: String(size) }, KtInclusionResponseSchema),
    consistency: (from, to) => get('ktConsistency', { from: String(from), to: String(to) }, KtConsistencyResponseSchema),
    close: async () => {},
  };
}

/**
 * A relay's data dir, read while the relay is stopped (SQLite holds it exclusively while the relay
 * runs), or with `postgresUrl` the relay's PostgreSQL database. Heads are signed with the relay's
 * own tree-head key from the data dir's identity file. Never creates or migrates anything.
 */
export async function dataDirSource(dataDir: string, postgresUrl?: string): Promise<KtSource> {
  const identityFile = path.join(dataDir, IDENTITY_FILE);
  if (!existsSync(identityFile)) throw new AuditError('NOT_A_DATA_DIR', `${dataDir} holds no relay identity (${IDENTITY_FILE})`);
  const identity = loadOrCreateIdentity(dataDir, () => {
    throw new Error('unreachable: the identity exists');
  }, () => {});
  let store: RelayStore;
  if (postgresUrl !== undefined) store = await openPostgresStore(postgresUrl);
  else {
    const file = path.join(dataDir, DATABASE_FILE);
    if (!existsSync(file)) throw new AuditError('NOT_A_DATA_DIR', `${dataDir} holds no relay database (${DATABASE_FILE})`);
    try {
      store = await openSqliteStore(file);
    } catch (e) {
      if (e instanceof StoreLockedError) throw new AuditError('RELAY_RUNNING', 'the relay is running on this data dir: ask it with --relay URL instead');
      throw e;
    }
  }
  try {
    await store.ktHead();
  } catch {
    await store.close();
    throw new AuditError('NOT_MIGRATED', 'this database has no key-transparency log yet: start the relay once to migrate it');
  }
  const log = new TransparencyLog(store, identity, Date.now);
  return {
    relay: async () => ({ relayId: identity.relayId, treeHeadKey: identity.treeHeadKey.publicKey, keyId: TREE_HEAD_KEY_ID }),
    async head(since) {
      const h = await log.headSince(since);
      return { head: h.head.bytes, consistency: h.consistency };
    },
    inclusion: (index, size) => log.inclusion(index, size),
    consistency: (from, to) => log.consistency(from, to),
    close: () => store.close(),
  };
}

const hex = toHex;

function headJson(bytes: Uint8Array) {
  const h = parseTreeHead(bytes);
  return { treeSize: h.treeSize, rootHash: hex(h.rootHash), timestamp: h.timestamp, keyId: h.keyId, relayId: hex(h.relayId), signedTreeHead: hex(bytes) };
}

function leafJson(leaf: Uint8Array) {
  const l = parseKtLeaf(leaf);
  return { accountId: hex(l.accountId), sequence: l.sequence, accountKeyHash: hex(l.accountKeyHash), deviceListHash: hex(l.deviceListHash), relayTime: l.relayTime };
}

/** `head [--since N]`: the signed head, its signature checked, and the consistency proof from N. */
export async function headReport(source: KtSource, since: number) {
  const relay = await source.relay();
  const { head, consistency } = await source.head(since);
  const verified = verifyTreeHead(head, new Map([[relay.keyId, relay.treeHeadKey]]), relay.relayId, undefined);
  let proof: { from: number; to: number; root1: string; root2: string; proof: string[] } | undefined;
  if (since > 0 && since < verified.treeSize) {
    const { root1 } = await source.consistency(since, verified.treeSize);
    verifyConsistency(since, verified.treeSize, consistency, root1, verified.rootHash);
    proof = { from: since, to: verified.treeSize, root1: hex(root1), root2: hex(verified.rootHash), proof: consistency.map(hex) };
  }
  return { kind: 'head' as const, treeHeadKey: hex(relay.treeHeadKey), head: headJson(head), ...(proof && { consistency: proof }), verified: true };
}

/** `inclusion --index I [--size N]`: the leaf (bytes, fields, hash) and its proof under the root of size N (default: the signed head's). */
export async function inclusionReport(source: KtSource, index: number, size: number | undefined) {
  const relay = await source.relay();
  const { head } = await source.head(0);
  const signed = verifyTreeHead(head, new Map([[relay.keyId, relay.treeHeadKey]]), relay.relayId, undefined);
  const treeSize = size ?? signed.treeSize;
  const p = await source.inclusion(index, treeSize);
  if (hex(merkleLeafHash(p.leaf)) !== hex(p.leafHash)) throw new ProtocolError('KT_PROOF_INVALID', 'the leaf hash is not SHA-256(0x00 ‖ leaf)');
  verifyInclusion(index, treeSize, p.leafHash, p.proof, p.root);
  if (treeSize === signed.treeSize && hex(p.root) !== hex(signed.rootHash)) throw new ProtocolError('KT_PROOF_INVALID', 'the root is not the signed head\'s');
  return {
    kind: 'inclusion' as const,
    index,
    treeSize,
    root: hex(p.root),
    leaf: hex(p.leaf),
    leafFields: leafJson(p.leaf),
    leafHash: hex(p.leafHash),
    proof: p.proof.map(hex),
    ...(treeSize === signed.treeSize && { head: headJson(head) }),
    verified: true,
  };
}

/** `consistency --from A --to B`: the proof between the two trees, with both roots. */
export async function consistencyReport(source: KtSource, from: number, to: number) {
  const p = await source.consistency(from, to);
  verifyConsistency(from, to, p.proof, p.root1, p.root2);
  return { kind: 'consistency' as const, from, to, root1: hex(p.root1), root2: hex(p.root2), proof: p.proof.map(hex), verified: true };
}

function bytesOf(value: unknown, what: string): Uint8Array {
  if (typeof value !== 'string' || !/^([0-9a-f]{2})*$/.test(value)) throw new AuditError('BAD_INPUT', `${what} is not lowercase hex`);
  return fromHex(value);
}

function sizeOf(value: unknown, what: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw new AuditError('BAD_INPUT', `${what} is not a tree size`);
  return value as number;
}

function proofOf(value: unknown): Uint8Array[] {
  if (!Array.isArray(value)) throw new AuditError('BAD_INPUT', 'proof is not an array');
  return value.map((p, i) => bytesOf(p, `proof[${i}]`));
}

/**
 * `verify`: re-checks a document `inclusion`, `consistency` or `head` printed (by this tool or by
 * anyone), from its own bytes only: the leaf hash recomputed from the leaf, the RFC 9162 checks, and
 * a head's signature under `treeHeadKey` (pass the key you trust with --key; otherwise the
 * document's own is used and the result says so). Returns the outcome; never throws for a proof that
 * fails (that is `{ valid: false }`), only for a document that is not one of the three.
 */
export function verifyDocument(doc: unknown, trustedKey?: Uint8Array): { kind: string; valid: boolean; code?: string; message?: string; keyFrom?: 'argument' | 'document' } {
  if (typeof doc !== 'object' || doc === null) throw new AuditError('BAD_INPUT', 'not a JSON object');
  const d = doc as Record<string, unknown>;
  const kind = d.kind;
  const check = (run: () => void): { valid: boolean; code?: string; message?: string } => {
    try {
      run();
      return { valid: true };
    } catch (e) {
      if (isProtocolError(e)) return { valid: false, code: e.code, message: e.message };
      throw e;
    }
  };
  if (kind === 'inclusion') {
    const leaf = bytesOf(d.leaf, 'leaf');
    const leafHash = bytesOf(d.leafHash, 'leafHash');
    const index = sizeOf(d.index, 'index');
    const treeSize = sizeOf(d.treeSize, 'treeSize');
    const proof = proofOf(d.proof);
    const root = bytesOf(d.root, 'root');
    return {
      kind,
      ...check(() => {
        if (hex(merkleLeafHash(leaf)) !== hex(leafHash)) throw new ProtocolError('KT_PROOF_INVALID', 'leafHash is not SHA-256(0x00 ‖ leaf)');
        verifyInclusion(index, treeSize, leafHash, proof, root);
      }),
    };
  }
  if (kind === 'consistency') {
    const from = sizeOf(d.from, 'from');
    const to = sizeOf(d.to, 'to');
    const proof = proofOf(d.proof);
    const root1 = bytesOf(d.root1, 'root1');
    const root2 = bytesOf(d.root2, 'root2');
    return { kind, ...check(() => verifyConsistency(from, to, proof, root1, root2)) };
  }
  if (kind === 'head') {
    const head = (d.head ?? {}) as Record<string, unknown>;
    const bytes = bytesOf(head.signedTreeHead, 'head.signedTreeHead');
    const key = trustedKey ?? bytesOf(d.treeHeadKey, 'treeHeadKey');
    return {
      kind,
      keyFrom: trustedKey ? 'argument' : 'document',
      ...check(() => {
        const h = parseTreeHead(bytes);
        verifyTreeHead(bytes, new Map([[h.keyId, key]]), h.relayId, undefined);
      }),
    };
  }
  throw new AuditError('BAD_INPUT', 'kind must be "inclusion", "consistency" or "head"');
}
