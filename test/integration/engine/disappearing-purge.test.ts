/**
 * The purge of an expired message, tested honestly (issue 17 "Test the purge honestly", DESIGN
 * §3.8): SQLCipher encrypts the database pages, the WAL and free pages, so scanning a real profile's
 * files would find nothing whether the purge worked or not. Bob's profile here is opened without
 * encryption (the test-only `unencryptedDatabaseForTests`, db/database.ts), everything else is the
 * real engine on the real relay: Alice sends a timed text, a timed file with unique words and a
 * timed photo (its thumbnail is kept only in Bob's attachment row), Bob
 * receives them, they are indexed for search, the file is downloaded and opened (a decrypted
 * temporary copy on disk), Bob reads them, his clock moves past the timer and the expiry runs.
 *
 * Before the expiry the same scan finds the words (so it can fail); after it, the raw bytes of the
 * database, its -wal and -shm files and every file of the attachments folder, and every value of
 * every table — the FTS5 shadow tables (`search_words_data`, `…_idx`, `…_config`, the trigram and
 * vocabulary tables) included — hold none of them, and the FTS5 indexes match none of them.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { identifier, sql } from '../../../electron/engine/db/sql.js';
import { sendFile } from '../../support/attachments.js';
import { relayAndEngines, TestEngine, waitFor } from '../../support/engines.js';

const fixture = relayAndEngines();

/** Words that occur nowhere else (not in any username, key or fixture). */
const TEXT_WORDS = ['quokkamanifesto', 'zanzibarplover'];
const TEXT = `meet at the ${TEXT_WORDS[0]} by the ${TEXT_WORDS[1]} at dawn`;
const FILE_WORDS = ['xylophonequartzfile', 'blimpschematic', 'cormorantcaption'];
const FILE_BODY = Buffer.from(`${FILE_WORDS[0]} `.repeat(400));
const PHOTO_WORD = 'flamingocaption';

function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const file = join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [file];
  });
}

/** Needles found in the raw bytes of the profile's database files and its attachments folder. */
type Needle = string | { readonly label: string; readonly bytes: Buffer };
const bytesOf = (n: Needle): Buffer => (typeof n === 'string' ? Buffer.from(n, 'utf8') : n.bytes);
const labelOf = (n: Needle): string => (typeof n === 'string' ? n : n.label);

function rawHits(engine: TestEngine, needles: readonly Needle[]): string[] {
  const db = engine.engine.profile.databasePath;
  const files = [db, `${db}-wal`, `${db}-shm`, ...filesUnder(join(engine.engine.profile.dataDir, 'attachments'))].filter((f) => existsSync(f));
  const found: string[] = [];
  for (const file of files) {
    const bytes = readFileSync(file);
    for (const needle of needles) if (bytes.includes(bytesOf(needle))) found.push(`${labelOf(needle)} in ${file.slice(engine.engine.profile.dataDir.length)}`);
  }
  return found;
}

/** Needles found in any value of any table (shadow tables included), read through SQL. */
function tableHits(engine: TestEngine, needles: readonly Needle[]): string[] {
  const db = engine.engine.current!.db.writer;
  // Every real table: the FTS5 virtual tables are contentless (nothing to scan); their shadow
  // tables, which hold the index itself, are real tables and are scanned.
  const tables = db
    .all<{ name: string }>(sql`SELECT name FROM sqlite_schema WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name`)
    .map((t) => t.name);
  expect(tables).toEqual(expect.arrayContaining(['messages', 'attachments', 'search_words_data', 'search_words_idx', 'search_trigrams_data', 'search_vocab']));
  const found: string[] = [];
  for (const table of tables) {
    const rows = db.all<Record<string, unknown>>(sql`SELECT * FROM ${identifier(table)}`);
    for (const row of rows) {
      for (const value of Object.values(row)) {
        const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value instanceof Uint8Array ? Buffer.from(value) : null;
        if (bytes === null) continue;
        for (const needle of needles) if (bytes.includes(bytesOf(needle))) found.push(`${labelOf(needle)} in ${table}`);
      }
    }
  }
  return found;
}

/** FTS5 matches for each word, in both indexes. */
function indexMatches(engine: TestEngine, words: readonly string[]): number {
  const db = engine.engine.current!.db.writer;
  let n = 0;
  for (const w of words) {
    n += db.get<{ n: number }>(sql`SELECT count(*) AS n FROM search_words WHERE search_words MATCH ${`"${w}"`}`)!.n;
    n += db.get<{ n: number }>(sql`SELECT count(*) AS n FROM search_trigrams WHERE search_trigrams MATCH ${`"${w}"`}`)!.n;
  }
  return n;
}

describe('the purge of an expired message (unencrypted test profile)', () => {
  it('leaves the text, its unique words, the file’s bytes, name and caption and the photo’s thumbnail nowhere: not in the db, -wal, -shm or attachments folder, not in any table or FTS5 shadow table', async () => {
    const alice = await fixture.engine('alice');
    const bob = await TestEngine.create({ relayUrl: fixture.relay.url, name: 'bob', unencryptedDatabase: true });
    fixture.track(bob);
    expect(bob.engine.current!.db.unencryptedForTests).toBe(true);
    const aToB = await alice.add(bob);
    const bToA = await bob.add(alice);
    await alice.call('conversations:setTimer', { conversationId: aToB, seconds: 30 });

    await alice.send(aToB, TEXT);
    await sendFile(alice, aToB, `${FILE_WORDS[1]}.txt`, FILE_BODY, { asFile: true, caption: `the ${FILE_WORDS[2]}` });
    // A photo too: its thumbnail (made by the sender, kept only in Bob's attachment row) must go.
    const noise = Buffer.from(Array.from({ length: 48 * 48 * 3 }, (_, i) => (i * 7919 + (i >> 3) * 31) % 256));
    const photo = await sharp(noise, { raw: { width: 48, height: 48, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
    await sendFile(alice, aToB, 'photo.jpg', photo, { caption: `the ${PHOTO_WORD}` });
    const text = await bob.receive(alice, TEXT);
    await waitFor(() => bob.payloads('message:added').filter((p) => p.message.kind === 'attachment').length === 2, 'the file and the photo at Bob', 20_000);
    const file = bob.payloads('message:added').find((p) => p.message.kind === 'attachment' && !p.message.attachment?.thumbnail)!.message;
    const shownPhoto = bob.payloads('message:added').find((p) => p.message.kind === 'attachment' && p.message.attachment?.thumbnail)!.message;
    const thumbnail = Buffer.from(shownPhoto.attachment!.thumbnail!, 'base64');
    expect(thumbnail.length).toBeGreaterThan(200);
    // Downloaded and opened: the ciphertext and a decrypted temporary copy are on disk.
    await bob.call('attachments:open', { messageId: file.id });
    expect((await bob.call('search:query', { query: TEXT_WORDS[0]!, limit: 10 })).results).toHaveLength(1);
    const newest = [file.id, text.id, shownPhoto.id].sort((x, y) => Number(y) - Number(x))[0]!;
    await bob.call('messages:markRead', { conversationId: bToA, upToMessageId: newest });

    const thumbnailNeedle = { label: 'thumbnail', bytes: thumbnail.subarray(thumbnail.length - 96, thumbnail.length - 32) };
    const needles: Needle[] = [TEXT, ...TEXT_WORDS, ...FILE_WORDS, PHOTO_WORD, thumbnailNeedle];
    // The scans can fail: before the expiry they find the text, its words and the file's bytes.
    expect(rawHits(bob, needles).some((h) => h.startsWith(TEXT_WORDS[0]!))).toBe(true);
    expect(rawHits(bob, [FILE_WORDS[0]!]).some((h) => h.includes('/open/'))).toBe(true);
    expect(tableHits(bob, needles)).toEqual(expect.arrayContaining([`${TEXT} in messages`, `${FILE_WORDS[1]} in attachments`, `${TEXT_WORDS[0]} in search_vocab`, 'thumbnail in attachments']));
    expect(indexMatches(bob, TEXT_WORDS)).toBeGreaterThan(0);

    bob.clock.advance(31_000);
    await bob.engine.messaging!.expiry.run();
    expect((await bob.messages(bToA)).map((m) => m.kind)).toEqual(['timer-changed']);
    expect(indexMatches(bob, [PHOTO_WORD])).toBe(0);
    expect((await bob.call('search:query', { query: TEXT_WORDS[0]!, limit: 10 })).results).toEqual([]);

    expect(tableHits(bob, needles)).toEqual([]);
    expect(indexMatches(bob, [...TEXT_WORDS, ...FILE_WORDS])).toBe(0);
    expect(rawHits(bob, needles)).toEqual([]);
    const db = bob.engine.current!.db.path;
    expect(statSync(`${db}-wal`).size).toBe(0);
    expect(filesUnder(join(bob.engine.profile.dataDir, 'attachments'))).toEqual([]);

    // And still nowhere once the engine has closed (its last checkpoint).
    await bob.close();
    expect(rawHits(bob, needles)).toEqual([]);
  });
});
