/**
 * The relay's logger (pino, JSON lines on stdout). Log calls pass ids and counts, never bodies,
 * ciphertext, keys or tokens; the redaction list below is a second line of defence for fields that
 * must never appear even by mistake. Errors are logged with a stack only for INTERNAL failures.
 */
import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

const REDACT = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'content',
  '*.content',
  'body',
  '*.body',
  'signature',
  '*.signature',
  'privateKey',
  '*.privateKey',
];

/** The relay's logger; `destination` (default stdout) lets a test read every line it writes. */
export function createLogger(level: LevelWithSilent = 'info', destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'parley-relay' },
    redact: { paths: REDACT, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
