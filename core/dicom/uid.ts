/**
 * A DICOM UID (PS3.5 §9.1): dot-separated numeric components, no leading zeros
 * (except a lone 0), at most 64 characters. Validating UIDs before they reach SQL,
 * storage keys or URLs rules out path traversal and injection through them.
 */
const UID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+$/;

export function isUid(value: string): boolean {
  return value.length <= 64 && UID.test(value);
}
