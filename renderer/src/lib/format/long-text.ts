/**
 * Long messages collapsed behind "Read more" (issue 12 "Rough edges": a 10,000-character message
 * filled the screen). A body is long when it has more than COLLAPSE_CHARS characters or more than
 * COLLAPSE_LINES lines; it is then shown cut to at most PREVIEW_CHARS characters and PREVIEW_LINES
 * lines, at a word boundary where one is near, never inside a grapheme (an emoji sequence, a letter
 * with its combining marks). The cut is plain text, so the collapsed row holds a few hundred
 * characters rather than ten thousand and its height is that of an ordinary message.
 *
 * Not here: whether a given message is expanded (MessageList), the full text (always the engine's).
 */

export const COLLAPSE_CHARS = 1_200;
export const COLLAPSE_LINES = 18;
export const PREVIEW_CHARS = 700;
export const PREVIEW_LINES = 12;
/** How far back from the limit a word boundary is looked for. */
const WORD_LOOKBACK = 80;

let segmenter: Intl.Segmenter | undefined;

function lineCount(text: string, stopAfter: number): number {
  let lines = 1;
  for (let i = text.indexOf('\n'); i !== -1 && lines <= stopAfter; i = text.indexOf('\n', i + 1)) lines++;
  return lines;
}

/** Whether `body` is collapsed by default. */
export function isLongText(body: string): boolean {
  return body.length > COLLAPSE_CHARS || lineCount(body, COLLAPSE_LINES) > COLLAPSE_LINES;
}

/** The largest grapheme boundary at or below `limit` (code units). */
function graphemeBoundary(text: string, limit: number): number {
  segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  // Only the neighbourhood of the limit needs segmenting; start a little before it at a code point.
  let from = Math.max(0, limit - 64);
  const code = text.charCodeAt(from);
  if (code >= 0xdc00 && code <= 0xdfff) from--;
  let boundary = from;
  for (const { index } of segmenter.segment(text.slice(from, limit + 64))) {
    const at = from + index;
    if (at > limit) break;
    boundary = at;
  }
  return boundary;
}

/**
 * The collapsed form of a long body (its start, followed by "…"), or null when the body is short
 * enough to show whole.
 */
export function collapsedText(body: string): string | null {
  if (!isLongText(body)) return null;
  // At most PREVIEW_LINES lines: cut at the newline that ends the last of them.
  let newlines = 0;
  for (let i = body.indexOf('\n'); i !== -1 && i < PREVIEW_CHARS; i = body.indexOf('\n', i + 1)) {
    if (++newlines === PREVIEW_LINES) return `${body.slice(0, i).trimEnd()}…`;
  }
  // Otherwise at the last white space shortly before PREVIEW_CHARS, or at a grapheme boundary.
  const from = PREVIEW_CHARS - WORD_LOOKBACK;
  const space = body.slice(from, PREVIEW_CHARS + 1).search(/\s\S*$/);
  const end = space !== -1 ? from + space : graphemeBoundary(body, PREVIEW_CHARS);
  return `${body.slice(0, end).trimEnd()}…`;
}
