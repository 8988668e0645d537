#!/usr/bin/env node
/**
 * `npm run kt -- …` (issue 19, ADR 0034): the key-transparency log for auditors and operators.
 *
 *   kt head        (--relay URL | --data DIR [--database-url URL]) [--since N]
 *   kt inclusion   (--relay URL | --data DIR [--database-url URL]) --index I [--size N]
 *   kt consistency (--relay URL | --data DIR [--database-url URL]) --from A --to B
 *   kt verify      [FILE | -] [--key HEX]
 *
 * Prints one JSON document (bytes in lowercase hex: signed head, roots, leaf bytes and fields, leaf
 * hashes, proof hashes), each proof already checked; `verify` re-checks such a document from its own
 * bytes (RFC 9162; a head's signature under --key, or the key the document names). `--data` reads a
 * stopped relay's data dir (SQLite) or, with --database-url, its PostgreSQL database; `--relay` asks
 * a running relay's public routes. Exit codes: 0 done and valid, 1 a proof that does not verify or a
 * typed failure (one line on stderr), 2 usage.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fromHex } from '../../shared/crypto/bytes.js';
import { isProtocolError } from '../../shared/protocol/errors.js';
import { RelayError } from '../core/errors.js';
import { AuditError, consistencyReport, dataDirSource, headReport, httpSource, inclusionReport, verifyDocument, type KtSource } from './audit.js';

const USAGE = `usage: kt head|inclusion|consistency (--relay URL | --data DIR [--database-url URL]) [--since N] [--index I] [--size N] [--from A --to B]
       kt verify [FILE|-] [--key HEX]`;

function usage(message: string): never {
  process.stderr.write(`kt: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function size(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^(0|[1-9][0-9]{0,15})$/.test(value) || !Number.isSafeInteger(Number(value))) usage(`--${name} must be a non-negative integer`);
  return Number(value);
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      relay: { type: 'string' },
      data: { type: 'string' },
      'database-url': { type: 'string' },
      since: { type: 'string' },
      index: { type: 'string' },
      size: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      key: { type: 'string' },
    },
  });
  if (command === 'verify') {
    const file = positionals[0] ?? '-';
    const text = readFileSync(file === '-' ? 0 : file, 'utf8');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      throw new AuditError('BAD_INPUT', 'the input is not JSON');
    }
    if (values.key !== undefined && !/^[0-9a-f]{64}$/.test(values.key)) usage('--key must be 64 lowercase hex digits');
    const result = verifyDocument(doc, values.key === undefined ? undefined : fromHex(values.key));
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (!result.valid) process.exitCode = 1;
    return;
  }
  if (command !== 'head' && command !== 'inclusion' && command !== 'consistency') usage('a command is required');
  if ((values.relay === undefined) === (values.data === undefined)) usage('give exactly one of --relay URL and --data DIR');
  const source: KtSource = values.relay !== undefined ? httpSource(values.relay) : await dataDirSource(values.data!, values['database-url']);
  try {
    let report: unknown;
    if (command === 'head') report = await headReport(source, size(values.since, 'since') ?? 0);
    else if (command === 'inclusion') {
      const index = size(values.index, 'index');
      if (index === undefined) usage('inclusion needs --index');
      report = await inclusionReport(source, index, size(values.size, 'size'));
    } else {
      const from = size(values.from, 'from');
      const to = size(values.to, 'to');
      if (from === undefined || to === undefined) usage('consistency needs --from and --to');
      report = await consistencyReport(source, from, to);
    }
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    await source.close();
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof AuditError || e instanceof RelayError || isProtocolError(e)) {
    process.stderr.write(`kt: ${(e as { code: string }).code}: ${(e as Error).message}\n`);
    process.exit(1);
  }
  process.stderr.write(`kt: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
