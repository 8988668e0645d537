/**
 * Command line and environment of the `parley-relay` bin: `--host --port --data --log-level
 * --store --database-url` or PARLEY_RELAY_HOST / PARLEY_RELAY_PORT / PARLEY_RELAY_DATA /
 * PARLEY_RELAY_LOG_LEVEL / PARLEY_RELAY_STORE / PARLEY_RELAY_DATABASE_URL (flags win),
 * PARLEY_RELAY_LIMITS (JSON overrides of server/limits/relay-limits.ts) and
 * PARLEY_RELAY_TRUST_PROXY (Express `trust proxy`: a hop count, or an address list), and where
 * /metrics is served: `--metrics-host --metrics-port` (PARLEY_RELAY_METRICS_HOST / _PORT) for a
 * separate listener, PARLEY_RELAY_METRICS_TOKEN (environment only: a flag would show in `ps`) for a
 * bearer token. Without either, /metrics is not served at all.
 * Scale-out (docs/adr/0035-scale-out.md): `--bus redis --redis-url redis://…` (PARLEY_RELAY_BUS,
 * PARLEY_RELAY_REDIS_URL) wakes the instance holding a recipient's socket through Redis pub/sub and
 * shares rate limits, connection counts and presence between instances; `--attachments DIR`
 * (PARLEY_RELAY_ATTACHMENTS_DIR) puts attachment blobs on a directory every instance mounts;
 * `--identity FILE` (PARLEY_RELAY_IDENTITY_FILE) is the relay's identity file, the same for all. Several
 * instances need `--store postgres` and `--bus redis` together.
 * Defaults: 127.0.0.1, port 8787, ./.parley-relay, the SQLite store in the data dir. Port 0 asks the
 * OS for a free port. `--store postgres` keeps the relay's database in PostgreSQL at the database
 * URL (the data dir still holds the relay's identity). Error messages never repeat a database URL:
 * it may hold a password.
 */
import { parseArgs } from 'node:util';
import type { LevelWithSilent } from 'pino';
import { LimitsOverrideSchema, type LimitsOverride } from './limits/relay-limits.js';
import type { MetricsOptions } from './http/metrics-endpoint.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8787;
export const DEFAULT_DATA_DIR = '.parley-relay';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** A metrics token shorter than this is refused: it is the only thing between /metrics and anyone. */
export const MIN_METRICS_TOKEN_LENGTH = 24;

export type RelayConfig = {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logLevel: LevelWithSilent;
  readonly limits: LimitsOverride;
  readonly trustProxy: boolean | string | number | undefined;
  /** Where the relay's database lives: the SQLite file in the data dir, or PostgreSQL at `url`. */
  readonly store: { readonly backend: 'sqlite' } | { readonly backend: 'postgres'; readonly url: string };
  /** How instances wake each other: in-process only, or Redis pub/sub at `url`. */
  readonly bus: { readonly backend: 'local' } | { readonly backend: 'redis'; readonly url: string };
  /** Where attachment blobs live; undefined: `<data dir>/attachments`. */
  readonly attachmentsDir: string | undefined;
  /** The identity file; undefined: `<data dir>/identity.bin`. */
  readonly identityFile: string | undefined;
  readonly metrics: MetricsOptions;
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const USAGE = `usage: parley-relay [--host HOST] [--port PORT] [--data DIR] [--log-level LEVEL]
                    [--store sqlite|postgres] [--database-url postgres://…] [--bus local|redis] [--redis-url redis://…]
                    [--attachments DIR] [--identity FILE] [--metrics-host HOST] [--metrics-port PORT]
  env: PARLEY_RELAY_HOST, PARLEY_RELAY_PORT, PARLEY_RELAY_DATA, PARLEY_RELAY_LOG_LEVEL,
       PARLEY_RELAY_STORE, PARLEY_RELAY_DATABASE_URL, PARLEY_RELAY_BUS, PARLEY_RELAY_REDIS_URL,
       PARLEY_RELAY_ATTACHMENTS_DIR, PARLEY_RELAY_IDENTITY_FILE, PARLEY_RELAY_LIMITS (JSON), PARLEY_RELAY_TRUST_PROXY,
       PARLEY_RELAY_METRICS_HOST, PARLEY_RELAY_METRICS_PORT, PARLEY_RELAY_METRICS_TOKEN`;

function parsePort(text: string): number {
  if (!/^[0-9]{1,5}$/.test(text) || Number(text) > 65535) throw new ConfigError(`invalid port: ${text}`);
  return Number(text);
}

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): RelayConfig | 'help' {
  let values: {
    host?: string;
    port?: string;
    data?: string;
    'log-level'?: string;
    store?: string;
    'database-url'?: string;
    bus?: string;
    'redis-url'?: string;
    attachments?: string;
    identity?: string;
    'metrics-host'?: string;
    'metrics-port'?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        data: { type: 'string' },
        'log-level': { type: 'string' },
        store: { type: 'string' },
        'database-url': { type: 'string' },
        bus: { type: 'string' },
        'redis-url': { type: 'string' },
        attachments: { type: 'string' },
        identity: { type: 'string' },
        'metrics-host': { type: 'string' },
        'metrics-port': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
  if (values.help) return 'help';
  const host = values.host ?? env.PARLEY_RELAY_HOST ?? DEFAULT_HOST;
  const port = parsePort(values.port ?? env.PARLEY_RELAY_PORT ?? String(DEFAULT_PORT));
  const dataDir = values.data ?? env.PARLEY_RELAY_DATA ?? DEFAULT_DATA_DIR;
  const logLevel = values['log-level'] ?? env.PARLEY_RELAY_LOG_LEVEL ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new ConfigError(`invalid log level: ${logLevel}`);
  let limits: LimitsOverride = {};
  if (env.PARLEY_RELAY_LIMITS) {
    let raw: unknown;
    try {
      raw = JSON.parse(env.PARLEY_RELAY_LIMITS);
    } catch {
      throw new ConfigError('PARLEY_RELAY_LIMITS is not JSON');
    }
    const parsed = LimitsOverrideSchema.safeParse(raw);
    if (!parsed.success) throw new ConfigError(`PARLEY_RELAY_LIMITS: ${parsed.error.issues.map((i) => i.path.join('.')).join(', ')}`);
    limits = parsed.data;
  }
  const proxy = env.PARLEY_RELAY_TRUST_PROXY;
  const trustProxy = proxy === undefined || proxy === '' ? undefined : /^[0-9]+$/.test(proxy) ? Number(proxy) : proxy;
  const metricsPort = values['metrics-port'] ?? env.PARLEY_RELAY_METRICS_PORT;
  const metricsHost = values['metrics-host'] ?? env.PARLEY_RELAY_METRICS_HOST;
  if (metricsHost !== undefined && metricsPort === undefined) throw new ConfigError('a metrics host needs a metrics port');
  const token = env.PARLEY_RELAY_METRICS_TOKEN;
  if (token !== undefined && token.length < MIN_METRICS_TOKEN_LENGTH) {
    throw new ConfigError(`PARLEY_RELAY_METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN_LENGTH} characters`);
  }
  const metrics: MetricsOptions = {
    ...(token !== undefined && { token }),
    ...(metricsPort !== undefined && { listener: { host: metricsHost ?? DEFAULT_HOST, port: parsePort(metricsPort) } }),
  };
  const store = parseStore(values, env);
  const bus = parseBus(values, env);
  if (bus.backend === 'redis' && store.backend !== 'postgres') {
    throw new ConfigError('--bus redis is for several instances, which need one shared database: add --store postgres');
  }
  const attachments = values.attachments ?? env.PARLEY_RELAY_ATTACHMENTS_DIR;
  if (attachments === '') throw new ConfigError('the attachments directory is empty');
  const identityFile = values.identity ?? env.PARLEY_RELAY_IDENTITY_FILE;
  if (identityFile === '') throw new ConfigError('the identity file path is empty');
  return { host, port, dataDir, logLevel: logLevel as LevelWithSilent, limits, trustProxy, metrics, store, bus, attachmentsDir: attachments, identityFile };
}

function parseBus(values: { bus?: string; 'redis-url'?: string }, env: NodeJS.ProcessEnv): RelayConfig['bus'] {
  const backend = values.bus ?? env.PARLEY_RELAY_BUS ?? 'local';
  const url = values['redis-url'] ?? env.PARLEY_RELAY_REDIS_URL;
  if (backend === 'local') {
    if (url !== undefined) throw new ConfigError('a Redis URL is for --bus redis; the local bus needs none');
    return { backend };
  }
  if (backend !== 'redis') throw new ConfigError(`invalid bus: ${backend} (local or redis)`);
  if (url === undefined || url === '') throw new ConfigError('--bus redis needs --redis-url or PARLEY_RELAY_REDIS_URL');
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new ConfigError('the Redis URL is not a URL');
  }
  if (protocol !== 'redis:' && protocol !== 'rediss:') throw new ConfigError('the Redis URL must start with redis:// or rediss://');
  return { backend, url };
}

function parseStore(values: { store?: string; 'database-url'?: string }, env: NodeJS.ProcessEnv): RelayConfig['store'] {
  const backend = values.store ?? env.PARLEY_RELAY_STORE ?? 'sqlite';
  const url = values['database-url'] ?? env.PARLEY_RELAY_DATABASE_URL;
  if (backend === 'sqlite') {
    if (url !== undefined) throw new ConfigError('a database URL is for --store postgres; the SQLite store lives in the data dir');
    return { backend };
  }
  if (backend !== 'postgres') throw new ConfigError(`invalid store: ${backend} (sqlite or postgres)`);
  if (url === undefined || url === '') throw new ConfigError('--store postgres needs --database-url or PARLEY_RELAY_DATABASE_URL');
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    throw new ConfigError('the database URL is not a URL');
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') throw new ConfigError('the database URL must start with postgres:// or postgresql://');
  return { backend, url };
}
