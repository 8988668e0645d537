/**
 * The text the search index sees (docs/adr/0005-search.md): one folding function shared by the
 * index (through two SQL functions the schema's triggers call), the query parser and the snippet
 * highlighter, so all three agree on what "matches" means.
 *
 * Folding: NFKD, Latin/Greek/Cyrillic combining diacritics (U+0300-U+036F) removed, NFC again (so
 * Hangul and kana voicing marks recompose: "が" stays "が", only Latin-style accents go), lower
 * case, final sigma as sigma, and a few letters NFKD leaves alone mapped to their base (ł, ø, đ,
 * ß → ss, æ → ae …); NUL becomes a space. The FTS5 tokenizers fold again (`remove_diacritics`), which is idempotent on
 * this text. Compatibility forms fold too (full-width "ＡＢＣ" finds "abc", "ﬁ" finds "fi").
 *
 * Word index text: the folded text with every character that is not a letter, digit or private-use
 * character (TOKEN_RE) replaced by a space, and every Han, kana and Hangul letter set apart as a
 * token of its own, so a 1-2 character CJK query is a phrase of single-character tokens there.
 * Replacing the separators makes unicode61's tokens exactly the runs TOKEN_RE finds (its Unicode
 * tables are older than Node's: it would glue "hello🦊world" into one token), which the vocabulary
 * (vocabTokens) relies on. The trigram index gets the folded text unchanged and serves 3+
 * character queries.
 *
 * The index text is a function of the Unicode tables of the running Node (NFKD, case mapping,
 * scripts): `INDEX_TEXT_FORMAT` names the version, and the index is rebuilt when it changes (a
 * contentless FTS5 delete must present exactly the text that was inserted).
 * Does not own the schema (schema.ts), query syntax (query.ts) or snippets (snippet.ts).
 */
import type { SqlFunction } from '../db/database.js';

/** Bump when fold() or segmentCjk() changes: the index is rebuilt (see INDEX_TEXT_FORMAT). */
const INDEX_TEXT_VERSION = 2;

/** The index text format: our version plus the Unicode version of Node's tables. */
export const INDEX_TEXT_FORMAT = `${INDEX_TEXT_VERSION}/unicode-${process.versions.unicode ?? 'unknown'}`;

/** Letters NFKD does not decompose but users type without their stroke or as two letters. */
const EXTRA_FOLDS: Readonly<Record<string, string>> = {
  ł: 'l',
  ø: 'o',
  đ: 'd',
  ð: 'd',
  ħ: 'h',
  ŧ: 't',
  ı: 'i',
  ŀ: 'l',
  ß: 'ss',
  ẞ: 'ss',
  æ: 'ae',
  œ: 'oe',
  þ: 'th',
  ς: 'σ',
};
const EXTRA_FOLD_RE = /[łøđðħŧıŀßẞæœþς]/g;
const COMBINING_DIACRITICS_RE = /[\u0300-\u036f]/g;
// FTS5 reads a query as a C string: a NUL would end it mid-literal ("unterminated string").
const NUL_RE = /\0/g;

/** Han, hiragana, katakana and Hangul letters (including ー and 々, which are Lm in those scripts). */
export const CJK_LETTER_RE = /(?=\p{L})[\p{scx=Han}\p{scx=Hiragana}\p{scx=Katakana}\p{scx=Hangul}]/u;
const CJK_LETTER_GLOBAL_RE = new RegExp(CJK_LETTER_RE.source, 'gu');

/** unicode61's token characters (its default `categories 'L* N* Co'`); everything else separates. */
export const TOKEN_RE = /[\p{L}\p{N}\p{Co}]+/gu;

/** The folded form of `text` (see the module comment). */
export function fold(text: string): string {
  return text
    .normalize('NFKD')
    .replace(COMBINING_DIACRITICS_RE, '')
    .normalize('NFC')
    .toLowerCase()
    .replace(EXTRA_FOLD_RE, (c) => EXTRA_FOLDS[c]!)
    .replace(NUL_RE, ' ');
}

const NON_TOKEN_RE = /[^\p{L}\p{N}\p{Co}]/gu;

/** Folded text with every CJK letter set apart as a token of its own. */
export function segmentCjk(folded: string): string {
  return folded.replace(CJK_LETTER_GLOBAL_RE, ' $& ');
}

export function isCjkLetter(codePoint: string): boolean {
  return CJK_LETTER_RE.test(codePoint);
}

// The triggers index each message twice (word and trigram text) from the same body: keep the last fold.
let lastBody: string | null = null;
let lastFolded = '';
function foldCached(body: string): string {
  if (body !== lastBody) {
    lastFolded = fold(body);
    lastBody = body;
  }
  return lastFolded;
}

/** What the word index (unicode61) is given for a message body. */
export function wordIndexText(body: string): string {
  return segmentCjk(foldCached(body).replace(NON_TOKEN_RE, ' '));
}

/** Vocabulary tokens have three ASCII letters or digits in a row (what vocabulary queries look for). */
const VOCAB_TOKEN_RE = /[a-z0-9]{3}/;

/**
 * The distinct word-index tokens of a body that the vocabulary keeps (search_vocab): those with
 * three ASCII letters or digits in a row — every token an ASCII term of 3+ characters can occur in.
 */
export function vocabTokens(body: string): string[] {
  const tokens = new Set<string>();
  for (const token of wordIndexText(body).split(' ')) if (VOCAB_TOKEN_RE.test(token)) tokens.add(token);
  return [...tokens];
}

// A delete trigger asks three times for the same body's vocabulary: keep the last answer.
let lastVocabBody: string | null = null;
let lastVocabJson = '[]';
function vocabJson(body: string): string {
  if (body !== lastVocabBody) {
    lastVocabJson = JSON.stringify(vocabTokens(body));
    lastVocabBody = body;
  }
  return lastVocabJson;
}

/** What the trigram index is given for a message body. */
export function trigramIndexText(body: string): string {
  return foldCached(body);
}

/**
 * The SQL functions the search triggers call (`parley_search_words`, `parley_search_trigrams`,
 * `parley_search_vocab` — a JSON array of vocabTokens). Every connection that may write `messages`
 * needs them: the engine passes them to openDatabase and openSideConnection.
 */
export const SEARCH_SQL_FUNCTIONS: readonly SqlFunction[] = [
  { name: 'parley_search_words', call: (body) => (typeof body === 'string' ? wordIndexText(body) : null) },
  { name: 'parley_search_trigrams', call: (body) => (typeof body === 'string' ? trigramIndexText(body) : null) },
  { name: 'parley_search_vocab', call: (body) => (typeof body === 'string' ? vocabJson(body) : null) },
];
