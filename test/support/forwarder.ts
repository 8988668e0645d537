/**
 * A TCP forwarder between engines and a relay on 127.0.0.1 (bench/engine, the engine tests, the e2e
 * specs): it pipes bytes both ways (HTTP and the WebSocket alike) until it is unplugged — every
 * connection cut, new ones refused — so an engine goes offline the way it does when the network
 * drops, and reconnects by itself once the forwarder is plugged in again. It counts what clients
 * send (`clientBytes`; `onClientBytes` runs synchronously on every piece, so a test can act at an
 * exact point). Binds a free port; `close()` stops it.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export class Forwarder {
  clientBytes = 0;
  onClientBytes: ((total: number) => void) | null = null;
  #plugged = true;
  readonly #sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(upstream: string): Promise<Forwarder> {
    const target = new URL(upstream);
    const holder: { f?: Forwarder } = {};
    const server = createServer((socket) => {
      const f = holder.f!;
      if (!f.#plugged) {
        socket.destroy();
        return;
      }
      const up = connect(Number(target.port), target.hostname);
      socket.setNoDelay(true);
      up.setNoDelay(true);
      for (const s of [socket, up]) {
        f.#sockets.add(s);
        s.on('close', () => f.#sockets.delete(s));
        s.on('error', () => undefined);
      }
      socket.on('data', (piece: Buffer) => {
        f.clientBytes += piece.length;
        f.onClientBytes?.(f.clientBytes);
      });
      socket.pipe(up);
      up.pipe(socket);
      socket.on('close', () => up.destroy());
      up.on('close', () => socket.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const f = new Forwarder(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    holder.f = f;
    return f;
  }

  unplug(): void {
    this.#plugged = false;
    for (const s of this.#sockets) s.destroy();
  }

  plug(): void {
    this.#plugged = true;
  }

  async close(): Promise<void> {
    this.unplug();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
