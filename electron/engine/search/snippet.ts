/**
 * Snippets for search results: a window of the message body around its first match, with the
 * match ranges (UTF-16 offsets into the snippet text) instead of markup — the renderer highlights
 * them as text, so nothing from a message is ever interpreted as HTML.
 *
 * Matches are found on the folded body (text.ts) and mapped back to the original characters, code
 * point by code point; this is best effort (a decomposed character sequence may fold differently
 * one code point at a time than as a whole), and a snippet without ranges is still a valid result.
 * Does not decide what matches (the index does); it only shows where.
 */
import type { MatchRange, Snippet } from '../../../shared/api/view-models.js';
import { needleOf, type SearchTerm } from './query.js';
import { fold, isCjkLetter } from './text.js';

/** Snippet length in UTF-16 code units. */
export const MAX_SNIPPET_LENGTH = 160;
/** How much text before the first match a snippet keeps when it cannot show the whole body. */
const CONTEXT_BEFORE = 40;

const WORD_CHAR_RE = /[\p{L}\p{N}\p{Co}]/u;

function isLowSurrogate(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return i > 0 && c >= 0xdc00 && c <= 0xdfff;
}

type FoldedBody = {
  readonly text: string;
  /** For each UTF-16 unit of `text`: the original code point's [start, end) in the body. */
  readonly from: Int32Array;
  readonly to: Int32Array;
};

function foldWithOffsets(body: string): FoldedBody {
  let text = '';
  const from: number[] = [];
  const to: number[] = [];
  for (let i = 0; i < body.length; ) {
    const cp = body.codePointAt(i)!;
    const width = cp > 0xffff ? 2 : 1;
    // ASCII is by far the common case: only A-Z changes.
    const f = cp < 0x80 ? (cp >= 0x41 && cp <= 0x5a ? String.fromCharCode(cp + 32) : body[i]!) : fold(body.slice(i, i + width));
    text += f;
    for (let k = 0; k < f.length; k++) {
      from.push(i);
      to.push(i + width);
    }
    i += width;
  }
  return { text, from: Int32Array.from(from), to: Int32Array.from(to) };
}

function startsWord(folded: string, at: number): boolean {
  if (at === 0) return true;
  const pair = at >= 2 && isLowSurrogate(folded, at - 1);
  const before = folded.slice(pair ? at - 2 : at - 1, at);
  return !WORD_CHAR_RE.test(before) || isCjkLetter(before);
}

/** Every match of the terms in `body`, merged, in body offsets. */
export function matchRanges(body: string, terms: readonly SearchTerm[]): MatchRange[] {
  const folded = foldWithOffsets(body);
  const found: MatchRange[] = [];
  for (const term of terms) {
    const needle = needleOf(term);
    if (needle.text === '') continue;
    for (let at = folded.text.indexOf(needle.text); at !== -1; at = folded.text.indexOf(needle.text, at + 1)) {
      if (needle.wordStart && !startsWord(folded.text, at)) continue;
      found.push({ start: folded.from[at]!, end: folded.to[at + needle.text.length - 1]! });
    }
  }
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: MatchRange[] = [];
  for (const r of found) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end) merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, r.end) };
    else merged.push(r);
  }
  return merged;
}

/** The snippet of `body` for `terms`: the whole body if it is short, else a window at the first match. */
export function makeSnippet(body: string, terms: readonly SearchTerm[]): Snippet {
  const ranges = matchRanges(body, terms);
  let start = 0;
  let end = body.length;
  if (body.length > MAX_SNIPPET_LENGTH) {
    const anchor = ranges[0]?.start ?? 0;
    start = Math.max(0, Math.min(anchor - CONTEXT_BEFORE, body.length - MAX_SNIPPET_LENGTH));
    if (start > 0) {
      // Start after a word break when there is one before the match.
      const gap = body.slice(start, anchor).search(/\s/u);
      if (gap !== -1) start += gap + 1;
    }
    if (isLowSurrogate(body, start)) start += 1;
    end = Math.min(body.length, start + MAX_SNIPPET_LENGTH);
    if (isLowSurrogate(body, end)) end -= 1;
  }
  const inWindow = ranges
    .filter((r) => r.end > start && r.start < end)
    .map((r) => ({ start: Math.max(r.start, start) - start, end: Math.min(r.end, end) - start }));
  return { text: body.slice(start, end), ranges: inWindow, truncatedStart: start > 0, truncatedEnd: end < body.length };
}
