/**
 * Plug-in readiness: shared/api's tables and the engine's dispatcher fit the shell's generic layer
 * as they stand, so switching host-contract.ts to them is a one-line change. Type-level fit is
 * checked by the assignments below (a mismatch fails `npm run typecheck`); the table rules
 * (channel and method names, unique methods, event names) are checked at run time.
 */
import { describe, expect, it } from 'vitest';
import { ApiErrorSchema, CONTRACT, EVENTS } from '../../shared/api/index.js';
import { createDispatcher } from '../engine/dispatch.js';
import { describeChannels, describeEvents, type ChannelTable, type EventTable } from './channels.js';
import { createInvoker, handlersFromDispatch, type Invoke, type InvokerOptions } from './ipc-contract.js';

describe('the shell layer accepts the contract of shared/api', () => {
  it('CONTRACT and EVENTS pass the channel-table rules the hosts enforce at start-up', () => {
    const table: ChannelTable = CONTRACT;
    const events: EventTable = EVENTS;
    const channels = describeChannels(table);
    expect(channels.map((c) => c.channel)).toEqual(Object.keys(CONTRACT));
    expect(describeEvents(events)).toEqual(Object.keys(EVENTS));
  });

  it("the engine's dispatcher is a transport's `invoke`", async () => {
    const invoke: Invoke = createDispatcher({});
    expect(await invoke('app:getState', {}, { host: 'browser' })).toEqual({ ok: false, error: { code: 'INVALID_REQUEST', message: 'unknown channel' } });
  });

  it("shared/api's closed error set can be the invoker's error schema", async () => {
    const errorSchema: InvokerOptions['errorSchema'] = ApiErrorSchema;
    const invoker = createInvoker(
      CONTRACT,
      handlersFromDispatch(CONTRACT, async () => ({ ok: false, error: { code: 'LOCKED', message: 'locked' } })),
      { errorSchema },
    );
    expect(await invoker.invoke('app:getState', {}, { host: 'electron' })).toEqual({ ok: false, error: { code: 'LOCKED', message: 'locked' } });
  });
});
