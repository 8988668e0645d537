/**
 * What the relay writes to its log (issue 21, docs/security-audit.md "Secrets in logs"): with its
 * own logger configuration (server/logger.ts, redaction list included) at trace level, two accounts
 * register, authenticate, send authenticated and sealed, fetch certificates, are refused for a wrong
 * token and for malformed bodies that carry secrets — and no line holds a session token, a delivery
 * token, an envelope's content or a sealed upload, in any spelling the relay uses (base64url, hex).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64Url, toBase64Url, toHex } from '../../../shared/crypto/bytes.js';
import { systemRng } from '../../../shared/crypto/random.js';
import { sha256 } from '../../../shared/crypto/sha256.js';
import { newProfileKey } from '../../../shared/protocol/profile.js';
import { deliveryToken, encodeSealedMultiRecipient, sealMessage } from '../../../shared/protocol/sealed-sender.js';
import { pseudoRandomBytes } from '../../../shared/testing/deterministic-rng.js';
import type { RelayClient } from '../../../electron/engine/relay/client.js';
import { createLogger } from '../../../server/logger.js';
import { startRelay, type Relay } from '../../../server/relay.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { http } from './helpers/http.js';
import { TEST_LIMITS } from './helpers/relay.js';
import { TestSocket } from './helpers/socket.js';

let relay: Relay;
let dataDir: string;
const lines: string[] = [];
const clients: RelayClient[] = [];
const sockets: TestSocket[] = [];

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'parley-log-secrets-'));
  relay = await startRelay({ dataDir, host: '127.0.0.1', port: 0, limits: TEST_LIMITS, logger: createLogger('trace', { write: (line: string) => void lines.push(line) }) });
});
afterAll(async () => {
  for (const s of sockets) s.close();
  for (const c of clients) c.close();
  await relay.close().catch(() => undefined);
  rmSync(dataDir, { recursive: true, force: true });
});

async function person() {
  const account = new TestAccount(undefined, [1]);
  const client = (await registerAccount(relay.url, account)).get(1)!;
  clients.push(client);
  const token = deliveryToken(newProfileKey({ rng: systemRng }));
  await client.putDeliveryTokenHash(sha256(token));
  return { account, client, token, session: await client.sessionToken() };
}

/** The spellings of a secret the relay could write: base64url (the wire) and hex (ids in logs). */
function spellings(secret: Uint8Array | string): string[] {
  const bytes = typeof secret === 'string' ? fromBase64Url(secret) : secret;
  // A long value is also looked for by its first 32 characters (a truncated log field).
  return [toBase64Url(bytes), toHex(bytes)].flatMap((s) => (s.length > 32 ? [s, s.slice(0, 32)] : [s]));
}

describe('the relay log', () => {
  it('holds no session token, delivery token, envelope content or sealed upload, even for refused requests', { timeout: 60_000 }, async () => {
    const alice = await person();
    const bob = await person();
    const bobSocket = await TestSocket.authed(relay.url, bob.session);
    sockets.push(bobSocket);
    await bobSocket.next((f) => f.type === 'backlog-end');

    // An authenticated send, received and acknowledged.
    const content = pseudoRandomBytes('log-secrets/content', 300);
    await alice.client.send(bob.account.accountId, [{ deviceId: 1, content }]);
    const envelope = await bobSocket.next((f) => f.type === 'envelope');
    bobSocket.send({ type: 'ack', seqs: [envelope.seq] });

    // A sealed send, with the certificate the relay issued.
    const { certificate } = await alice.client.senderCertificate();
    const sealed = sealMessage(
      {
        certificate,
        senderIdentityPrivate: alice.account.devices[0]!.dh.privateKey,
        recipients: [{ accountId: bob.account.accountId, deviceId: 1, identityKey: bob.account.devices[0]!.dh.publicKey }],
        messages: [pseudoRandomBytes('log-secrets/inner', 200)],
      },
      { rng: systemRng },
    );
    const upload = encodeSealedMultiRecipient(sealed);
    const body = { to: toBase64Url(bob.account.accountId), token: toBase64Url(bob.token), upload: toBase64Url(upload) };
    expect((await http(relay.url, 'POST', '/v1/sealed', { body })).status).toBe(200);
    await bobSocket.next((f) => f.type === 'envelope' && f.source === null);

    // Refused: a wrong token (someone else's), a malformed upload next to a valid token, a body
    // that is not what the route takes but holds the session token, a bad bearer token.
    expect((await http(relay.url, 'POST', '/v1/sealed', { body: { ...body, token: toBase64Url(alice.token) } })).status).toBe(401);
    expect((await http(relay.url, 'POST', '/v1/sealed', { body: { ...body, upload: toBase64Url(upload.subarray(0, 90)) } })).status).toBe(400);
    expect((await http(relay.url, 'POST', '/v1/sealed', { body: { to: body.to, token: alice.session, upload: alice.session } })).status).toBe(400);
    expect((await http(relay.url, 'GET', '/v1/certificates/sender', { token: `${bob.session.slice(0, -2)}xx` })).status).toBe(401);

    const log = lines.join('');
    // The logger is wired (the relay logs its start and registrations; no request bodies at all).
    expect(lines.some((l) => l.includes('"relay.listening"'))).toBe(true);
    const secrets: [string, Uint8Array | string][] = [
      ['alice session token', alice.session],
      ['bob session token', bob.session],
      ['alice delivery token', alice.token],
      ['bob delivery token', bob.token],
      ['envelope content', content],
      ['sealed upload', upload],
      ['sealed shared ciphertext', sealed.sharedCiphertext],
    ];
    const found = secrets.filter(([, s]) => spellings(s).some((x) => log.includes(x))).map(([name]) => name);
    expect(found).toEqual([]);
  });

  it('the redaction list censors tokens, authorization, content, bodies, signatures and private keys, one level down too', () => {
    const out: string[] = [];
    const log = createLogger('trace', { write: (line: string) => void out.push(line) });
    const secret = (name: string) => `SECRET-${name}-${toHex(pseudoRandomBytes(`log-secrets/${name}`, 8))}`;
    const fields = ['token', 'authorization', 'content', 'body', 'signature', 'privateKey'];
    const values = fields.flatMap((f) => [secret(f), secret(`nested-${f}`)]);
    log.warn(
      { ...Object.fromEntries(fields.map((f, i) => [f, values[2 * i]])), request: Object.fromEntries(fields.map((f, i) => [f, values[2 * i + 1]])) },
      'a line carrying every redacted field',
    );
    const line = out.join('');
    expect(line).toContain('a line carrying every redacted field');
    expect(line).toContain('[redacted]');
    expect(values.filter((v) => line.includes(v))).toEqual([]);
  });
});
