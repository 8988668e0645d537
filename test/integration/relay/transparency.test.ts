/**
 * The relay's key-transparency log (DESIGN §3.10, docs/protocol.md §26, issue 19), through its real
 * HTTP API: every registration and list replacement is logged; every lookup of a list or of bundles
 * carries a signed head, the list's leaf with its inclusion proof, and a consistency proof from the
 * tree size the client names — all checked here with the client-side verifier (verifyKeyLookup)
 * under the tree-head key /.well-known/parley publishes. The public monitoring routes serve heads,
 * pages of leaves with their compact range, and proofs between any sizes; bad parameters are typed
 * errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CompactRange,
  parseKtLeaf,
  parseTreeHead,
  verifyConsistency,
  verifyInclusion,
  verifyKeyLookup,
  verifyTreeHead,
  type KeyLookupProof,
  type TreeHead,
} from '../../../shared/protocol/transparency.js';
import type { KeyTransparency } from '../../../shared/wire/transparency.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { startTestRelay, type TestRelay } from './helpers/relay.js';

let relay: TestRelay;
let trust: Map<number, Uint8Array>;
let relayId: Uint8Array;
const open: RelayClient[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
  const known = await RelayClient.wellKnown(relay.url);
  expect(known.transparency).toEqual({ treeHeadKeyId: 1, maxHeadAgeMs: 86_400_000 });
  trust = new Map([[known.transparency!.treeHeadKeyId, known.treeHeadKey]]);
  relayId = known.relayId;
  // The tree-head key is not the certificate key (DESIGN §3.1).
  expect(known.treeHeadKey).not.toEqual(known.certificateKey);
});
afterAll(async () => {
  for (const c of open) c.close();
  await relay.stop();
});

async function setup(deviceIds = [1]) {
  const account = new TestAccount(undefined, deviceIds);
  const clients = await registerAccount(relay.url, account, { oneTime: 2 });
  for (const c of clients.values()) open.push(c);
  return { account, primary: clients.get(deviceIds[0]!)! };
}

const asProof = (t: KeyTransparency): KeyLookupProof => ({ signedTreeHead: t.head, leafIndex: t.leafIndex, leaf: t.leaf, inclusion: t.inclusion, consistency: t.consistency });
const headOf = (t: KeyTransparency): TreeHead => parseTreeHead(t.head);

describe('key transparency on the relay', () => {
  it('a lookup carries proofs that verify for the list it returns; after a change, the new list is proven and consistent with the head seen before', async () => {
    const { account: alice, primary } = await setup();
    const { primary: bob } = await setup();
    const first = await bob.lookupAccount(alice.accountId);
    expect(first.transparency).toBeDefined();
    const list = { accountId: alice.accountId, version: 1, accountPublicKey: alice.accountKey.publicKey, signedDeviceList: first.deviceList };
    const { head, leaf } = verifyKeyLookup(asProof(first.transparency!), list, { trust, relayId, now: Date.now() });
    expect(leaf.sequence).toBe(1);
    expect(first.transparency!.consistency).toEqual([]);

    // Alice links a second device: version 2 is logged; Bob names the size he holds.
    alice.addDevice(2);
    alice.version = 2;
    await primary.putDeviceList(alice.signedList());
    const second = await bob.lookupAccount(alice.accountId, head.treeSize);
    const list2 = { ...list, version: 2, signedDeviceList: second.deviceList };
    const checked = verifyKeyLookup(asProof(second.transparency!), list2, { trust, relayId, now: Date.now(), lastHead: head, lastSequence: 1 });
    expect(checked.head.treeSize).toBeGreaterThan(head.treeSize);
    expect(checked.leaf.sequence).toBe(2);
    expect(second.transparency!.consistency.length).toBeGreaterThan(0);
    // The old list's proof does not pass for the new list: the relay cannot serve one with the other's leaf.
    expect(() => verifyKeyLookup(asProof(first.transparency!), list2, { trust, relayId, now: Date.now() })).toThrowError(expect.objectContaining({ code: 'KT_LEAF_MISMATCH' }));

    // By username too, with the same proofs for the same list.
    const byName = await bob.lookupUsername(alice.username, checked.head.treeSize);
    expect(verifyKeyLookup(asProof(byName.transparency!), list2, { trust, relayId, now: Date.now(), lastHead: checked.head }).leaf.sequence).toBe(2);
  });

  it('bundles come with the signed list they must match and its proofs', async () => {
    const { account: alice } = await setup([1, 2]);
    const { primary: bob } = await setup();
    const response = await bob.fetchBundleResponse(alice.accountId);
    expect(response.bundles.map((b) => b.deviceId)).toEqual([1, 2]);
    expect(response.deviceList).toBeDefined();
    const list = { accountId: alice.accountId, version: 2, accountPublicKey: alice.accountKey.publicKey, signedDeviceList: response.deviceList! };
    expect(verifyKeyLookup(asProof(response.transparency!), list, { trust, relayId, now: Date.now() }).leaf.sequence).toBe(2);
    const one = await bob.fetchBundleResponse(alice.accountId, 2, headOf(response.transparency!).treeSize);
    expect(verifyKeyLookup(asProof(one.transparency!), list, { trust, relayId, now: Date.now(), lastHead: headOf(response.transparency!) }).leaf.sequence).toBe(2);
  });

  it('the public routes: a page of leaves checked from its compact range reaches the signed head; inclusion and consistency proofs between any sizes verify', async () => {
    // Two accounts of two devices: at least four leaves whatever ran before (the suite runs shuffled).
    await setup([1, 2]);
    await setup([1, 2]);
    const { head: headBytes } = await RelayClient.ktHead(relay.url, 0);
    const head = verifyTreeHead(headBytes, trust, relayId, Date.now());
    expect(head.treeSize).toBeGreaterThanOrEqual(3);

    // A monitor that trusts the root at size 2 reads every leaf after it.
    const start = 2;
    const c2 = await RelayClient.ktConsistency(relay.url, start, head.treeSize);
    verifyConsistency(start, head.treeSize, c2.proof, c2.root1, head.rootHash);
    const page = await RelayClient.ktLeaves(relay.url, start);
    expect(page.start).toBe(start);
    const range = CompactRange.verified(start, page.range, c2.root1);
    for (const leaf of page.leaves.slice(0, head.treeSize - start)) range.append(leaf);
    expect(range.root()).toEqual(head.rootHash);
    for (const leaf of page.leaves) expect(parseKtLeaf(leaf).accountId).toHaveLength(16);

    const inc = await RelayClient.ktInclusion(relay.url, 1, head.treeSize);
    verifyInclusion(1, head.treeSize, inc.leafHash, inc.proof, head.rootHash);
    expect(inc.root).toEqual(head.rootHash);
    // The same leaf in an older tree, against that tree's root.
    const old = await RelayClient.ktInclusion(relay.url, 1, 2);
    verifyInclusion(1, 2, old.leafHash, old.proof, old.root);
    expect(old.root).toEqual(c2.root1);
    // The head since an older size carries the consistency proof from it.
    const since = await RelayClient.ktHead(relay.url, start);
    const sinceHead = parseTreeHead(since.head);
    verifyConsistency(start, sinceHead.treeSize, since.consistency, c2.root1, sinceHead.rootHash);
  });

  it('bad parameters are typed errors: sizes beyond the log NOT_FOUND, a proof from 0 or backwards MALFORMED, non-numbers MALFORMED', async () => {
    await setup();
    const { head } = await RelayClient.ktHead(relay.url, 0);
    const size = parseTreeHead(head).treeSize;
    const code = async (path: string, headers?: Record<string, string>) => {
      const r = headers ? await fetch(`${relay.url}${path}`, { headers }) : await http(relay.url, 'GET', path);
      const body = (r instanceof Response ? await r.json() : r.body) as { error?: { code: string } };
      return body.error?.code ?? 'ok';
    };
    expect(await code(`/v1/transparency/inclusion/${size}/${size}`)).toBe('NOT_FOUND');
    expect(await code(`/v1/transparency/inclusion/0/${size + 1}`)).toBe('NOT_FOUND');
    expect(await code(`/v1/transparency/consistency/0/${size}`)).toBe('MALFORMED');
    expect(await code(`/v1/transparency/consistency/2/1`)).toBe('MALFORMED');
    expect(await code(`/v1/transparency/consistency/1/${size + 1}`)).toBe('NOT_FOUND');
    expect(await code(`/v1/transparency/leaves/${size + 1}`)).toBe('NOT_FOUND');
    expect(await code(`/v1/transparency/leaves/-1`)).toBe('MALFORMED');
    expect(await code(`/v1/transparency/head/01`)).toBe('MALFORMED');
    expect(await code(`/v1/transparency/head/99999999999999999999`)).toBe('MALFORMED');
    expect(await code(`/v1/transparency/leaves/${size}`)).toBe('ok');
    // A lookup naming a tree size that is not a number.
    const { account, primary } = await setup();
    const token = await primary.sessionToken();
    const accountPath = `/v1/accounts/${Buffer.from(account.accountId).toString('base64url')}`;
    expect(await code(accountPath, { authorization: `Bearer ${token}`, 'Parley-Tree-Size': 'ten' })).toBe('MALFORMED');
    expect(await code(accountPath, { authorization: `Bearer ${token}`, 'Parley-Tree-Size': String(size) })).toBe('ok');
  });

  it('an idle log keeps its signed head for an hour, then signs it again with a fresh time (clients refuse heads older than 24 h)', async () => {
    let offset = 0;
    const timed = await startTestRelay({ clock: () => Date.now() + offset });
    try {
      const first = parseTreeHead((await RelayClient.ktHead(timed.url, 0)).head);
      offset = 59 * 60_000;
      const later = parseTreeHead((await RelayClient.ktHead(timed.url, 0)).head);
      expect(later.timestamp).toBe(first.timestamp);
      offset = 61 * 60_000;
      const resigned = parseTreeHead((await RelayClient.ktHead(timed.url, 0)).head);
      expect(resigned.timestamp).toBeGreaterThan(first.timestamp + 60 * 60_000);
      expect(resigned.rootHash).toEqual(first.rootHash);
    } finally {
      await timed.stop();
    }
  });
});

