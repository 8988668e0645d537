/**
 * Command line and environment of the `parley-relay` bin: `--host --port --data --log-level
 * --store --database-url` or PARLEY_RELAY_HOST / PARLEY_RELAY_PORT / PARLEY_RELAY_DATA /
 * PARLEY_RELAY_LOG_LEVEL / PARLEY_RELAY_STORE / PARLEY_RELAY_DATABASE_URL (flags win),
 * PARLEY_RELAY_LIMITS (JSON overrides of server/limits/relay-limits.ts) and
 * PARLEY_RELAY_TRUST_PROXY (Express `trust proxy`: a hop count, or an address list).
 * Defaults: 127.0.0.1, port 8787, ./.parley-relay, the SQLite store in the data dir. Port 0 asks the
 * OS for a free port. `--store postgres` keeps the relay's database in PostgreSQL at the database
 * URL (the data dir still holds the relay's identity). Error messages never repeat a database URL:
 * it may hold a password.
 */
import { parseArgs } from 'node:util';
import type { LevelWithSilent } from 'pino';
import { LimitsOverrideSchema, type LimitsOverride } from './limits/relay-limits.js';

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8787;
export const DEFAULT_DATA_DIR = '.parley-relay';
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export type RelayConfig = {
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly logLevel: LevelWithSilent;
  readonly limits: LimitsOverride;
  readonly trustProxy: boolean | string | number | undefined;
  /** Where the relay's database lives: the SQLite file in the data dir, or PostgreSQL at `url`. */
  readonly store: { readonly backend: 'sqlite' } | { readonly backend: 'postgres'; readonly url: string };
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const USAGE = `usage: parley-relay [--host HOST] [--port PORT] [--data DIR] [--log-level LEVEL]
                    [--store sqlite|postgres] [--database-url postgres://…]
  env: PARLEY_RELAY_HOST, PARLEY_RELAY_PORT, PARLEY_RELAY_DATA, PARLEY_RELAY_LOG_LEVEL,
       PARLEY_RELAY_STORE, PARLEY_RELAY_DATABASE_URL, PARLEY_RELAY_LIMITS (JSON), PARLEY_RELAY_TRUST_PROXY`;

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): RelayConfig | 'help' {
  let values: {
    host?: string;
    port?: string;
    data?: string;
    'log-level'?: string;
    store?: string;
    'database-url'?: string;
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
  const portText = values.port ?? env.PARLEY_RELAY_PORT ?? String(DEFAULT_PORT);
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) throw new ConfigError(`invalid port: ${portText}`);
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
  return { host, port: Number(portText), dataDir, logLevel: logLevel as LevelWithSilent, limits, trustProxy, store: parseStore(values, env) };
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
