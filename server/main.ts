#!/usr/bin/env node
/**
 * `parley-relay`: the relay's command-line entry (DESIGN §5; `npm run relay -- --host H --port P
 * --data DIR [--store postgres --database-url URL]`). Starts the relay, prints one machine-readable line
 *   {"event":"parley-relay.listening","url":…,"host":…,"port":…[,"metricsUrl":…]}
 * on stdout once it accepts connections (tests and scripts read the bound port from it; port 0
 * works), and on SIGTERM or SIGINT drains and exits 0. A bug that escapes every handler is logged
 * and exits 1. Owns process concerns only; the relay itself is server/relay.ts.
 */
import { ConfigError, parseConfig, USAGE } from './config.js';
import { createLogger } from './logger.js';
import { startRelay } from './relay.js';

async function main(): Promise<void> {
  let config;
  try {
    config = parseConfig(process.argv.slice(2), process.env);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`parley-relay: ${e.message}\n${USAGE}\n`);
      process.exit(2);
    }
    throw e;
  }
  if (config === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const log = createLogger(config.logLevel);
  process.on('uncaughtException', (e) => {
    log.fatal({ err: e, event: 'relay.uncaught' }, 'uncaught exception');
    process.stderr.write(`parley-relay: fatal: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });
  process.on('unhandledRejection', (e) => {
    log.fatal({ err: e, event: 'relay.unhandled-rejection' }, 'unhandled rejection');
    process.stderr.write(`parley-relay: fatal: unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  });

  // The signal handlers go in before anything starts: a SIGTERM that arrives while the relay starts,
  // or right after it said it listens, still drains and exits 0 (never the default kill).
  let stopping = false;
  let started: Promise<Awaited<ReturnType<typeof startRelay>>> | null = null;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ event: 'relay.signal', signal }, 'stopping');
    if (!started) process.exit(0);
    started.then((r) => r.close()).then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: e, event: 'relay.close-failed' }, 'close failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  started = startRelay({
    host: config.host,
    port: config.port,
    dataDir: config.dataDir,
    logger: log,
    limits: config.limits,
    trustProxy: config.trustProxy,
    metrics: config.metrics,
    storeThread: 'worker',
    ...(config.store.backend === 'postgres' && { postgresUrl: config.store.url }),
    ...(config.bus.backend === 'redis' && { redisUrl: config.bus.url }),
    ...(config.attachmentsDir !== undefined && { attachmentsDir: config.attachmentsDir }),
    ...(config.identityFile !== undefined && { identityFile: config.identityFile }),
  });
  const relay = await started;
  if (stopping) return;
  process.stdout.write(
    `${JSON.stringify({ event: 'parley-relay.listening', url: relay.url, host: relay.host, port: relay.port, metricsUrl: relay.metricsUrl })}\n`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`parley-relay: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
