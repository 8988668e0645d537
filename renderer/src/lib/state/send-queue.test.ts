import { describe, expect, it } from 'vitest';
import { restoredText, SendQueue } from './send-queue.js';

/** A send whose answers the test gives, one request at a time. */
function scripted() {
  const calls: { body: string; answer: (ok: boolean) => void }[] = [];
  const send = (body: string) => new Promise<boolean>((answer) => calls.push({ body, answer }));
  return { calls, send };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('SendQueue', () => {
  it('a text handed over while the previous one is still sending is sent after it, in order', async () => {
    const { calls, send } = scripted();
    const back: string[][] = [];
    const queue = new SendQueue(send, (b) => back.push([...b]));
    queue.push('first');
    queue.push('second');
    queue.push('third');
    await settle();
    // Only one request at a time: the second waits for the first.
    expect(calls.map((c) => c.body)).toEqual(['first']);
    expect(queue.pending).toEqual(['first', 'second', 'third']);
    calls[0]!.answer(true);
    await settle();
    expect(calls.map((c) => c.body)).toEqual(['first', 'second']);
    calls[1]!.answer(true);
    await settle();
    calls[2]!.answer(true);
    await settle();
    expect(calls.map((c) => c.body)).toEqual(['first', 'second', 'third']);
    expect(queue.pending).toEqual([]);
    expect(back).toEqual([]);
  });

  it('a failed send hands back itself and everything queued behind it, oldest first, unsent', async () => {
    const { calls, send } = scripted();
    const back: string[][] = [];
    const queue = new SendQueue(send, (b) => back.push([...b]));
    queue.push('one');
    queue.push('two');
    queue.push('three');
    await settle();
    calls[0]!.answer(true);
    await settle();
    calls[1]!.answer(false);
    await settle();
    expect(back).toEqual([['two', 'three']]);
    expect(calls.map((c) => c.body)).toEqual(['one', 'two']);
    // The queue works again afterwards.
    queue.push('four');
    await settle();
    expect(calls.map((c) => c.body)).toEqual(['one', 'two', 'four']);
  });

  it('a send that throws counts as failed', async () => {
    const back: string[][] = [];
    const queue = new SendQueue(() => Promise.reject(new Error('host gone')), (b) => back.push([...b]));
    queue.push('lost?');
    await settle();
    expect(back).toEqual([['lost?']]);
  });

  it('blank texts are not sent', async () => {
    const { calls, send } = scripted();
    const queue = new SendQueue(send, () => undefined);
    queue.push('   \n ');
    await settle();
    expect(calls).toEqual([]);
  });

  it('what comes back goes before what was typed since', () => {
    expect(restoredText(['two', 'three'], 'typed meanwhile')).toBe('two\nthree\ntyped meanwhile');
    expect(restoredText(['two'], '')).toBe('two');
  });
});
