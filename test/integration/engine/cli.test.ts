/**
 * The engine as a child process (the built dist/electron/engine/cli.js): the contract over JSON
 * lines against the real relay, and one crash point as the fault tests will use them — killed right
 * after a send committed, restarted, the message still goes out exactly once.
 */
import { rmSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestRelay, tempDir, type TestRelay } from '../relay/helpers/relay.js';
import { EngineProcess } from './helpers/engine-process.js';
import { TestEngine, uniqueName } from '../../support/engines.js';

const PASS = 'correct horse battery staple';
let relay: TestRelay;
const processes: EngineProcess[] = [];
const engines: TestEngine[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  relay = await startTestRelay();
});
afterEach(async () => {
  for (const p of processes.splice(0)) await p.kill();
  for (const e of engines.splice(0)) await e.dispose();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
afterAll(async () => {
  await relay.stop();
});

describe('engine child process', () => {
  it('serves the contract over JSON lines; after a SIGKILL right after the outbox commit, the restarted engine sends the message once', async () => {
    const data = tempDir('parley-engine-cli-');
    dirs.push(data);
    const bob = await TestEngine.create({ relayUrl: relay.url, name: 'bob' });
    engines.push(bob);

    const first = await EngineProcess.start({ data, env: { PARLEY_TEST_CRASH_AT: 'after-outbox-commit' } });
    processes.push(first);
    const username = uniqueName('alice');
    const account = await first.call('account:create', { username, relayUrl: relay.url, passphrase: PASS });
    expect(account.username).toBe(username);
    await first.waitEvent((e) => e.event === 'connection' && e.payload.state === 'online');
    // Bob has Alice as a contact (a message request would get no delivery receipt).
    await bob.call('contacts:add', { username });
    const contact = await first.call('contacts:add', { username: bob.username });
    expect(contact.id).toBe(bob.accountId);
    const [conversation] = await first.call('conversations:list', {});
    // The send commits (message row, ratchet state, envelope), then the process kills itself.
    await expect(first.call('messages:send', { conversationId: conversation!.id, body: 'survives a crash' })).rejects.toThrow(/exited/);
    expect((await first.exited).signal).toBe('SIGKILL');

    const second = await EngineProcess.start({ data });
    processes.push(second);
    expect((await second.ready).state).toBe('locked');
    await second.call('account:unlock', { passphrase: PASS });
    const [again] = await second.call('conversations:list', {});
    expect(again!.lastMessage).toMatchObject({ preview: 'survives a crash', status: 'sending' });
    await bob.receive(account, 'survives a crash');
    await second.waitEvent((e) => e.event === 'message:status' && e.payload.status === 'delivered');
    const page = await bob.call('messages:openPage', { conversationId: (await bob.call('conversations:list', {}))[0]!.id, anchor: { kind: 'latest' }, limit: 10 });
    expect(page.messages.map((m) => m.body)).toEqual(['survives a crash']);
    expect(await second.stop()).toEqual({ code: 0, signal: null });
  });

  it('killed after an inbound batch committed but before its ack, the restarted engine shows the message once', async () => {
    const data = tempDir('parley-engine-cli-');
    dirs.push(data);
    const alice = await TestEngine.create({ relayUrl: relay.url, name: 'alice' });
    engines.push(alice);
    // A first message (it carries Alice's profile key in an envelope of its own) before the crash
    // point is armed, so the crash hits the batch with the text.
    const setup = await EngineProcess.start({ data });
    processes.push(setup);
    const bob = await setup.call('account:create', { username: uniqueName('bob'), relayUrl: relay.url, passphrase: PASS });
    await setup.waitEvent((e) => e.event === 'connection' && e.payload.state === 'online');
    const aToB = await alice.add(bob);
    await alice.send(aToB, 'hello');
    await setup.waitEvent((e) => e.event === 'message:added' && e.payload.message.body === 'hello');
    expect(await setup.stop()).toEqual({ code: 0, signal: null });

    const first = await EngineProcess.start({ data, env: { PARLEY_TEST_CRASH_AT: 'after-inbound-commit-before-ack' } });
    processes.push(first);
    await first.call('account:unlock', { passphrase: PASS });
    await first.waitEvent((e) => e.event === 'connection' && e.payload.state === 'online');
    await alice.send(aToB, 'committed, not acked');
    expect((await first.exited).signal).toBe('SIGKILL');

    // The relay delivers it again; the envelope hash recognises it, nothing is shown twice.
    const second = await EngineProcess.start({ data });
    processes.push(second);
    await second.call('account:unlock', { passphrase: PASS });
    await alice.send(aToB, 'and the next one');
    await second.waitEvent((e) => e.event === 'message:added' && e.payload.message.body === 'and the next one');
    const [conversation] = await second.call('conversations:list', {});
    const page = await second.call('messages:openPage', { conversationId: conversation!.id, anchor: { kind: 'latest' }, limit: 10 });
    expect(page.messages.map((m) => m.body)).toEqual(['hello', 'committed, not acked', 'and the next one']);
    expect(second.events.filter((e) => e.event === 'message:added')).toHaveLength(1);
  });
});
