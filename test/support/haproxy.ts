/**
 * HAProxy for tests, from the shipped example deploy/haproxy/haproxy.cfg: the same global, defaults,
 * frontend and backend options, with only what a test machine changes rewritten — the listeners
 * (127.0.0.1 on free ports; TLS with a throwaway self-signed certificate; the plain-HTTP listener
 * serves instead of redirecting, so that clients speak http:// on loopback), and the server lines
 * (the test's relay instances). Debian's haproxy, installed by .ci/run; `stop()` ends it.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './redis.js';

export const HAPROXY_CONFIG = fileURLToPath(new URL('../../deploy/haproxy/haproxy.cfg', import.meta.url));

export type TestHaproxy = {
  /** http://127.0.0.1:<port>: the plain listener. */
  readonly url: string;
  /** https://localhost:<port>: TLS terminated by HAProxy with `certificate`. */
  readonly tlsUrl: string;
  /** The self-signed certificate (PEM) a client must trust for tlsUrl. */
  readonly certificate: string;
  stop(): Promise<void>;
};

/** The shipped config with the listeners and servers of a test. */
export function testHaproxyConfig(options: { readonly port: number; readonly tlsPort: number; readonly pem: string; readonly backends: readonly number[] }): string {
  const text = readFileSync(HAPROXY_CONFIG, 'utf8');
  const lines: string[] = [];
  let serversDone = false;
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t.startsWith('bind :443 ')) lines.push(line.replace(/bind :443 ssl crt \S+/, `bind 127.0.0.1:${options.tlsPort} ssl crt ${options.pem}`));
    else if (t === 'bind :80') lines.push(line.replace('bind :80', `bind 127.0.0.1:${options.port}`));
    else if (t.startsWith('http-request redirect scheme https')) continue;
    else if (t.startsWith('server ')) {
      if (serversDone) continue;
      serversDone = true;
      options.backends.forEach((port, i) => lines.push(`    server relay${i + 1} 127.0.0.1:${port}`));
    } else lines.push(line);
  }
  const out = lines.join('\n');
  for (const needed of [`127.0.0.1:${options.port}`, `127.0.0.1:${options.tlsPort} ssl crt`, 'server relay1 127.0.0.1:']) {
    if (!out.includes(needed)) throw new Error(`deploy/haproxy/haproxy.cfg changed shape: the test could not place "${needed}"`);
  }
  return out;
}

export async function startHaproxy(backends: readonly number[]): Promise<TestHaproxy> {
  const dir = mkdtempSync(path.join(tmpdir(), 'parley-haproxy-'));
  const key = path.join(dir, 'key.pem');
  const cert = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost'], {
    stdio: 'ignore',
  });
  const certificate = readFileSync(cert, 'utf8');
  const pem = path.join(dir, 'parley.pem');
  writeFileSync(pem, certificate + readFileSync(key, 'utf8'), { mode: 0o600 });
  const [port, tlsPort] = [await freePort(), await freePort()];
  const config = path.join(dir, 'haproxy.cfg');
  writeFileSync(config, testHaproxyConfig({ port: port!, tlsPort: tlsPort!, pem, backends }));
  let output = '';
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  // Up once it answers /healthz through a backend it found healthy.
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited: ${output}`);
    const ok = await fetch(`${url}/healthz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`haproxy did not serve /healthz: ${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    tlsUrl: `https://localhost:${tlsPort}`,
    certificate,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
