/**
 * Text decoding under Specific Character Set (0008,0005), PS3.5 §6.1.
 *
 * dicom-character-set does the work: it knows every defined term, including multi-valued
 * ones with ISO 2022 escape sequences ('\ISO 2022 IR 58' is GB2312 switched in with ESC $ ) A),
 * and resets to the first character set at the delimiters the VR defines ('\' between values,
 * '^' and '=' inside PN). Values are split on '\' only after decoding: in GBK and GB18030 the
 * byte 0x5C also occurs as the second byte of a two-byte character.
 */
import { convertBytes } from 'dicom-character-set';

/** VRs whose bytes depend on the character set (PS3.5 §6.1.2.3); all others are ASCII. */
export const CHARSET_VRS: ReadonlySet<string> = new Set(['SH', 'LO', 'ST', 'LT', 'PN', 'UC', 'UT']);

/** Single-valued text VRs: a backslash in them is text, not a value separator. */
const SINGLE_VALUED_VRS = new Set(['ST', 'LT', 'UT', 'UR']);

/**
 * Non-standard terms modalities are known to write. Each is mapped to the standard term that
 * decodes the same bytes (GB18030 is a superset of GB2312 in its EUC-CN form).
 */
const ALIASES: Record<string, string> = {
  GB2312: 'GB18030',
  'ISO_IR 58': 'GB18030',
  'UTF-8': 'ISO_IR 192',
  UTF8: 'ISO_IR 192',
};

/** Normalizes a Specific Character Set value (its values joined by '\') for decoding. */
export function normalizeCharset(specificCharacterSet: string | undefined): string {
  if (!specificCharacterSet) return '';
  return specificCharacterSet
    .split('\\')
    .map((term) => {
      const t = term.replace(/\0/g, '').trim().toUpperCase();
      return ALIASES[t] ?? t;
    })
    .join('\\');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes one element's value bytes to a single string (values still joined by '\').
 * An unknown term or escape sequence must not cost us the instance, so it falls back to
 * UTF-8 when the bytes are valid UTF-8, else ISO 8859-1 (every byte maps to a character).
 */
export function decodeText(bytes: Uint8Array, specificCharacterSet: string | undefined, vr: string): string {
  try {
    return convertBytes(normalizeCharset(specificCharacterSet) || undefined, bytes, { vr });
  } catch {
    try {
      return utf8.decode(bytes);
    } catch {
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    }
  }
}

/**
 * Decodes a text element into its values with padding removed per PS3.5 Table 6.2-1:
 * SH, LO and PN lose leading and trailing spaces, ST, LT, UT and UC only trailing ones.
 * NUL padding, which some writers use, is removed like trailing spaces.
 */
export function decodeTextValues(bytes: Uint8Array, specificCharacterSet: string | undefined, vr: string): string[] {
  const text = decodeText(bytes, specificCharacterSet, vr);
  const values = SINGLE_VALUED_VRS.has(vr) ? [text] : text.split('\\');
  const keepLeading = SINGLE_VALUED_VRS.has(vr) || vr === 'UC';
  return values.map((v) => (keepLeading ? v.replace(/[\0 ]+$/, '') : v.replace(/[\0 ]+$/, '').replace(/^ +/, '')));
}
