/**
 * Bad input (issue 3) against the relay as a child process (dist/server/main.js): at least 100,000
 * fast-check-generated WebSocket frames and REST requests, plus hand-written hostile cases (the
 * maxPayload boundary ±1 byte, invalid UTF-8, binary frames, deep nesting, prototype keys, oversized
 * bodies, bad percent-encoding, foreign methods). Every reply to an invalid frame is one error frame
 * and every non-2xx REST reply an error body, both validated with the shared/wire error schemas;
 * nothing is ever INTERNAL. Afterwards the relay is alive, /healthz answers, a legitimate client
 * still completes send → deliver → ack, and stderr holds nothing. The fuzz relay's per-connection
 * budgets are raised (PARLEY_RELAY_LIMITS) so that the generated stream is validated rather than
 * rate-limited; the budgets themselves are tested in limits.test.ts.
 */
import fc from 'fast-check';
import { rmSync } from 'node:fs';
import { WebSocket } from 'ws';
import type { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toBase64Url } from '../../../shared/crypto/bytes.js';
import { ErrorBodySchema, ErrorFrameSchema } from '../../../shared/wire/errors.js';
import { ClientFrameSchema, CloseCode } from '../../../shared/wire/frames.js';
import { MAX_U32 } from '../../../shared/wire/primitives.js';
import {
  ChallengeRequestSchema,
  ContactsRequestSchema,
  DeleteAccountRequestSchema,
  PresenceQuerySchema,
  PrekeyUploadSchema,
  PutDeviceListRequestSchema,
  RegisterRequestSchema,
  SendRequestSchema,
  SessionRequestSchema,
  SettingsRequestSchema,
  type RouteName,
} from '../../../shared/wire/rest.js';
import { MAX_CLIENT_FRAME_BYTES, MAX_SEND_BODY_BYTES, worstCaseMessages, worstCaseSendFrame } from '../../../shared/wire/wire-size.js';
import type { RelayClient } from '../../../electron/engine/relay/client.js';
import { registerAccount, TestAccount } from './helpers/accounts.js';
import { hostileFrames, hostileRequests, type HostileFrame, type HostileRequest } from './helpers/hostile.js';
import { http } from './helpers/http.js';
import { Inbox, text } from './helpers/inbox.js';
import { scrapeMetrics, spawnRelay, tempDir, type RelayProcess } from './helpers/relay.js';
import { TestSocket } from './helpers/socket.js';

/** Generated frames and requests; together at least 100,000 (each count asserted by its test). */
const GENERATED_FRAMES = 90_000;
const GENERATED_REQUESTS = 10_000;
const FRAME_CHUNK = 1_000;
const HTTP_CONCURRENCY = 16;
const SEED = 0x9a71e7;

let relay: RelayProcess;
let dataDir: string;
const clients: RelayClient[] = [];
let fuzzer: TestAccount;
let wide: TestAccount; // six devices with the widest device ids: the worst-case fan-out target
let generatedRequests = 0;

beforeAll(async () => {
  dataDir = tempDir();
  const huge = { points: 1e9, duration: 1 };
  relay = await spawnRelay({
    dataDir,
    limits: {
      framesPerConnection: huge,
      bytesPerConnection: huge,
      presenceQueriesPerConnection: huge,
      envelopesPerDevice: huge,
      bundlesPerPair: huge,
      strikesBeforeDisconnect: 1e9,
    },
  });
  fuzzer = new TestAccount();
  wide = new TestAccount(undefined, [0, 1, 2, 3, 4, 5].map((i) => MAX_U32 - i).reverse());
  await registerAccount(relay.url, fuzzer);
  await registerAccount(relay.url, wide);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await relay.kill();
  rmSync(dataDir, { recursive: true, force: true });
});

async function token(account: TestAccount, deviceId?: number): Promise<string> {
  const c = account.client(relay.url, deviceId);
  clients.push(c);
  return c.sessionToken();
}

/** Opens an authenticated raw socket that collects every reply. */
async function fuzzSocket(t: string): Promise<{ ws: WebSocket; replies: string[]; waitFor: (n: number) => Promise<void>; closed: Promise<number> }> {
  const s = await TestSocket.authed(relay.url, t);
  await s.next((f) => f.type === 'backlog-end');
  const replies: string[] = [];
  let want = Infinity;
  let wake: (() => void) | undefined;
  s.ws.removeAllListeners('message');
  s.ws.on('message', (data) => {
    replies.push((data as Buffer).toString('utf8'));
    if (replies.length >= want) wake?.();
  });
  return {
    ws: s.ws,
    replies,
    closed: s.closed.then((c) => c.code),
    waitFor: (n) =>
      new Promise<void>((resolve, reject) => {
        if (replies.length >= n) return resolve();
        want = n;
        const timer = setTimeout(() => reject(new Error(`only ${replies.length}/${n} replies`)), 30_000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      }),
  };
}

function isValidFrame(f: HostileFrame): boolean {
  if (f.kind === 'binary') return false;
  try {
    return ClientFrameSchema.safeParse(JSON.parse(f.data)).success;
  } catch {
    return false;
  }
}

describe('generated hostile input', () => {
  it(`${GENERATED_FRAMES} generated invalid frames each get exactly one typed error frame; the socket stays usable`, async () => {
    const sample = fc.sample(hostileFrames({ to: toBase64Url(wide.accountId) }), { numRuns: GENERATED_FRAMES + 5_000, seed: SEED });
    const frames = sample.filter((f) => !isValidFrame(f)).slice(0, GENERATED_FRAMES);
    expect(frames).toHaveLength(GENERATED_FRAMES);
    const sock = await fuzzSocket(await token(fuzzer));
    const codes = new Map<string, number>();
    for (let start = 0; start < frames.length; start += FRAME_CHUNK) {
      const chunk = frames.slice(start, start + FRAME_CHUNK);
      for (const f of chunk) sock.ws.send(f.data, { binary: f.kind === 'binary' });
      await sock.waitFor(start + chunk.length);
      chunk.forEach((f, i) => {
        const raw = sock.replies[start + i]!;
        const parsed = ErrorFrameSchema.safeParse(JSON.parse(raw));
        if (!parsed.success) throw new Error(`frame ${JSON.stringify(f.data).slice(0, 300)} got ${raw.slice(0, 300)}`);
        codes.set(parsed.data.code, (codes.get(parsed.data.code) ?? 0) + 1);
        if (parsed.data.ref !== undefined) expect((JSON.parse(f.data as string) as { id: unknown }).id).toBe(parsed.data.ref);
      });
    }
    expect(sock.replies).toHaveLength(GENERATED_FRAMES);
    expect(codes.get('INTERNAL')).toBeUndefined();
    expect(codes.get('MALFORMED')).toBeGreaterThan(GENERATED_FRAMES / 2);
    expect(codes.get('UNSUPPORTED_FRAME')).toBeGreaterThan(0);
    // Still the same, working connection.
    sock.ws.send(JSON.stringify({ type: 'ping', id: 'still-here' }));
    await sock.waitFor(GENERATED_FRAMES + 1);
    expect(JSON.parse(sock.replies.at(-1)!)).toMatchObject({ type: 'pong', ref: 'still-here' });
    sock.ws.close();
  }, 120_000);

  it(`${GENERATED_REQUESTS} generated REST requests get typed error bodies and never a 5xx`, async () => {
    const victim = new TestAccount();
    await registerAccount(relay.url, victim);
    const t = await token(victim);
    const schemas: Partial<Record<RouteName, z.ZodType>> = {
      register: RegisterRequestSchema,
      putDeviceList: PutDeviceListRequestSchema,
      deleteAccount: DeleteAccountRequestSchema,
      putSettings: SettingsRequestSchema,
      challenge: ChallengeRequestSchema,
      session: SessionRequestSchema,
      uploadPrekeys: PrekeyUploadSchema,
      send: SendRequestSchema,
      putContacts: ContactsRequestSchema,
      presenceQuery: PresenceQuerySchema,
    };
    const requests = fc.sample(hostileRequests({ to: toBase64Url(wide.accountId) }), { numRuns: GENERATED_REQUESTS, seed: SEED });
    const statuses = new Map<number, number>();
    let next = 0;
    const check = async (r: HostileRequest): Promise<void> => {
      // Unregistering the fuzzing device is legitimate and would end the authenticated half early.
      const withToken = r.withToken && r.route !== 'unregisterDevice';
      const reply = await http(relay.url, r.method, r.path, { raw: r.body, contentType: r.contentType, ...(withToken && { token: t }) });
      statuses.set(reply.status, (statuses.get(reply.status) ?? 0) + 1);
      const context = `${r.method} ${r.path} ${String(r.body).slice(0, 200)} → ${reply.status} ${reply.text.slice(0, 200)}`;
      expect(reply.status, context).toBeLessThan(500);
      if (reply.status >= 400) {
        expect(ErrorBodySchema.safeParse(reply.body).success, context).toBe(true);
        return;
      }
      // A success is only possible for a request its schema accepts.
      const schema = r.route === 'unknown' ? undefined : schemas[r.route];
      if (schema && r.body !== undefined) {
        let body: unknown;
        try {
          body = JSON.parse(r.body);
        } catch {
          throw new Error(`2xx for a body that is not JSON: ${context}`);
        }
        expect(schema.safeParse(body).success, context).toBe(true);
      }
    };
    await Promise.all(
      Array.from({ length: HTTP_CONCURRENCY }, async () => {
        while (next < requests.length) {
          await check(requests[next++]!);
          generatedRequests++;
        }
      }),
    );
    expect(generatedRequests).toBe(GENERATED_REQUESTS);
    const errors = [...statuses].filter(([s]) => s >= 400).reduce((n, [, c]) => n + c, 0);
    expect(errors).toBeGreaterThan(GENERATED_REQUESTS * 0.8);
  }, 120_000);

  it('pre-auth garbage gets typed errors, and no frame but a valid auth frame opens a session', async () => {
    const sample = fc.sample(hostileFrames({ to: toBase64Url(wide.accountId) }), { numRuns: 300, seed: SEED + 1 });
    let sock = await TestSocket.open(relay.url);
    const closes: Promise<{ code: number }>[] = [];
    for (const f of sample) {
      if (sock.ws.readyState !== WebSocket.OPEN) sock = await TestSocket.open(relay.url);
      sock.send(f.kind === 'binary' ? Buffer.from(f.data) : f.data);
      const reply = ErrorFrameSchema.parse(await sock.next());
      expect(['MALFORMED', 'UNSUPPORTED_FRAME', 'UNAUTHORIZED']).toContain(reply.code);
      if (reply.code === 'UNAUTHORIZED') {
        closes.push(sock.closed);
        sock = await TestSocket.open(relay.url);
      }
    }
    sock.close();
    expect(closes.length).toBeGreaterThan(0);
    for (const c of await Promise.all(closes)) expect(c.code).toBe(CloseCode.Unauthorized);
  });
});

describe('hand-written hostile cases', () => {
  it(`a frame of exactly maxPayload (${MAX_CLIENT_FRAME_BYTES} bytes, a full fan-out) and one byte less are accepted; one more closes with 1009`, async () => {
    const t = await token(fuzzer);
    const frame = { ...worstCaseSendFrame(), to: toBase64Url(wide.accountId) };
    const exact = JSON.stringify(frame);
    expect(Buffer.byteLength(exact)).toBe(MAX_CLIENT_FRAME_BYTES);
    const lessOne = JSON.stringify({ ...frame, id: frame.id.slice(1) });
    expect(Buffer.byteLength(lessOne)).toBe(MAX_CLIENT_FRAME_BYTES - 1);

    // The last recipient device, its mailbox emptied of what other tests sent it.
    const last = wide.client(relay.url, MAX_U32);
    clients.push(last);
    const inbox = new Inbox(last);
    await last.connect();
    await inbox.backlogEnd();
    if (inbox.envelopes.length > 0) await last.ack(inbox.envelopes.map((e) => e.seq));
    const before = inbox.envelopes.length;

    const sock = await TestSocket.authed(relay.url, t);
    sock.send(exact);
    expect(await sock.next((f) => f.type === 'sent' || f.type === 'error')).toMatchObject({ type: 'sent', ref: frame.id });
    sock.send(lessOne);
    expect(await sock.next((f) => f.type === 'sent' || f.type === 'error')).toMatchObject({ type: 'sent', ref: frame.id.slice(1) });
    sock.send(`${exact} `);
    expect((await sock.closed).code).toBe(1009);

    // The recipient devices got the full-size envelopes.
    await inbox.count(before + 2);
    expect(inbox.envelopes.slice(before).map((e) => e.content.length)).toEqual([98_304, 98_304]);
    last.close();
  });

  it(`a REST send body of exactly its limit (${MAX_SEND_BODY_BYTES} bytes) is accepted; one byte more is PAYLOAD_TOO_LARGE`, async () => {
    const t = await token(fuzzer);
    const body = JSON.stringify({ to: toBase64Url(wide.accountId), messages: worstCaseMessages() });
    expect(Buffer.byteLength(body)).toBe(MAX_SEND_BODY_BYTES);
    expect((await http(relay.url, 'POST', '/v1/messages', { raw: body, token: t })).status).toBe(200);
    const over = await http(relay.url, 'POST', '/v1/messages', { raw: `${body} `, token: t });
    expect(over.status).toBe(413);
    expect(ErrorBodySchema.parse(over.body).error.code).toBe('PAYLOAD_TOO_LARGE');
  });

  it('binary frames, unknown types, deep nesting, prototype keys and out-of-range numbers get typed errors', async () => {
    const sock = await TestSocket.authed(relay.url, await token(fuzzer));
    await sock.next((f) => f.type === 'backlog-end');
    const cases: [unknown, string][] = [
      [Buffer.from([0, 1, 2, 255]), 'UNSUPPORTED_FRAME'],
      [{ type: 'launch-missiles', id: 'u1' }, 'UNSUPPORTED_FRAME'],
      ['['.repeat(200_000), 'MALFORMED'],
      [`${'['.repeat(50_000)}${']'.repeat(50_000)}`, 'MALFORMED'],
      ['{"type":"ping","id":"p","__proto__":{"polluted":true}}', 'MALFORMED'],
      ['{"type":"ack","seqs":[1e400]}', 'MALFORMED'],
      [{ type: 'ack', seqs: Array(1001).fill(1) }, 'MALFORMED'],
      [{ type: 'send', id: 'd', to: toBase64Url(wide.accountId), messages: Array(7).fill({ deviceId: 1, content: 'AA' }) }, 'MALFORMED'],
      [{ type: 'send', id: 'e', to: toBase64Url(wide.accountId), messages: [{ deviceId: 1, content: 'AA' }, { deviceId: 1, content: 'AQ' }] }, 'MALFORMED'],
      [{ type: 'auth', token: 'A'.repeat(64) }, 'MALFORMED'],
      ['"just a string"', 'MALFORMED'],
      ['null', 'MALFORMED'],
      ['', 'MALFORMED'],
    ];
    for (const [frame, code] of cases) {
      sock.send(frame);
      const reply = ErrorFrameSchema.parse(await sock.next());
      expect(reply.code, JSON.stringify(frame).slice(0, 60)).toBe(code);
    }
    sock.send({ type: 'ping', id: 'alive' });
    expect(await sock.next()).toMatchObject({ type: 'pong', ref: 'alive' });
    sock.close();
  });

  it('an invalid UTF-8 text frame closes that socket with 1007; an upgrade elsewhere than /v1/ws is refused', async () => {
    const sock = await TestSocket.authed(relay.url, await token(fuzzer));
    sock.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await sock.closed).code).toBe(1007);
    const elsewhere = new TestSocket(`${relay.url.replace('http', 'ws')}/v2/ws`);
    await expect(elsewhere.opened).rejects.toThrow(/404/);
  });

  it('frames pipelined behind the auth frame are processed after ready, in order', async () => {
    const sock = await TestSocket.open(relay.url);
    sock.ws.send(JSON.stringify({ type: 'auth', token: await token(fuzzer) }));
    sock.ws.send(JSON.stringify({ type: 'ping', id: 'one' }));
    sock.ws.send(JSON.stringify({ type: 'ping', id: 'two' }));
    expect((await sock.next()).type).toBe('ready');
    const pongs = [await sock.next((f) => f.type === 'pong'), await sock.next((f) => f.type === 'pong')];
    expect(pongs.map((p) => p.ref)).toEqual(['one', 'two']);
    sock.close();
  });

  it('REST: bad JSON, wrong content type, bad percent-encoding, foreign methods and bad bearer tokens get typed errors', async () => {
    const t = await token(fuzzer);
    const cases: [string, string, Parameters<typeof http>[3], number, string][] = [
      ['POST', '/v1/auth/challenge', { raw: '{"accountId":', contentType: 'application/json' }, 400, 'MALFORMED'],
      ['POST', '/v1/auth/challenge', { raw: 'accountId=x', contentType: 'application/x-www-form-urlencoded' }, 400, 'MALFORMED'],
      ['POST', '/v1/auth/challenge', { raw: '{}', contentType: 'application/json; charset=utf-7' }, 400, 'MALFORMED'],
      ['GET', '/v1/accounts/%E0%A4%A', { token: t }, 400, 'MALFORMED'],
      ['GET', '/v1/prekeys/%ZZ/1', { token: t }, 400, 'MALFORMED'],
      ['PATCH', '/v1/contacts', { token: t }, 404, 'NOT_FOUND'],
      ['OPTIONS', '/v1/contacts', {}, 404, 'NOT_FOUND'],
      ['GET', '/v1/contacts', { token: 'A'.repeat(63) }, 401, 'UNAUTHORIZED'],
      ['GET', '/v1/contacts', { token: 'A'.repeat(2000) }, 401, 'UNAUTHORIZED'],
      ['GET', '/v1/contacts', { token: `${t.slice(0, -2)}AA` }, 401, 'UNAUTHORIZED'],
    ];
    for (const [method, path, options, status, code] of cases) {
      const r = await http(relay.url, method, path, options);
      expect(r.status, `${method} ${path}`).toBe(status);
      expect(ErrorBodySchema.parse(r.body).error.code).toBe(code);
    }
    const basic = await fetch(`${relay.url}/v1/contacts`, { headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    expect(basic.status).toBe(401);
  });
});

describe('after all of it', () => {
  // After whatever ran before it in this file (in any order): the relay's state is checked, not the count.
  it('the relay is alive, answers /healthz, serves send → deliver → ack, logged no INTERNAL error and wrote nothing to stderr', async () => {
    expect(relay.child.exitCode).toBeNull();
    const health = await http(relay.url, 'GET', '/healthz');
    expect(health).toMatchObject({ status: 200, body: { status: 'ok' } });

    const alice = new TestAccount();
    const bob = new TestAccount();
    const a = (await registerAccount(relay.url, alice)).get(1)!;
    const b = (await registerAccount(relay.url, bob)).get(1)!;
    clients.push(a, b);
    const inbox = new Inbox(b);
    await b.connect();
    await inbox.backlogEnd();
    await a.connect();
    await a.send(bob.accountId, [{ deviceId: 1, content: text('still serving') }]);
    await inbox.count(1);
    expect(inbox.texts()).toEqual(['still serving']);
    await b.ack([inbox.envelopes[0]!.seq]);
    b.close();
    const again = new Inbox(b);
    await b.connect();
    await again.backlogEnd();
    expect(again.envelopes).toEqual([]);

    const metrics = await scrapeMetrics(relay.url);
    expect(metrics).toMatch(/parley_relay_errors_total\{code="INTERNAL",transport="ws"\} 0/);
    expect(metrics).toMatch(/parley_relay_errors_total\{code="INTERNAL",transport="http"\} 0/);
    expect(relay.stdoutLines().filter((l) => /"level":(50|60)/.test(l))).toEqual([]);
    expect(relay.stderr()).toBe('');
  });
});
