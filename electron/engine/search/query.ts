/**
 * User query text → FTS5 MATCH expressions, safely (issue 6): nothing the user types is FTS5
 * syntax. The query is folded like the index text, split at white space into terms (at most
 * MAX_SEARCH_TERMS, duplicates dropped), and a message matches when it matches every term:
 *
 *  - a term of 3+ characters is a substring (trigram index): "uric" finds "Zürich";
 *  - a shorter term is a word prefix (word index, 1- and 2-character prefix indexes): "zu" finds
 *    "Zürich" and "zug", not "kazu";
 *  - a short CJK term is a phrase of single-character tokens (word index): "東京" finds "東京タワー".
 *
 * Each term reaches FTS5 only inside a double-quoted string with its quotes doubled, where quotes,
 * AND/OR/NOT/NEAR, `*`, `^`, parentheses and colons are plain characters; the one `*` outside the
 * string (prefix) is ours. A short term without letters or digits ("!", "*") matches nothing, so it
 * is dropped rather than making the query empty.
 */
import { fold, isCjkLetter, segmentCjk, TOKEN_RE } from './text.js';

/** Terms beyond this are ignored (a query is a few words, not a paragraph). */
export const MAX_SEARCH_TERMS = 16;

/** Shorter terms go to the word index; trigrams need three characters. */
export const TRIGRAM_MIN_LENGTH = 3;

export type SearchTerm =
  /** Occurs anywhere (trigram index). `text` is folded. */
  | { readonly kind: 'substring'; readonly text: string }
  /** Word index phrase of `tokens`; the last one a prefix unless it is a CJK letter. */
  | { readonly kind: 'word'; readonly tokens: readonly string[]; readonly prefix: boolean };

export type ParsedQuery = {
  readonly terms: readonly SearchTerm[];
  /** MATCH expression for search_words, or null when no term needs it. */
  readonly words: string | null;
  /** MATCH expression for search_trigrams, or null when no term needs it. */
  readonly trigrams: string | null;
};

/** An FTS5 string literal: everything inside is tokenized text, never syntax. */
export function phrase(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

function parseTerm(term: string): SearchTerm | null {
  const chars = [...term];
  if (chars.length >= TRIGRAM_MIN_LENGTH) return { kind: 'substring', text: term };
  const tokens = segmentCjk(term).match(TOKEN_RE) ?? [];
  if (tokens.length === 0) return null;
  // CJK letters are whole tokens in the word index: a prefix of one would match nothing more.
  return { kind: 'word', tokens, prefix: !isCjkLetter(tokens[tokens.length - 1]!) };
}

export function parseQuery(input: string): ParsedQuery {
  const seen = new Set<string>();
  const terms: SearchTerm[] = [];
  for (const raw of fold(input).split(/\s+/u)) {
    if (raw === '' || seen.has(raw)) continue;
    seen.add(raw);
    const term = parseTerm(raw);
    if (term) terms.push(term);
    if (terms.length === MAX_SEARCH_TERMS) break;
  }
  return buildMatch(terms, new Map());
}

/**
 * The MATCH expressions for `terms`. A substring term with an entry in `alternatives` (the
 * vocabulary's tokens containing it, query-plan.ts) becomes `("t1" OR "t2" …)` in the word index
 * instead of a phrase in the trigram index. Every operand is a string literal.
 */
export function buildMatch(terms: readonly SearchTerm[], alternatives: ReadonlyMap<string, readonly string[]>): ParsedQuery {
  const words: string[] = [];
  const trigrams: string[] = [];
  for (const t of terms) {
    if (t.kind === 'word') words.push(phrase(t.tokens.join(' ')) + (t.prefix ? '*' : ''));
    else {
      const tokens = alternatives.get(t.text);
      if (tokens && tokens.length > 0) words.push(tokens.length === 1 ? phrase(tokens[0]!) : `(${tokens.map(phrase).join(' OR ')})`);
      else trigrams.push(phrase(t.text));
    }
  }
  return {
    terms,
    words: words.length > 0 ? words.join(' AND ') : null,
    trigrams: trigrams.length > 0 ? trigrams.join(' AND ') : null,
  };
}

/** What the highlighter looks for in a folded body for `term`, and whether it must start a word. */
export function needleOf(term: SearchTerm): { readonly text: string; readonly wordStart: boolean } {
  if (term.kind === 'substring') return { text: term.text, wordStart: false };
  const text = term.tokens.join('');
  return { text, wordStart: !isCjkLetter([...text][0] ?? '') };
}
