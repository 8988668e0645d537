/**
 * Key transparency in the engine (DESIGN §3.10, docs/protocol.md §26, ADR 0034):
 *
 *  - **Every lookup is checked** (`check`): an account or bundle answer's list must come with a head
 *    signed by the relay's pinned tree-head key, not older than 24 h, not smaller than the newest
 *    head this device holds and consistent with it, the list's leaf, and its inclusion proof; the
 *    account's sequence must not go back. A failure is refused with KEY_TRANSPARENCY_FAILED before
 *    anything of the answer is stored, kept as evidence, and shown (the contact's safety-number
 *    screen; a notice in their conversation).
 *  - **This account's devices monitor the log** (`monitor`, at every connection): every leaf appended
 *    since the last scan is read (pages checked against the signed head through the compact range),
 *    and a leaf of this account whose list this device did not make and its primary did not announce
 *    is alerted in the note to self and kept as evidence. Announced = made here (`announce`, before
 *    publishing) or received from the primary (the signed list it provisioned this device with, or
 *    a list it adopted from the relay that the primary's account key signed and announced).
 *
 * Does not own the proofs' bytes (shared/protocol/transparency.ts), the relay's log, or which
 * answers exist (messaging/contacts.ts calls `check`).
 */
import { bytesEqual, concatBytes, toHex } from '../../../shared/crypto/bytes.js';
import { sha256 } from '../../../shared/crypto/sha256.js';
import { parseDeviceList } from '../../../shared/protocol/device-list.js';
import { isProtocolError, ProtocolError } from '../../../shared/protocol/errors.js';
import {
  CompactRange,
  parseKtLeaf,
  parseTreeHead,
  verifyHeadsConsistent,
  verifyKeyLookup,
  verifyTreeHead,
  type SignedTreeHead,
  type TreeHead,
} from '../../../shared/protocol/transparency.js';
import type { KeyTransparency as KeyTransparencyWire } from '../../../shared/wire/transparency.js';
import { getContact } from '../db/contacts.js';
import { findNoteToSelf } from '../db/conversations.js';
import {
  addEvidence,
  announceList,
  isAnnounced,
  keepHead,
  ktAccount,
  ktState,
  pinHeadKey,
  pinnedHeadKeys,
  recordFailure,
  recordMatch,
  setMonitor,
} from '../db/transparency.js';
import { EngineError } from '../errors.js';
import type { MessagingCore } from '../messaging/fan-out.js';
import { insertNotice } from '../messaging/notices.js';

/** An own-account leaf not (yet) announced is alerted once it is older than this: the primary's announcement may still be on its way. */
export const ANNOUNCE_GRACE_MS = 10 * 60_000;
/** Pages of leaves read in one monitoring round at most (512 leaves each); the rest at the next. */
const MAX_PAGES_PER_ROUND = 200;

/** The relay's pinned tree-head keys and its id. */
export type KtContext = { readonly trust: ReadonlyMap<number, Uint8Array>; readonly relayId: Uint8Array };

/** An answer that carries a list (account lookup, or bundles with their list). */
export type ListAnswer = {
  readonly accountId: Uint8Array;
  readonly accountKey: Uint8Array;
  readonly deviceList: Uint8Array;
  readonly transparency?: KeyTransparencyWire | undefined;
};

const HASH = 32;

function rangeBytes(hashes: readonly Uint8Array[]): Uint8Array {
  return concatBytes(...hashes);
}

function rangeHashes(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i + HASH <= bytes.length; i += HASH) out.push(bytes.slice(i, i + HASH));
  return out;
}

export class KeyTransparency {
  #monitoring: Promise<void> | null = null;

  constructor(private readonly core: MessagingCore) {}

  /** The relay's tree-head keys: pinned at first sight from /.well-known/parley (none: the relay keeps no log). */
  async trust(): Promise<Map<number, Uint8Array>> {
    const { core } = this;
    const pinned = pinnedHeadKeys(core.db.writer);
    if (pinned.size > 0) return pinned;
    const wk = await core.relay.wellKnown();
    core.check();
    if (!wk.transparency) return pinned;
    core.db.writer.transaction(() => pinHeadKey(core.db.writer, wk.transparency!.treeHeadKeyId, wk.treeHeadKey, core.clock()));
    return pinnedHeadKeys(core.db.writer);
  }

  /** The tree size this device holds (for `Parley-Tree-Size`), if any. */
  treeSize(): number | undefined {
    return ktState(this.core.db.writer)?.treeSize;
  }

  /** Records a list of this account made here (or provisioned by the primary) before it is published. */
  announce(signedList: Uint8Array): void {
    announceOwnList(this.core, signedList);
  }

  async #relayId(): Promise<Uint8Array> {
    const { core } = this;
    if (core.account.relayId) return core.account.relayId;
    const wk = await core.relay.wellKnown();
    core.check();
    return wk.relayId;
  }

  /** What checking needs from the relay (its pinned keys and id); null when the relay keeps no log. */
  async prepare(): Promise<KtContext | null> {
    const trust = await this.trust();
    if (trust.size === 0) return null;
    return { trust, relayId: await this.#relayId() };
  }

  /** prepare() then verify(): for answers whose list the caller has verified already. */
  async check(answer: ListAnswer, version: number): Promise<void> {
    const ctx = await this.prepare();
    this.core.check();
    if (ctx) this.verify(answer, ctx, version);
  }

  /**
   * Checks a lookup's proofs (§26.5) for `answer`'s list (of `version`, whose signature the caller
   * verified). Throws KEY_TRANSPARENCY_FAILED — nothing of the answer may be stored then — after
   * keeping the evidence and the contact's status. On success keeps the head and the sequence.
   */
  verify(answer: ListAnswer, ctx: KtContext, version: number): void {
    const { core } = this;
    const now = core.clock();
    const state = ktState(core.db.writer);
    const known = ktAccount(core.db.writer, answer.accountId);
    const t = answer.transparency;
    let verified: { head: SignedTreeHead; leafIndex: number };
    try {
      if (!t) throw new ProtocolError('KT_PROOF_INVALID', 'the relay sent no key-transparency proof');
      const lastHead: TreeHead | undefined = state && parseTreeHead(state.head);
      const result = verifyKeyLookup(
        { signedTreeHead: t.head, leafIndex: t.leafIndex, leaf: t.leaf, inclusion: t.inclusion, consistency: t.consistency },
        { accountId: answer.accountId, version, accountPublicKey: answer.accountKey, signedDeviceList: answer.deviceList },
        { trust: ctx.trust, relayId: ctx.relayId, now, ...(lastHead && { lastHead }), ...(known && known.sequence > 0 && { lastSequence: known.sequence }) },
      );
      verified = { head: result.head, leafIndex: t.leafIndex };
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      this.#failed(answer.accountId, e, t?.head ?? null, state?.head ?? null);
    }
    core.db.writer.transaction(() => {
      const db = core.db.writer;
      keepHead(db, verified.head);
      recordMatch(db, answer.accountId, version, now);
      // This account's monitor starts at its own list's leaf the first time it is proven.
      if (core.isSelf(answer.accountId) && ktState(db)!.monitorSize === null) setMonitor(db, verified.leafIndex, new Uint8Array(0));
    });
  }

  #failed(accountId: Uint8Array, e: ProtocolError, headA: Uint8Array | null, headB: Uint8Array | null): never {
    const { core } = this;
    const now = core.clock();
    const rowId = core.db.writer.transaction(() => {
      const db = core.db.writer;
      recordFailure(db, accountId, e.code, now);
      addEvidence(db, { kind: e.code, accountId, headA, headB, detail: e.message, createdAt: now });
      // Shown where the person looks: their conversation (never one made up for a stranger), or the note to self.
      if (!core.isSelf(accountId) && !getContact(db, accountId)) return null;
      return insertNotice(db, core.account.accountId, accountId, 'transparency-alert', now, e.code === 'KT_SPLIT_VIEW' ? 'split-view' : 'proof-failed').rowId;
    });
    if (rowId !== null) core.emitMessageAdded(rowId);
    throw new EngineError('KEY_TRANSPARENCY_FAILED', `the relay's public key log does not confirm this device list (${e.code})`);
  }

  /** Scans the leaves appended since the last scan (one round at a time); see the module comment. */
  monitor(): Promise<void> {
    const run = (this.#monitoring ?? Promise.resolve()).catch(() => undefined).then(() => this.#monitor());
    this.#monitoring = run;
    return run;
  }

  async #monitor(): Promise<void> {
    const { core } = this;
    const state = ktState(core.db.writer);
    if (!state || state.monitorSize === null) return; // this account's own list not proven yet
    const trust = await this.trust();
    const relayId = await this.#relayId();
    const now = core.clock();
    const last = parseTreeHead(state.head);
    const answer = await core.relay.transparencyHead(state.treeSize);
    core.check();
    let head: SignedTreeHead;
    try {
      head = verifyTreeHead(answer.head, trust, relayId, now);
      if (head.treeSize < last.treeSize) throw new ProtocolError('KT_ROLLBACK', 'the log shrank');
      verifyHeadsConsistent(last, head, answer.consistency);
    } catch (e) {
      if (!isProtocolError(e)) throw e;
      this.#alertSelf(e.code, answer.head, state.head, e.message);
      return;
    }
    core.db.writer.transaction(() => keepHead(core.db.writer, head));

    let start = state.monitorSize;
    let range: CompactRange | null = state.monitorRange && state.monitorRange.length > 0 ? CompactRange.unverified(start, rangeHashes(state.monitorRange)) : null;
    /** Where the next round resumes when an own leaf is too young to judge (its announcement may be on its way). */
    let resume: { size: number; hashes: Uint8Array[] } | null = null;
    const own = core.account.accountId;
    const alerts: { index: number; detail: string }[] = [];
    for (let page = 0; page < MAX_PAGES_PER_ROUND && start < head.treeSize; page++) {
      const p = await core.relay.transparencyLeaves(start);
      core.check();
      range ??= CompactRange.unverified(start, p.range);
      const take = p.leaves.slice(0, head.treeSize - start);
      if (take.length === 0) break;
      for (const [i, leafBytes] of take.entries()) {
        const leaf = parseKtLeaf(leafBytes);
        if (bytesEqual(leaf.accountId, own) && !isAnnounced(core.db.writer, leaf.deviceListHash)) {
          if (now - leaf.relayTime < ANNOUNCE_GRACE_MS) resume ??= { size: start + i, hashes: range.hashes };
          else alerts.push({ index: start + i, detail: `leaf ${start + i}: list version ${leaf.sequence} (${toHex(leaf.deviceListHash).slice(0, 16)}…) not made or announced by this account's devices` });
        }
        range.append(leafBytes);
      }
      start += take.length;
    }
    if (start < head.treeSize) {
      // Not at the head yet: keep the position, the root is checked when a round reaches it.
      core.db.writer.transaction(() => setMonitor(core.db.writer, resume?.size ?? start, rangeBytes(resume?.hashes ?? range!.hashes)));
      return;
    }
    if (range && !bytesEqual(range.root(), head.rootHash)) {
      this.#alertSelf('KT_PROOF_INVALID', answer.head, null, 'the leaves the relay served do not make its signed root');
      return;
    }
    core.db.writer.transaction(() => {
      setMonitor(core.db.writer, resume?.size ?? head.treeSize, rangeBytes(resume?.hashes ?? range?.hashes ?? []));
    });
    for (const a of alerts) this.#alertSelf('KT_UNANNOUNCED', answer.head, null, a.detail);
  }

  /** Evidence and a note-to-self alert about this account's own entry in the log. */
  #alertSelf(kind: string, headA: Uint8Array | null, headB: Uint8Array | null, detail: string): void {
    const { core } = this;
    const now = core.clock();
    const self = core.account.accountId;
    const rowId = core.db.writer.transaction(() => {
      addEvidence(core.db.writer, { kind, accountId: self, headA, headB, detail, createdAt: now });
      return insertNotice(core.db.writer, self, self, 'transparency-alert', now, kind === 'KT_UNANNOUNCED' ? 'unannounced' : kind === 'KT_SPLIT_VIEW' ? 'split-view' : 'proof-failed').rowId;
    });
    core.emitMessageAdded(rowId);
    const note = findNoteToSelf(core.db.reader);
    if (note) core.emitConversation(note.id);
  }
}

/** Records a list of this account as made here, before it is published (callers without the Messaging layer's instance). */
export function announceOwnList(core: MessagingCore, signedList: Uint8Array): void {
  const list = parseDeviceList(signedList).list;
  core.db.writer.transaction(() => announceList(core.db.writer, sha256(signedList), list.version, core.clock()));
}
