/**
 * `npm run kt` (the built dist/server/transparency/cli.js) as an auditor runs it: against a running
 * relay's public routes and against a stopped relay's data dir. Its JSON carries the leaf bytes and
 * hashes, so the test recomputes the leaf hash with node:crypto alone; `kt verify` re-checks each
 * document and refuses one with a flipped proof hash or a head under another key. Usage mistakes exit
 * 2, typed failures 1 with one line.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { startTestRelay, tempDir, type TestRelay } from './helpers/relay.js';

const CLI = fileURLToPath(new URL('../../../dist/server/transparency/cli.js', import.meta.url));

type Run = { code: number; stdout: string; stderr: string; json: Record<string, unknown> };

function kt(args: string[], stdin?: string): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(stdout) as Record<string, unknown>;
      } catch {
        json = {};
      }
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr, json });
    });
    if (stdin !== undefined) child.stdin!.end(stdin);
  });
}

let relay: TestRelay;
let dataDir: string;
const scratch = mkdtempSync(path.join(tmpdir(), 'parley-kt-cli-'));
const open: RelayClient[] = [];

beforeAll(async () => {
  dataDir = tempDir();
  relay = await startTestRelay({ dataDir });
  for (const devices of [[1], [1, 2], [1]]) {
    const clients = await registerAccount(relay.url, new TestAccount(undefined, devices));
    open.push(...clients.values());
  }
});
afterAll(async () => {
  for (const c of open) c.close();
  await relay.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

function saved(name: string, doc: unknown): string {
  const file = path.join(scratch, name);
  writeFileSync(file, JSON.stringify(doc));
  return file;
}

describe('npm run kt', () => {
  it('head, inclusion and consistency against a running relay print checked JSON an auditor can recompute; verify accepts them and refuses a flipped hash', async () => {
    const head = await kt(['head', '--relay', relay.url, '--since', '1']);
    expect(head.code).toBe(0);
    const h = head.json.head as { treeSize: number; rootHash: string; signedTreeHead: string; keyId: number };
    expect(h.treeSize).toBe(4);
    expect(h.keyId).toBe(1);
    expect(h.signedTreeHead).toMatch(/^[0-9a-f]{266}$/);
    expect((head.json.consistency as { from: number; to: number }).from).toBe(1);
    expect(head.json.verified).toBe(true);

    const inclusion = await kt(['inclusion', '--relay', relay.url, '--index', '2']);
    expect(inclusion.code).toBe(0);
    const inc = inclusion.json as { leaf: string; leafHash: string; root: string; proof: string[]; leafFields: { sequence: number }; treeSize: number };
    // RFC 9162 leaf hash, recomputed without Parley's code.
    expect(createHash('sha256').update(Buffer.from([0])).update(Buffer.from(inc.leaf, 'hex')).digest('hex')).toBe(inc.leafHash);
    expect(inc.leaf).toHaveLength(224);
    expect(inc.leafFields.sequence).toBe(2);
    expect(inc.root).toBe(h.rootHash);
    expect(inc.treeSize).toBe(4);

    const consistency = await kt(['consistency', '--relay', relay.url, '--from', '2', '--to', '4']);
    expect(consistency.code).toBe(0);
    expect(consistency.json.root2).toBe(h.rootHash);

    for (const [name, run] of [['head', head], ['inclusion', inclusion], ['consistency', consistency]] as const) {
      const ok = await kt(['verify', saved(`${name}.json`, run.json)]);
      expect(ok.code, name).toBe(0);
      expect(ok.json.valid).toBe(true);
    }
    // From stdin too.
    expect((await kt(['verify', '-'], inclusion.stdout)).json.valid).toBe(true);

    // One flipped hex digit in a proof hash: refused, exit 1.
    const flipped = { ...inc, proof: inc.proof.map((p, i) => (i === 0 ? `${p[0] === '0' ? '1' : '0'}${p.slice(1)}` : p)) };
    const bad = await kt(['verify', saved('bad.json', { ...inclusion.json, ...flipped })]);
    expect(bad.code).toBe(1);
    expect(bad.json).toMatchObject({ kind: 'inclusion', valid: false, code: 'KT_PROOF_INVALID' });
    // A leaf that is not the one hashed.
    const otherLeaf = await kt(['verify', saved('leaf.json', { ...inclusion.json, leaf: `${inc.leaf.slice(0, -2)}ff` })]);
    expect(otherLeaf.json).toMatchObject({ valid: false, code: 'KT_PROOF_INVALID' });
    // A head checked under a key the auditor trusts that is not the relay's.
    const otherKey = await kt(['verify', saved('head2.json', head.json), '--key', 'ab'.repeat(32)]);
    expect(otherKey.code).toBe(1);
    expect(otherKey.json).toMatchObject({ kind: 'head', valid: false, code: 'KT_HEAD_INVALID', keyFrom: 'argument' });
  });

  it('usage mistakes exit 2; bad input, unknown sizes and a data dir in use exit 1 with one typed line', async () => {
    expect((await kt([])).code).toBe(2);
    expect((await kt(['head'])).code).toBe(2);
    expect((await kt(['head', '--relay', relay.url, '--data', dataDir])).code).toBe(2);
    expect((await kt(['inclusion', '--relay', relay.url, '--index', 'x'])).code).toBe(2);
    expect((await kt(['verify', '-', '--key', 'zz'], '{}')).code).toBe(2);

    const notJson = await kt(['verify', '-'], 'not json');
    expect([notJson.code, notJson.stderr.trim()]).toEqual([1, 'kt: BAD_INPUT: the input is not JSON']);
    expect((await kt(['verify', '-'], '{"kind":"nonsense"}')).stderr).toMatch(/^kt: BAD_INPUT/);
    const beyond = await kt(['inclusion', '--relay', relay.url, '--index', '0', '--size', '99']);
    expect([beyond.code, beyond.stderr]).toEqual([1, expect.stringMatching(/^kt: RELAY_ERROR: .*NOT_FOUND/)]);
    const running = await kt(['head', '--data', dataDir]);
    expect([running.code, running.stderr]).toEqual([1, expect.stringMatching(/^kt: RELAY_RUNNING/)]);
    const empty = await kt(['head', '--data', scratch]);
    expect([empty.code, empty.stderr]).toEqual([1, expect.stringMatching(/^kt: NOT_A_DATA_DIR/)]);
  });

  it('reads a stopped relay\'s data dir: the same log, heads signed with that relay\'s tree-head key', async () => {
    const dir = tempDir();
    const stopped = await startTestRelay({ dataDir: dir });
    try {
      const clients = await registerAccount(stopped.url, new TestAccount(undefined, [1, 2]));
      for (const c of clients.values()) c.close();
      const known = await RelayClient.wellKnown(stopped.url);
      const live = await kt(['head', '--relay', stopped.url]);
      await stopped.stop();
      const offline = await kt(['head', '--data', dir]);
      expect(offline.code).toBe(0);
      expect((offline.json.head as { rootHash: string }).rootHash).toBe((live.json.head as { rootHash: string }).rootHash);
      expect(offline.json.treeHeadKey).toBe(Buffer.from(known.treeHeadKey).toString('hex'));
      const inclusion = await kt(['inclusion', '--data', dir, '--index', '1']);
      expect(inclusion.json).toMatchObject({ treeSize: 2, verified: true, leafFields: { sequence: 2 } });
      // The operator's check, signed under the key the relay publishes.
      const verified = await kt(['verify', saved('offline.json', offline.json), '--key', Buffer.from(known.treeHeadKey).toString('hex')]);
      expect(verified.json).toMatchObject({ valid: true, keyFrom: 'argument' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
