/**
 * Delivery under concurrent load (DESIGN §5): forty connected devices pipeline 5,000 sends to each
 * other in bursts while acking everything they receive. Every committed envelope reaches exactly its
 * recipient — none stranded between the group commit, the direct push and the mailbox pump — and
 * once everything is acked the mailboxes are empty.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { toBase64Url } from '../../../shared/crypto/bytes.js';
import { deterministicRng } from '../../../shared/testing/deterministic-rng.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { startTestRelay, type TestRelay } from './helpers/relay.js';
import { TestSocket } from './helpers/socket.js';

const DEVICES = 40;
const ROUNDS = 25;
const PER_ROUND = 5;
const unlimited = { points: 1e9, duration: 1 };

let relay: TestRelay;
beforeAll(async () => {
  relay = await startTestRelay({ limits: { envelopesPerDevice: unlimited, framesPerConnection: unlimited, bytesPerConnection: unlimited } });
});
afterAll(async () => {
  await relay.stop();
});

it('every committed envelope reaches its recipient exactly once, and acked mailboxes end empty', async () => {
  const accounts = await Promise.all(
    Array.from({ length: DEVICES }, async () => {
      const a = new TestAccount();
      await registerAccount(relay.url, a);
      return a;
    }),
  );
  const sockets = await Promise.all(accounts.map(async (a) => TestSocket.authed(relay.url, await a.client(relay.url).sessionToken())));
  const received = sockets.map(() => new Map<string, number>());
  const errors: unknown[] = [];
  let sent = 0;
  let acked = 0;
  sockets.forEach((s, i) => {
    s.ws.removeAllListeners('message');
    s.ws.on('message', (data) => {
      const f = JSON.parse((data as Buffer).toString('utf8')) as { type: string; seq: number; content: string; ref?: string };
      if (f.type === 'error') errors.push(f);
      if (f.type === 'acked') acked++;
      if (f.type !== 'envelope') return;
      const label = Buffer.from(f.content, 'base64url').toString('utf8');
      received[i]!.set(label, (received[i]!.get(label) ?? 0) + 1);
      s.send({ type: 'ack', id: `a${f.seq}`, seqs: [f.seq] });
    });
  });
  const expected = sockets.map(() => new Set<string>());
  // The same recipients and pauses on every run: a failure can be replayed.
  const rng = deterministicRng('delivery-load');
  const random = (): number => new DataView(rng(4).buffer).getUint32(0) / 2 ** 32;
  for (let round = 0; round < ROUNDS; round++) {
    for (let i = 0; i < DEVICES; i++) {
      for (let j = 0; j < PER_ROUND; j++) {
        const to = (i + 1 + Math.floor(random() * (DEVICES - 1))) % DEVICES; // anyone but itself
        const label = `${i}:${sent++}`;
        expected[to]!.add(label);
        sockets[i]!.send({ type: 'send', id: `s${sent}`, to: toBase64Url(accounts[to]!.accountId), messages: [{ deviceId: 1, content: toBase64Url(Buffer.from(label)) }] });
      }
    }
    await new Promise((r) => setTimeout(r, random() * 5));
  }
  const deadline = Date.now() + 20_000;
  while (acked < sent && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(errors).toEqual([]);
  expected.forEach((labels, i) => {
    expect(received[i]!.size).toBe(labels.size);
    for (const l of labels) expect(received[i]!.get(l)).toBe(1);
  });
  expect(acked).toBe(sent);
  expect(await relay.store.countEnvelopes()).toBe(0);
  for (const s of sockets) s.close();
}, 60_000);
