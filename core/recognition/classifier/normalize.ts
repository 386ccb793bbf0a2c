/**
 * Text normalisation shared by the lexicon and the evidence, so that a term and the text it is
 * looked for in are written alike: NFKC (full-width → half-width, ① → 1), lower case, one
 * punctuation per meaning, '-' and '_' between letters or digits as a space ('C-SPINE' = 'c spine',
 * 'T2_TSE_SAG' = 't2 tse sag'), no spaces inside Chinese words (an ideographic space in 腰椎 is dropped), single spaces.
 */
export function normalizeText(raw: string): string {
  return raw
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[、，]/g, ',')
    .replace(/[；]/g, ';')
    .replace(/[“”"'`‘’]/g, '')
    .replace(/[\^\\*#·•]/g, ' ') // DICOM component and value separators, Siemens '*ep_b1000'
    .replace(/[—–－]/g, '-')
    .replace(/_/g, ' ')
    .replace(/(?<=[a-z0-9])-(?=[a-z0-9])/g, ' ')
    .replace(/\s+/g, ' ')
    .replace(/(?<=[\u3400-\u9fff]) (?=[\u3400-\u9fff])/g, '')
    .trim();
}
