import { TERMS, type Meaning } from '../vocabulary';

/** A lexicon term found in a normalised text. */
export interface Token {
  meaning: Meaning;
  term: string;
  start: number;
}

const isWordChar = (ch: string | undefined) => ch !== undefined && /[a-z0-9]/.test(ch);

/** Terms by first character, longest first, so the scanner takes the longest match at each position. */
const BY_FIRST_CHAR: ReadonlyMap<string, readonly string[]> = (() => {
  const map = new Map<string, string[]>();
  for (const term of TERMS.keys()) {
    const list = map.get(term[0]) ?? [];
    list.push(term);
    map.set(term[0], list);
  }
  for (const list of map.values()) list.sort((a, b) => b.length - a.length);
  return map;
})();

/**
 * Longest-match scan of a normalised text (normalize.ts) against the lexicon. ASCII terms must
 * stand as whole words ('pa' is not found in 'pancreas', 'l' not in 'l5'); Chinese terms need no
 * boundary. Text no term matches is skipped.
 */
export function scan(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const term = (BY_FIRST_CHAR.get(text[i]) ?? []).find(
      (t) => text.startsWith(t, i) && !(isWordChar(t[0]) && isWordChar(text[i - 1])) && !(isWordChar(t[t.length - 1]) && isWordChar(text[i + t.length])),
    );
    if (term) {
      tokens.push({ meaning: TERMS.get(term) as Meaning, term, start: i });
      i += term.length;
    } else if (isWordChar(text[i])) {
      while (isWordChar(text[i])) i++; // skip the rest of an unknown word
    } else {
      i++;
    }
  }
  return tokens;
}
