// dicom-character-set ships no type declarations; this covers what core/dicom/charset.ts uses.
declare module 'dicom-character-set' {
  /**
   * Decodes DICOM text bytes under a Specific Character Set (0008,0005) value, including ISO 2022
   * code extensions; `vr` tells which delimiters reset the active character set.
   * Throws on an unknown character set term or escape sequence.
   */
  export function convertBytes(specificCharacterSet: string | undefined, bytes: Uint8Array, options?: { vr?: string }): string;
}
