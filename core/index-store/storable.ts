/**
 * PostgreSQL stores no NUL character, in text or in jsonb, and refuses the whole row. DICOM
 * allows NUL only as padding, yet some modalities leave one inside a text value; without
 * this, such an instance could never be indexed (its job retried for ever). The stored
 * object keeps its bytes: WADO-RS serves them unchanged, only the index loses the NULs.
 * Strings, arrays and plain objects are walked; binary values (ArrayBuffer, typed arrays)
 * are left alone. What holds no NUL (nearly every instance) is returned as it is, not copied:
 * only the strings that change and the arrays and objects holding them are new.
 */
export function withoutNulCharacters<T>(value: T): T {
  if (typeof value === 'string') return (value.includes('\u0000') ? value.replaceAll('\u0000', '') : value) as T;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((v, i) => {
      const w = withoutNulCharacters(v);
      if (w !== v) (copy ??= [...value])[i] = w;
    });
    return (copy ?? value) as T;
  }
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const object = value as Record<string, unknown>;
    let copy: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(object)) {
      const w = withoutNulCharacters(v);
      if (w !== v) (copy ??= { ...object })[k] = w;
    }
    return (copy ?? value) as T;
  }
  return value;
}
