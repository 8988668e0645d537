/**
 * Steady message traffic for fault tests (scale-out, ADR 0035): pairs of accounts, each sender
 * sending numbered messages to its receiver one after another, as the engine's outbox does — a send
 * that fails (the instance died, the relay answered UNAVAILABLE) is sent again with the same message
 * id until the relay accepts it. Receivers record every envelope and ack it at once, as the engine
 * does after its own commit.
 *
 * What a user could observe, and what `check()` asserts:
 *  - nothing acknowledged is lost: every message whose send resolved arrives;
 *  - nothing is shown twice: a message sent once (its first attempt resolved) arrives in exactly one
 *    envelope (the same envelope redelivered after a reconnect is the same seq, and the engine shows
 *    a message once per id); only a send retried after an unknown outcome may be stored twice, and
 *    the engine drops that copy by its id.
 */
import { RelayClient } from '../../../../electron/engine/relay/client.js';
import { registerAccount, TestAccount } from './accounts.js';

export type TrafficReport = {
  readonly acknowledged: number;
  readonly retried: number;
  readonly received: number;
  readonly failures: readonly string[];
};

type Pair = {
  sender: RelayClient;
  receiver: RelayClient;
  to: Uint8Array;
  /** id → attempts until accepted (absent: not accepted yet). */
  accepted: Map<string, number>;
  /** id → distinct seqs it arrived in. */
  seen: Map<string, Set<number>>;
};

export class Traffic {
  private readonly pairs: Pair[] = [];
  private running = false;
  private loops: Promise<void>[] = [];
  readonly errors: string[] = [];

  private constructor(private readonly intervalMs: number) {}

  /**
   * Registers `pairs` sender/receiver accounts through `registerUrl` and connects every client to
   * `url(i)` (a load balancer, or the instances in turn).
   */
  static async start(options: {
    readonly pairs: number;
    readonly registerUrl: string;
    readonly url: (i: number) => string;
    readonly intervalMs?: number;
    /** No steady sending: messages only when `burst()` is called. */
    readonly manual?: boolean;
  }): Promise<Traffic> {
    const traffic = new Traffic(options.intervalMs ?? 20);
    const backoff = { initialDelayMs: 100, maxDelayMs: 1_000, factor: 2 };
    for (let i = 0; i < options.pairs; i++) {
      const a = new TestAccount();
      const b = new TestAccount();
      for (const account of [a, b]) (await registerAccount(options.registerUrl, account)).forEach((c) => c.close());
      const sender = new RelayClient({ url: options.url(2 * i), accountId: a.accountId, deviceId: 1, identitySigningKey: a.devices[0]!.signing.privateKey, backoff, requestTimeoutMs: 5_000 });
      const receiver = new RelayClient({ url: options.url(2 * i + 1), accountId: b.accountId, deviceId: 1, identitySigningKey: b.devices[0]!.signing.privateKey, backoff, requestTimeoutMs: 5_000 });
      const pair: Pair = { sender, receiver, to: b.accountId, accepted: new Map(), seen: new Map() };
      receiver.on('envelope', (e) => {
        const id = Buffer.from(e.content).toString('utf8');
        let seqs = pair.seen.get(id);
        if (!seqs) pair.seen.set(id, (seqs = new Set()));
        seqs.add(e.seq);
        receiver.ack([e.seq]).catch(() => undefined); // unacked: redelivered after the reconnect
      });
      traffic.pairs.push(pair);
      await Promise.all([sender.connect(), receiver.connect()]);
    }
    if (options.manual) return traffic;
    traffic.running = true;
    traffic.loops = traffic.pairs.map((p, i) => traffic.run(p, i));
    return traffic;
  }

  private bursts = 0;

  /** Each pair sends one message now (retried until accepted); resolves when all were accepted. */
  async burst(): Promise<void> {
    const n = this.bursts++;
    await Promise.all(
      this.pairs.map(async (pair, index) => {
        const id = `p${index}-b${n}`;
        const content = new Uint8Array(Buffer.from(id, 'utf8'));
        for (let attempt = 1; ; attempt++) {
          try {
            await pair.sender.send(pair.to, [{ deviceId: 1, content }]);
            pair.accepted.set(id, attempt);
            return;
          } catch (e) {
            if (attempt > 100) throw e;
            await new Promise((r) => setTimeout(r, 100));
          }
        }
      }),
    );
  }

  private async run(pair: Pair, index: number): Promise<void> {
    for (let n = 0; this.running; n++) {
      const id = `p${index}-m${n}`;
      const content = new Uint8Array(Buffer.from(id, 'utf8'));
      for (let attempt = 1; ; attempt++) {
        try {
          await pair.sender.send(pair.to, [{ deviceId: 1, content }]);
          pair.accepted.set(id, attempt);
          break;
        } catch (e) {
          if (this.errors.length < 50) this.errors.push(`${id}: ${(e as Error).message}`);
          if (!this.running && attempt > 40) return;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      await new Promise((r) => setTimeout(r, this.intervalMs));
    }
  }

  get acknowledged(): number {
    let n = 0;
    for (const p of this.pairs) n += p.accepted.size;
    return n;
  }

  /** Waits until `n` more messages were acknowledged than now (traffic flows). */
  async flowing(n = 10, timeoutMs = 30_000): Promise<void> {
    const target = this.acknowledged + n;
    const deadline = Date.now() + timeoutMs;
    while (this.acknowledged < target) {
      if (Date.now() > deadline) throw new Error(`traffic stalled at ${this.acknowledged} acknowledged; last errors: ${this.errors.slice(-5).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stops sending (each sender finishes the message it is on), then waits for every acknowledged message to arrive. */
  async stopAndCheck(timeoutMs = 60_000): Promise<TrafficReport> {
    this.running = false;
    await Promise.all(this.loops);
    const deadline = Date.now() + timeoutMs;
    const missing = (): string[] => this.pairs.flatMap((p) => [...p.accepted.keys()].filter((id) => !p.seen.has(id)));
    while (missing().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const failures: string[] = [];
    for (const id of missing().slice(0, 10)) failures.push(`acknowledged but never delivered: ${id}`);
    let retried = 0;
    let received = 0;
    for (const p of this.pairs) {
      for (const [id, attempts] of p.accepted) {
        if (attempts > 1) retried++;
        const seqs = p.seen.get(id)?.size ?? 0;
        if (attempts === 1 && seqs > 1) failures.push(`sent once, delivered in ${seqs} envelopes: ${id}`);
      }
      received += p.seen.size;
    }
    return { acknowledged: this.acknowledged, retried, received, failures };
  }

  close(): void {
    this.running = false;
    for (const p of this.pairs) {
      p.sender.close();
      p.receiver.close();
    }
  }
}
