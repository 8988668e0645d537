/**
 * `npm run forge -- …` (docs/deniability.md): the forging demonstration over the engine's own code.
 *
 *   npm run forge -- forge  --data DIR --profile NAME --peer ACCOUNT_ID --out FILE TEXT…
 *       From the profile's own secrets and the peer's public device list (what the relay serves;
 *       the profile holds a copy because the peer is a contact), writes a transcript of envelopes
 *       "from" the peer carrying TEXT… (parley-transcript-v1, the format real traffic is recorded in).
 *   npm run forge -- verify --data DIR --profile NAME --in FILE
 *       Replays a transcript (real or forged) into the profile through Parley's receive path,
 *       offline, and prints what it accepted. Run it on a copy of a profile: accepted messages are
 *       stored like received ones.
 *
 * DIR is the Parley data directory (the folder holding `profiles/`). The database key comes from
 * the OS keychain, or — for a passphrase profile — from PARLEY_PASSPHRASE. Nothing is sent: the
 * engine runs without a relay connection. Exit codes: 0 done, 1 refused (typed message), 2 usage.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { EngineEvent } from '../../../shared/api/types.js';
import { systemClock, systemRng } from '../../../shared/crypto/random.js';
import { Engine } from '../engine.js';
import { KeychainKeyStore, osKeychainBackend } from '../keys/keychain.js';
import { PassphraseKeyFile } from '../keys/passphrase-key-file.js';
import { resolveProfile } from '../profile.js';
import { ForgeError, forgeFromPeer, parseTranscript } from './forge.js';
import { verifyTranscript } from './verify.js';

function usage(message: string): never {
  process.stderr.write(`${message}\nusage: forge --data DIR --profile NAME --peer ACCOUNT_ID --out FILE TEXT… | verify --data DIR --profile NAME --in FILE\n`);
  process.exit(2);
}

async function open(data: string, name: string, events: EngineEvent[]): Promise<Engine> {
  const profile = resolveProfile(data, name);
  const engine = await Engine.start({
    profile,
    keychain: new KeychainKeyStore(osKeychainBackend, profile.keychainAccount, systemRng),
    passphrase: new PassphraseKeyFile(profile.keyFilePath, systemRng),
    emit: (e) => events.push(e),
    messaging: { offline: true },
  });
  if (engine.current === null) {
    const passphrase = process.env.PARLEY_PASSPHRASE;
    if (!passphrase) throw new ForgeError('BAD_TRANSCRIPT', 'the profile is locked: set PARLEY_PASSPHRASE, or it has no account');
    await engine.handlers()['account:unlock']({ passphrase });
  }
  return engine;
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { data: { type: 'string' }, profile: { type: 'string' }, peer: { type: 'string' }, out: { type: 'string' }, in: { type: 'string' } },
  });
  if (!values.data || !values.profile) usage('--data and --profile are required');
  const events: EngineEvent[] = [];
  if (command === 'forge') {
    if (!values.peer || !/^[0-9a-f]{32}$/.test(values.peer) || !values.out || positionals.length === 0) usage('forge needs --peer (32 hex digits), --out and at least one text');
    const engine = await open(values.data, values.profile, events);
    try {
      const { db, account } = engine.current!;
      const t = forgeFromPeer(db.reader, account, Buffer.from(values.peer, 'hex'), positionals, { rng: systemRng, now: systemClock });
      writeFileSync(values.out, `${JSON.stringify(t, null, 2)}\n`, { mode: 0o600 });
      process.stdout.write(`wrote ${t.envelopes.length} forged envelope(s) from ${values.peer} to ${values.out}\n`);
    } finally {
      await engine.close();
    }
  } else if (command === 'verify') {
    if (!values.in) usage('verify needs --in');
    const t = parseTranscript(readFileSync(values.in, 'utf8'));
    const engine = await open(values.data, values.profile, events);
    try {
      const { accepted, refused } = await verifyTranscript(engine.messaging!, t, events);
      for (const m of accepted) process.stdout.write(`accepted  from ${m.from}  ${new Date(m.sentAt).toISOString()}  ${JSON.stringify(m.text)}\n`);
      process.stdout.write(`${accepted.length} accepted, ${refused} refused\n`);
    } finally {
      await engine.close();
    }
  } else {
    usage(`unknown command ${JSON.stringify(command ?? '')}`);
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`${e instanceof ForgeError ? `${e.code}: ${e.message}` : e instanceof Error ? e.name : 'error'}\n`);
  process.exit(1);
});
