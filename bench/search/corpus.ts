/**
 * The seeded message generator for bench/search: the same seed gives the same messages on every
 * machine. Latin messages draw words from a Zipf-distributed synthetic vocabulary (s = 1, 50,000
 * words built from syllables); 10 % of messages are CJK (Japanese-style runs of Han and kana without
 * spaces, and Korean Hangul words with spaces); 5 % are Latin messages with accented words
 * (generated variants like "tärimo", plus real names such as "Zürich" and "São Paulo").
 * Display times mostly follow arrival, with 2 % late arrivals (sender time hours earlier), so id
 * order and display order disagree the way they do in real use.
 */

/** mulberry32: small, fast, seeded; good enough for a corpus (not for anything secret). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Samples ranks 0..n-1 with P(rank r) ∝ 1 / (r + 1)^s. */
export function zipf(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let total = 0;
  for (let r = 0; r < n; r++) {
    total += 1 / (r + 1) ** s;
    cdf[r] = total;
  }
  return () => {
    const x = random() * total;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const ONSETS = ['', 'b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'ch', 'sh', 'tr', 'st', 'br'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'ai', 'ou'];
const CODAS = ['', '', '', 'n', 'r', 's', 'l', 'm'];
const ACCENTS: Readonly<Record<string, string[]>> = {
  a: ['á', 'à', 'ä', 'â', 'ã'],
  e: ['é', 'è', 'ë', 'ê'],
  i: ['í', 'ï', 'î'],
  o: ['ó', 'ö', 'ô', 'õ'],
  u: ['ú', 'ü', 'û'],
};
const ACCENTED_NAMES = ['Zürich', 'São Paulo', 'Málaga', 'Kraków', 'Łódź', 'Göteborg', 'Besançon', 'Reykjavík', 'naïve', 'café', 'déjà vu', 'Ærø'];

export type CorpusMessage = {
  readonly conversation: number;
  readonly outgoing: boolean;
  readonly body: string;
  readonly sentAt: number;
  readonly receivedAt: number;
};

export type Corpus = {
  /** Latin vocabulary, most frequent first. */
  readonly words: readonly string[];
  /** CJK "words" (1-3 characters), most frequent first. */
  readonly cjkWords: readonly string[];
  readonly accentedWords: readonly string[];
  next(): CorpusMessage;
};

export const VOCABULARY_SIZE = 50_000;
export const CJK_VOCABULARY_SIZE = 6_000;
export const CONVERSATIONS = 40;

function range(from: number, to: number): string[] {
  const out: string[] = [];
  for (let c = from; c <= to; c++) out.push(String.fromCodePoint(c));
  return out;
}

export function corpus(seed: number, startAt: number): Corpus {
  const random = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;

  const seen = new Set<string>();
  const words: string[] = [];
  while (words.length < VOCABULARY_SIZE) {
    const syllables = 1 + Math.floor(random() * 3) + (random() < 0.5 ? 1 : 0);
    let w = '';
    for (let i = 0; i < syllables; i++) w += pick(ONSETS) + pick(VOWELS) + (i === syllables - 1 ? pick(CODAS) : '');
    if (w.length < 3 || seen.has(w)) continue;
    seen.add(w);
    words.push(w);
  }

  // Han (common block), hiragana and katakana; Hangul syllables for Korean.
  const han = range(0x4e00, 0x4e00 + 2500);
  const kana = [...range(0x3041, 0x3093), ...range(0x30a1, 0x30f3)];
  const hangul = range(0xac00, 0xac00 + 1500);
  const cjkSeen = new Set<string>();
  const cjkWords: string[] = [];
  while (cjkWords.length < CJK_VOCABULARY_SIZE) {
    const n = 1 + Math.floor(random() * 3);
    let w = '';
    for (let i = 0; i < n; i++) w += random() < 0.7 ? pick(han) : pick(kana);
    if (cjkSeen.has(w)) continue;
    cjkSeen.add(w);
    cjkWords.push(w);
  }
  const koreanWords: string[] = [];
  for (let i = 0; i < 3000; i++) koreanWords.push(pick(hangul) + pick(hangul) + (random() < 0.5 ? pick(hangul) : ''));

  const accentedWords: string[] = [...ACCENTED_NAMES];
  for (let i = 0; accentedWords.length < 2000; i++) {
    const w = words[i % words.length]!;
    const vowelAt = [...w].findIndex((c) => c in ACCENTS);
    if (vowelAt < 0) continue;
    accentedWords.push(w.slice(0, vowelAt) + pick(ACCENTS[w[vowelAt]!]!) + w.slice(vowelAt + 1));
  }

  const wordRank = zipf(words.length, 1, random);
  const cjkRank = zipf(cjkWords.length, 1, random);
  const koreanRank = zipf(koreanWords.length, 1, random);
  const accentedRank = zipf(accentedWords.length, 1, random);
  const conversationRank = zipf(CONVERSATIONS, 0.8, random);
  let clock = startAt;

  function latin(): string {
    const n = 3 + Math.floor(random() * 18);
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(words[wordRank()]!);
    if (random() < 0.3) out[0] = out[0]![0]!.toUpperCase() + out[0]!.slice(1);
    return out.join(' ') + (random() < 0.4 ? pick(['.', '!', '?', ' :)']) : '');
  }

  return {
    words,
    cjkWords,
    accentedWords,
    next() {
      clock += 1 + Math.floor(random() * 60_000);
      const roll = random();
      let body: string;
      if (roll < 0.07) {
        const n = 3 + Math.floor(random() * 12);
        body = '';
        for (let i = 0; i < n; i++) body += cjkWords[cjkRank()]!;
        body += pick(['。', '！', '', '']);
      } else if (roll < 0.1) {
        const n = 2 + Math.floor(random() * 6);
        const out: string[] = [];
        for (let i = 0; i < n; i++) out.push(koreanWords[koreanRank()]!);
        body = out.join(' ');
      } else if (roll < 0.15) {
        const parts = latin().split(' ');
        const k = 1 + Math.floor(random() * 2);
        for (let i = 0; i < k; i++) parts[Math.floor(random() * parts.length)] = accentedWords[accentedRank()]!;
        body = parts.join(' ');
      } else {
        body = latin();
      }
      const late = random() < 0.02;
      const sentAt = late ? clock - Math.floor(random() * 6 * 3_600_000) : clock;
      return { conversation: conversationRank(), outgoing: random() < 0.5, body, sentAt, receivedAt: clock };
    },
  };
}
