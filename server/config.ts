/**
 * Command line and environment of the `parley-relay` bin: `--host --port --data --log-level` or
 * PARLEY_RELAY_HOST / PARLEY_RELAY_PORT / PARLEY_RELAY_DATA / PARLEY_RELAY_LOG_LEVEL (flags win),
 * PARLEY_RELAY_LIMITS (JSON overrides of server/limits/relay-limits.ts) and
 * PARLEY_RELAY_TRUST_PROXY (Express `trust proxy`: a hop count, or an address list).
 * Defaults: 127.0.0.1, port 8787, ./.parley-relay. Port 0 asks the OS for a free port.
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
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export const USAGE = `usage: parley-relay [--host HOST] [--port PORT] [--data DIR] [--log-level LEVEL]
  env: PARLEY_RELAY_HOST, PARLEY_RELAY_PORT, PARLEY_RELAY_DATA, PARLEY_RELAY_LOG_LEVEL,
       PARLEY_RELAY_LIMITS (JSON), PARLEY_RELAY_TRUST_PROXY`;

export function parseConfig(argv: readonly string[], env: NodeJS.ProcessEnv): RelayConfig | 'help' {
  let values: { host?: string; port?: string; data?: string; 'log-level'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        data: { type: 'string' },
        'log-level': { type: 'string' },
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
  return { host, port: Number(portText), dataDir, logLevel: logLevel as LevelWithSilent, limits, trustProxy };
}
