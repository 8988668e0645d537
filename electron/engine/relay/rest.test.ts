/**
 * The relay client's transport rule (DESIGN §4, issue 10 item 12): https, or plain http only to the
 * literal loopback addresses 127.0.0.1 and [::1] — never `localhost`, which the hosts file or the
 * resolver may point anywhere. A server on 127.0.0.1 counts what reaches it: a refused address
 * sends nothing, on REST or on the live channel.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelayClient } from './client.js';
import { fetchWellKnown } from './rest.js';

let server: Server;
let port = 0;
let requests = 0;
beforeAll(async () => {
  server = createServer((_req, res) => {
    requests++;
    res.writeHead(503, { 'content-type': 'application/json' }).end('{"error":{"code":"UNAVAILABLE","message":"test server"}}');
  });
  server.on('upgrade', (_req, socket) => {
    requests++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('relay transport', () => {
  it.each(['http://localhost:PORT', 'http://LocalHost:PORT/', 'http://localhost.:PORT', 'http://[::ffff:127.0.0.1]:PORT', 'http://relay.example'])(
    'refuses %s with INSECURE_TRANSPORT and sends nothing',
    async (address) => {
      const before = requests;
      await expect(fetchWellKnown(address.replace('PORT', String(port)), 2_000)).rejects.toMatchObject({ code: 'INSECURE_TRANSPORT' });
      const client = new RelayClient({
        url: address.replace('PORT', String(port)),
        accountId: new Uint8Array(16),
        deviceId: 1,
        identitySigningKey: new Uint8Array(32),
        backoff: { initialDelayMs: 1, maxDelayMs: 5 },
      });
      const errors: string[] = [];
      client.on('error', (e) => errors.push(e.code));
      void client.connect().catch(() => undefined);
      await expect(client.prekeyCounts()).rejects.toMatchObject({ code: 'INSECURE_TRANSPORT' });
      // Several reconnect attempts (1-5 ms apart), each refused before anything is sent.
      while (errors.length < 3) await new Promise((resolve) => setTimeout(resolve, 5));
      client.close();
      expect(new Set(errors)).toEqual(new Set(['INSECURE_TRANSPORT']));
      expect(requests).toBe(before);
    },
  );

  it('reaches the literal loopback address 127.0.0.1 over plain http', async () => {
    const before = requests;
    await expect(fetchWellKnown(`http://127.0.0.1:${port}`, 2_000)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(requests).toBe(before + 1);
  });
});
