/** The bin's configuration: flags win over env, defaults, and refusals with a ConfigError. */
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, MIN_METRICS_TOKEN_LENGTH, parseConfig, type RelayConfig } from './config.js';

describe('parseConfig', () => {
  it('defaults to 127.0.0.1, the default port and ./.parley-relay', () => {
    expect(parseConfig([], {})).toMatchObject({ host: DEFAULT_HOST, port: DEFAULT_PORT, dataDir: DEFAULT_DATA_DIR, logLevel: 'info', limits: {} });
  });

  it('reads PARLEY_RELAY_* and lets flags win', () => {
    const env = { PARLEY_RELAY_HOST: '0.0.0.0', PARLEY_RELAY_PORT: '9000', PARLEY_RELAY_DATA: '/env', PARLEY_RELAY_LIMITS: '{"maxConnections":7}', PARLEY_RELAY_TRUST_PROXY: '1' };
    expect(parseConfig([], env)).toMatchObject({ host: '0.0.0.0', port: 9000, dataDir: '/env', limits: { maxConnections: 7 }, trustProxy: 1 });
    expect(parseConfig(['--port', '0', '--data', '/flag', '--host', '::1'], env)).toMatchObject({ host: '::1', port: 0, dataDir: '/flag' });
  });

  it('serves /metrics nowhere by default; a token from the environment only; a listener of its own on 127.0.0.1 unless told', () => {
    expect((parseConfig([], {}) as RelayConfig).metrics).toEqual({});
    const token = 'x'.repeat(MIN_METRICS_TOKEN_LENGTH);
    expect((parseConfig([], { PARLEY_RELAY_METRICS_TOKEN: token }) as RelayConfig).metrics).toEqual({ token });
    expect((parseConfig(['--metrics-port', '9100'], {}) as RelayConfig).metrics).toEqual({ listener: { host: DEFAULT_HOST, port: 9100 } });
    expect((parseConfig([], { PARLEY_RELAY_METRICS_HOST: '10.0.0.1', PARLEY_RELAY_METRICS_PORT: '0' }) as RelayConfig).metrics).toEqual({
      listener: { host: '10.0.0.1', port: 0 },
    });
    expect(() => parseConfig([], { PARLEY_RELAY_METRICS_TOKEN: 'short' })).toThrow(ConfigError);
    expect(() => parseConfig(['--metrics-host', '::1'], {})).toThrow(ConfigError);
    expect(() => parseConfig(['--metrics-port', '70000'], {})).toThrow(ConfigError);
  });

  it('accepts PARLEY_RELAY_LIMITS in the points-per-duration shape and the token-bucket shape of earlier releases', () => {
    const config = parseConfig([], { PARLEY_RELAY_LIMITS: '{"authPerIp":{"points":5,"duration":30},"bundlesPerPair":{"capacity":10,"refillPerSecond":0.5}}' });
    expect((config as RelayConfig).limits).toMatchObject({ authPerIp: { points: 5, duration: 30 }, bundlesPerPair: { points: 10, duration: 20 } });
  });

  it('refuses bad ports, unknown flags, bad log levels and bad limit overrides', () => {
    for (const [argv, env] of [
      [['--port', '65536'], {}],
      [['--port', 'x'], {}],
      [['--nope'], {}],
      [['--log-level', 'loud'], {}],
      [[], { PARLEY_RELAY_LIMITS: '{' }],
      [[], { PARLEY_RELAY_LIMITS: '{"maxConnections":"many"}' }],
    ] as const) {
      expect(() => parseConfig(argv, env)).toThrow(ConfigError);
    }
    expect(parseConfig(['--help'], {})).toBe('help');
  });

  it('keeps the database in the data dir by default, in PostgreSQL with --store postgres and a URL (flags win over env)', () => {
    expect(parseConfig([], {})).toMatchObject({ store: { backend: 'sqlite' } });
    const url = 'postgres://relay:pw@db.internal:5432/relay';
    expect(parseConfig(['--store', 'postgres', '--database-url', url], {})).toMatchObject({ store: { backend: 'postgres', url } });
    const env = { PARLEY_RELAY_STORE: 'postgres', PARLEY_RELAY_DATABASE_URL: 'postgresql://env/relay' };
    expect(parseConfig([], env)).toMatchObject({ store: { backend: 'postgres', url: 'postgresql://env/relay' } });
    expect(parseConfig(['--database-url', url], env)).toMatchObject({ store: { backend: 'postgres', url } });
    expect(parseConfig(['--store', 'sqlite'], { PARLEY_RELAY_STORE: 'postgres' })).toMatchObject({ store: { backend: 'sqlite' } });
  });

  it('refuses a store without its URL, a URL without its store, other stores and other schemes, never echoing the URL', () => {
    const secret = 'postgres://relay:s3cret-pw@db/relay';
    for (const [argv, env] of [
      [['--store', 'postgres'], {}],
      [['--store', 'postgres', '--database-url', ''], {}],
      [['--database-url', secret], {}],
      [['--store', 'sqlite'], { PARLEY_RELAY_DATABASE_URL: secret }],
      [['--store', 'mysql', '--database-url', secret], {}],
      [['--store', 'postgres', '--database-url', 'mysql://relay:s3cret-pw@db/relay'], {}],
      [['--store', 'postgres', '--database-url', 's3cret-pw not a url'], {}],
    ] as const) {
      let error: unknown;
      try {
        parseConfig(argv, env);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain('s3cret');
    }
  });

  it('uses the local bus by default, Redis with --bus redis and a URL (flags win over env), only together with PostgreSQL', () => {
    const pg = ['--store', 'postgres', '--database-url', 'postgres://db/relay'];
    expect(parseConfig([], {})).toMatchObject({ bus: { backend: 'local' }, attachmentsDir: undefined, identityFile: undefined });
    const url = 'redis://:pw@cache.internal:6379/0';
    expect(parseConfig([...pg, '--bus', 'redis', '--redis-url', url], {})).toMatchObject({ bus: { backend: 'redis', url } });
    const env = { PARLEY_RELAY_BUS: 'redis', PARLEY_RELAY_REDIS_URL: 'rediss://env:6380', PARLEY_RELAY_ATTACHMENTS_DIR: '/shared/blobs', PARLEY_RELAY_IDENTITY_FILE: '/etc/id' };
    expect(parseConfig(pg, env)).toMatchObject({ bus: { backend: 'redis', url: 'rediss://env:6380' }, attachmentsDir: '/shared/blobs', identityFile: '/etc/id' });
    expect(parseConfig([...pg, '--redis-url', url, '--attachments', '/flag', '--identity', '/flag-id'], env)).toMatchObject({
      bus: { backend: 'redis', url },
      attachmentsDir: '/flag',
      identityFile: '/flag-id',
    });
    expect(parseConfig(['--bus', 'local'], { PARLEY_RELAY_BUS: 'redis' })).toMatchObject({ bus: { backend: 'local' } });
  });

  it('refuses a bus without its URL, a URL without its bus, Redis on SQLite, other buses and schemes, never echoing the URL', () => {
    const pg = ['--store', 'postgres', '--database-url', 'postgres://db/relay'];
    const secret = 'redis://:s3cret-pw@cache/0';
    for (const [argv, env] of [
      [[...pg, '--bus', 'redis'], {}],
      [[...pg, '--bus', 'redis', '--redis-url', ''], {}],
      [[...pg, '--redis-url', secret], {}],
      [[...pg, '--bus', 'local'], { PARLEY_RELAY_REDIS_URL: secret }],
      [['--bus', 'redis', '--redis-url', secret], {}],
      [[...pg, '--bus', 'nats', '--redis-url', secret], {}],
      [[...pg, '--bus', 'redis', '--redis-url', 'http://:s3cret-pw@cache/0'], {}],
      [[...pg, '--bus', 'redis', '--redis-url', 's3cret-pw not a url'], {}],
      [['--attachments', ''], {}],
      [['--identity', ''], {}],
    ] as const) {
      let error: unknown;
      try {
        parseConfig(argv, env);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).not.toContain('s3cret');
    }
  });
});
