/**
 * PostgreSQL stores no NUL character, in text or in jsonb, and refuses the whole row. DICOM
 * allows NUL only as padding, yet some modalities leave one inside a text value; without
 * this, such an instance could never be indexed (its job retried for ever). The stored
 * object keeps its bytes: WADO-RS serves them unchanged, only the index loses the NULs.
 * Strings, arrays and plain objects are walked; binary values (ArrayBuffer, typed arrays)
 * are left alone.
 */
export function withoutNulCharacters<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\u0000') ? value.replaceAll('\u0000', '') : value) as T;
  if (Array.isArray(value)) return value.map(withoutNulCharacters) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withoutNulCharacters(v)])) as T;
  }
  return value;
}
