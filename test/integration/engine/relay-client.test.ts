/**
 * RelayClient (the engine's relay client, electron/engine/relay/) against the real relay as a
 * child process (dist/server/main.js; the engine may not import server/): challenge signing, one
 * shared authentication for concurrent calls, renewal after a rejected token, and reconnection after
 * the relay dies — pending requests fail with DISCONNECTED, the client comes back by itself and
 * receives what was queued meanwhile; and, on the client's own timers (ManualTimers: time moves only
 * when the test moves it, and each step waits for what the client did), how soon it is back after
 * the relay restarts (issue 10 item 17).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deterministicRng } from '../../../shared/testing/deterministic-rng.js';
import { registerAccount, TestAccount } from '../relay/helpers/accounts.js';
import { failure, Inbox, text } from '../relay/helpers/inbox.js';
import { spawnRelay, type RelayProcess } from '../relay/helpers/relay-process.js';
import { RelayClient } from '../../../electron/engine/relay/client.js';
import { DEFAULT_BACKOFF, HEALTH_PROBE_INTERVAL_MS, RECONNECT_JITTER_MS, type ConnectionState, type RelayClientEvents } from '../../../electron/engine/relay/socket.js';
import { ManualTimers } from '../../support/timers.js';

type Step = { attempt: ConnectionState } | { probe: boolean };

/** Moves time to the client's soonest timer and waits for what it did: an attempt's outcome, or a probe's answer. */
async function stepTimers(client: RelayClient, timers: ManualTimers): Promise<Step> {
  const soonest = timers.remaining()[0]!;
  if (soonest === client.nextAttemptAt! - timers.now()) {
    const outcome = next(client, 'state');
    timers.advance(soonest);
    return { attempt: await outcome };
  }
  const answer = next(client, 'probe');
  timers.advance(soonest);
  return { probe: await answer };
}

/** The next emission of `event` by `client`. */
function next<K extends 'state' | 'probe'>(client: RelayClient, event: K): Promise<Parameters<RelayClientEvents[K]>[0]> {
  return new Promise((resolve) => {
    const off = client.on(event, ((value: Parameters<RelayClientEvents[K]>[0]) => {
      off();
      resolve(value);
    }) as RelayClientEvents[K]);
  });
}

describe('against the relay process', () => {
  const relays: RelayProcess[] = [];
  const clients: RelayClient[] = [];
  const dataDir = mkdtempSync(path.join(tmpdir(), 'parley-relay-client-'));
  afterAll(async () => {
    for (const c of clients) c.close();
    for (const r of relays) await r.kill();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('authenticates once for concurrent calls and renews a token the relay no longer accepts', async () => {
    const relay = await spawnRelay({ dataDir: path.join(dataDir, 'a') });
    relays.push(relay);
    const alice = new TestAccount();
    await RelayClient.register(relay.url, alice.registerRequest());
    const client = alice.client(relay.url);
    clients.push(client);
    const tokens = await Promise.all([client.sessionToken(), client.sessionToken(), client.sessionToken()]);
    expect(new Set(tokens).size).toBe(1);
    // Replace the cached token with one the relay never issued: the next call renews it once.
    (client as unknown as { auth: { token: { value: string; expiresAt: number } } }).auth.token = { value: 'A'.repeat(64), expiresAt: Date.now() + 3600_000 };
    expect((await client.prekeyCounts()).signedPrekey).not.toBeNull();
    expect(await client.sessionToken()).not.toBe('A'.repeat(64));
    const wellKnown = await RelayClient.wellKnown(relay.url);
    expect(wellKnown.wireVersion).toBe(1);
    await relay.stop();
  });

  it('reconnects with backoff after the relay dies and delivers what was queued meanwhile', async () => {
    const dir = path.join(dataDir, 'b');
    let relay = await spawnRelay({ dataDir: dir });
    relays.push(relay);
    const alice = new TestAccount();
    const bob = new TestAccount();
    await registerAccount(relay.url, alice);
    await registerAccount(relay.url, bob);
    const port = relay.port;

    const b = bob.client(relay.url, 1, { rng: deterministicRng('bob') });
    clients.push(b);
    const states: ConnectionState[] = [];
    b.on('state', (s) => states.push(s));
    const inbox = new Inbox(b);
    await b.connect();
    await inbox.backlogEnd();
    expect(b.state).toBe('open');

    const reconnecting = new Promise<void>((resolve) => {
      const off = b.on('state', (s) => {
        if (s !== 'reconnecting') return;
        off();
        resolve();
      });
    });
    await relay.kill();
    await expect(failure(b.ping())).resolves.toMatchObject({ code: 'DISCONNECTED' });
    await reconnecting;
    expect(b.state).toBe('reconnecting');

    relay = await spawnRelay({ dataDir: dir, port });
    relays.push(relay);
    const a = alice.client(relay.url);
    clients.push(a);
    await a.send(bob.accountId, [{ deviceId: 1, content: text('while you were away') }]); // REST: a is not connected
    await inbox.count(1, 15_000);
    await inbox.backlogEnd(2); // the envelope came in the new connection's backlog
    expect(inbox.texts()).toEqual(['while you were away']);
    expect(b.state).toBe('open');
    expect(states).toEqual(expect.arrayContaining(['connecting', 'open', 'reconnecting']));
    expect(states.lastIndexOf('open')).toBeGreaterThan(states.indexOf('reconnecting'));
    await b.ack([inbox.envelopes[0]!.seq]);
    b.close();
    expect(b.state).toBe('closed');
    await expect(failure(b.ping())).resolves.toMatchObject({ code: 'DISCONNECTED' });
    await relay.stop();
  });

  it('is back within a health probe and the jitter window after the relay restarts, not after its backoff', async () => {
    const dir = path.join(dataDir, 'c');
    let relay = await spawnRelay({ dataDir: dir });
    relays.push(relay);
    const bob = new TestAccount();
    await registerAccount(relay.url, bob);
    const port = relay.port;
    const timers = new ManualTimers(Date.now());
    const b = bob.client(relay.url, 1, { rng: deterministicRng('bob-probes'), clock: () => timers.now(), timers, backoff: DEFAULT_BACKOFF });
    clients.push(b);
    await b.connect();

    const step = () => stepTimers(b, timers);

    const down = next(b, 'state');
    await relay.stop(); // SIGTERM: the relay closes the channel as going away, then exits
    expect(await down).toBe('reconnecting');
    // While it is down every attempt fails (and every probe), until the backoff is long.
    const whileDown: Step[] = [];
    while (b.nextAttemptAt! - timers.now() < 15_000 && whileDown.length < 100) whileDown.push(await step());

    relay = await spawnRelay({ dataDir: dir, port });
    relays.push(relay);
    const restartedAt = timers.now();
    const backoffDueIn = b.nextAttemptAt! - restartedAt;
    const afterRestart: Step[] = [];
    while (b.state !== 'open' && timers.now() - restartedAt < backoffDueIn) afterRestart.push(await step());

    // Before: the first attempt after the restart was the backoff's, 15–30 s later.
    expect(backoffDueIn).toBeGreaterThanOrEqual(15_000);
    expect(timers.now() - restartedAt).toBeLessThanOrEqual(1.5 * HEALTH_PROBE_INTERVAL_MS + RECONNECT_JITTER_MS);
    expect(b.state).toBe('open');
    // How: probes failed while it was down, the first one after the restart succeeded.
    expect(whileDown).toContainEqual({ probe: false });
    expect(whileDown.every((s) => ('probe' in s ? !s.probe : s.attempt === 'reconnecting'))).toBe(true);
    expect(afterRestart).toContainEqual({ probe: true });
    await expect(b.ping()).resolves.toBeDefined();
    b.close();
    await relay.stop();
  });

  it('a relay that turns the client away (over capacity) is not probed: the backoff runs as it is', async () => {
    const relay = await spawnRelay({ dataDir: path.join(dataDir, 'd'), limits: { maxConnections: 1 } });
    relays.push(relay);
    const alice = new TestAccount();
    const bob = new TestAccount();
    await registerAccount(relay.url, alice);
    await registerAccount(relay.url, bob);
    const a = alice.client(relay.url);
    clients.push(a);
    await a.connect(); // the one connection the relay takes

    const timers = new ManualTimers(Date.now());
    const b = bob.client(relay.url, 1, { rng: deterministicRng('bob-turned-away'), clock: () => timers.now(), timers, backoff: DEFAULT_BACKOFF });
    clients.push(b);
    const turnedAway = new Promise<void>((resolve) => {
      const off = b.on('state', (s) => {
        if (s !== 'reconnecting') return;
        off();
        resolve();
      });
    });
    b.connect().catch(() => undefined); // settles only at close(): the relay never lets it in
    await turnedAway; // the upgrade was answered 503

    const steps: Step[] = [];
    while (b.nextAttemptAt! - timers.now() < 15_000 && steps.length < 100) steps.push(await stepTimers(b, timers));
    // Each attempt was turned away again and waited out its backoff; the relay's health was never asked.
    expect(steps.length).toBeGreaterThan(3);
    expect(steps.every((s) => 'attempt' in s && s.attempt === 'reconnecting')).toBe(true);
    expect(b.nextAttemptAt! - timers.now()).toBeGreaterThanOrEqual(15_000);
    b.close();
    a.close();
    await relay.stop();
  });
});
