/** Readers for dcmjs-naturalized values, which arrive as scalars or arrays depending on VM. */

export function firstString(value: unknown): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v === null) return undefined;
  const s = String(v).trim();
  return s === '' ? undefined : s;
}

export function firstInt(value: unknown): number | null {
  const s = firstString(value);
  if (s === undefined) return null;
  const n = Number.parseInt(s, 10);
  return Number.isSafeInteger(n) && n >= -2147483648 && n <= 2147483647 ? n : null;
}

/** DA (YYYYMMDD) → ISO date for a PostgreSQL date column, or null when absent or invalid. */
export function dicomDate(value: unknown): string | null {
  const s = firstString(value);
  const m = s && /^(\d{4})\.?(\d{2})\.?(\d{2})$/.exec(s);
  if (!m) return null;
  const iso = `${m[1]}-${m[2]}-${m[3]}`;
  const d = new Date(`${iso}T00:00:00Z`);
  return Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== iso ? null : iso;
}

/**
 * A PN value as one searchable string: component groups joined by '=' as in the
 * DICOM encoding (Alphabetic=Ideographic=Phonetic), trailing empty groups dropped.
 */
export function personName(value: unknown): string | null {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return v.trim() || null;
  const pn = v as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
  const joined = [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''].join('=').replace(/=+$/, '');
  return joined || null;
}
