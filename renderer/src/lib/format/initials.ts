/**
 * What an avatar shows when there is no picture: up to two initials of the name (the first
 * character of its first and last words, by grapheme, so an emoji or an accented letter stays
 * whole), and a hue taken from the contact id, so two people with the same initials still differ.
 */

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function firstGrapheme(word: string): string {
  for (const { segment } of segmenter.segment(word)) return segment;
  return '';
}

/** "Alice Liddell" → "AL", "bob" → "B", "  " → "?". */
export function initialsOf(name: string): string {
  const words = name.trim().split(/\s+/u).filter((w) => w !== '');
  if (words.length === 0) return '?';
  const first = firstGrapheme(words[0]!);
  const last = words.length > 1 ? firstGrapheme(words[words.length - 1]!) : '';
  return (first + last).toLocaleUpperCase();
}

/** A hue (0-359) from a contact id (hex), stable for that contact. */
export function hueOf(contactId: string): number {
  let h = 0;
  for (let i = 0; i < contactId.length; i++) h = (h * 31 + contactId.charCodeAt(i)) % 360;
  return h;
}
