/**
 * The benchmark's baseline: a bare WebSocket forwarder measured in the same run as the relay. It
 * speaks the relay's frame shapes so the load generator is unchanged, but does only the floor of
 * the work — JSON.parse, a map lookup, one send — with no authentication (the id is in the URL),
 * validation, storage, fsync or metrics. Prints {"event":"forwarder.listening","port":…}.
 */
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_CLIENT_FRAME_BYTES } from '../../shared/wire/wire-size.js';

const byId = new Map<string, WebSocket>();
let seq = 0;
const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false, maxPayload: MAX_CLIENT_FRAME_BYTES, clientTracking: false });

type Frame = { type?: string; id?: string; to?: string; messages?: { content: string }[] };

wss.on('connection', (ws, request) => {
  const id = new URL(request.url ?? '/', 'http://forwarder').searchParams.get('id') ?? '';
  byId.set(id, ws);
  ws.on('error', () => undefined);
  ws.on('close', () => {
    if (byId.get(id) === ws) byId.delete(id);
  });
  ws.on('message', (data) => {
    let frame: Frame;
    try {
      frame = JSON.parse((data as Buffer).toString('utf8')) as Frame;
    } catch {
      return;
    }
    if (frame.type === 'send' && frame.to && frame.messages?.[0]) {
      const now = Date.now();
      byId.get(frame.to)?.send(
        JSON.stringify({ type: 'envelope', seq: ++seq, source: { accountId: id, deviceId: 1 }, serverTimestamp: now, content: frame.messages[0].content }),
      );
      ws.send(JSON.stringify({ type: 'sent', ref: frame.id, serverTimestamp: now }));
    } else if (frame.type === 'ack' && frame.id) {
      ws.send(JSON.stringify({ type: 'acked', ref: frame.id }));
    }
  });
});

wss.on('listening', () => {
  const address = wss.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ event: 'forwarder.listening', port })}\n`);
});

process.on('SIGTERM', () => {
  wss.close();
  process.exit(0);
});
