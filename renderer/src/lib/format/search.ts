/**
 * Search results as the panel shows them (issue 6): grouped by conversation, and each snippet as
 * text parts to render, marked or not (the match is highlighted).
 * The engine sends the snippet's text and the match ranges (UTF-16 offsets), never markup; the
 * search panel renders the parts as text inside <mark> elements, so nothing from a message is ever
 * interpreted as HTML. Ranges are trusted only as far as they make sense: clamped to the text,
 * sorted, overlapping ones merged, empty ones dropped, never splitting a surrogate pair.
 */
import type { SearchHit, Snippet } from '../../../../shared/api/types.js';

/** One conversation's results, newest first; groups are ordered by their newest result. */
export type SearchGroup = { readonly conversationId: string; readonly hits: readonly SearchHit[] };

/** Groups newest-first results by conversation, keeping both orders. */
export function groupByConversation(hits: readonly SearchHit[]): SearchGroup[] {
  const groups = new Map<string, SearchHit[]>();
  for (const hit of hits) {
    const group = groups.get(hit.conversationId);
    if (group) group.push(hit);
    else groups.set(hit.conversationId, [hit]);
  }
  return [...groups].map(([conversationId, list]) => ({ conversationId, hits: list }));
}

/** `more` appended to `hits`, without any message already there (a page boundary seen twice). */
export function appendHits(hits: readonly SearchHit[], more: readonly SearchHit[]): SearchHit[] {
  const seen = new Set(hits.map((h) => h.messageId));
  return [...hits, ...more.filter((h) => !seen.has(h.messageId))];
}

export type SnippetPart = { readonly text: string; readonly mark: boolean };

function isLowSurrogate(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Moves an offset off the middle of a surrogate pair (to the pair's start). */
function boundary(s: string, i: number): number {
  return i > 0 && i < s.length && isLowSurrogate(s, i) ? i - 1 : i;
}

export function snippetParts(snippet: Pick<Snippet, 'text' | 'ranges'>): SnippetPart[] {
  const { text } = snippet;
  const ranges = snippet.ranges
    .map((r) => ({ start: boundary(text, Math.max(0, Math.min(text.length, r.start))), end: boundary(text, Math.max(0, Math.min(text.length, r.end))) }))
    .filter((r) => r.end > r.start)
    .sort((a, b) => a.start - b.start);
  const parts: SnippetPart[] = [];
  let at = 0;
  for (const r of ranges) {
    const start = Math.max(r.start, at);
    if (r.end <= start) continue;
    if (start > at) parts.push({ text: text.slice(at, start), mark: false });
    parts.push({ text: text.slice(start, r.end), mark: true });
    at = r.end;
  }
  if (at < text.length) parts.push({ text: text.slice(at), mark: false });
  return parts;
}
