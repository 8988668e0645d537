/**
 * Frees a buffer now instead of at some later garbage collection. The file cipher allocates a fresh
 * segment-sized buffer per segment (node:crypto's update() has no output-buffer form); left to the
 * collector, V8 lets tens of MiB of them pile up before it collects, which is most of a transfer's
 * memory. Transferring the ArrayBuffer into a closed MessagePort detaches it and drops its backing
 * store at once (Node 20 has no ArrayBuffer.prototype.transfer); the message goes nowhere. Only for
 * buffers this code owns whole (cipher outputs), after their last use — a released view reads as
 * empty afterwards. Owns nothing else.
 */
import { MessageChannel } from 'node:worker_threads';

const sink = new MessageChannel();
sink.port2.close();
sink.port1.unref();

/** Detaches and frees `bytes`' ArrayBuffer if `bytes` spans all of it (otherwise leaves it to the GC). */
export function releaseBuffer(bytes: Uint8Array): void {
  const backing = bytes.buffer;
  if (!(backing instanceof ArrayBuffer) || bytes.byteOffset !== 0 || bytes.byteLength !== backing.byteLength) return;
  sink.port1.postMessage(null, [backing]);
}
