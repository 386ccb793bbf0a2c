/**
 * How sender identifiers are compared. Aliases are stored in this form, so attribution is an
 * exact lookup on institution_alias's primary key, and two spellings that differ only in
 * width, spacing or case are one alias.
 */

export type AliasKind = 'institution_name' | 'ae_title' | 'issuer_of_patient_id';

/**
 * InstitutionName as PACS send it varies in ways people do not see: full-width letters and
 * brackets from a Chinese IME (NFKC makes them ASCII), doubled or ideographic spaces, case.
 */
export function normalizeInstitutionName(value: string): string {
  return value.normalize('NFKC').replace(/\s+/gu, ' ').trim().toLowerCase();
}

/**
 * AE titles and issuers are codes: only width and surrounding spaces are folded (DICOM pads
 * values with spaces; an IME may type full-width letters). Case stays significant, as in DICOM.
 */
export function normalizeCode(value: string): string {
  return value.normalize('NFKC').trim();
}

export function normalizeAlias(kind: AliasKind, value: string): string {
  return kind === 'institution_name' ? normalizeInstitutionName(value) : normalizeCode(value);
}
