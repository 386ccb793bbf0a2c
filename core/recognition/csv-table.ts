/**
 * CSV tables that hospital staff edit in Excel (institutions, local mappings): parsing with a
 * line number for every problem, a header checked against the known columns, and export with a
 * UTF-8 byte order mark (without it Excel on Chinese Windows opens the file as GBK and garbles
 * every name; the import ignores the mark).
 */
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';

export interface RowError {
  /** Line in the file (the header is line 1). */
  row: number;
  column?: string;
  message: string;
}

export interface CsvRecord<C extends string> {
  row: number;
  cells: Partial<Record<C, string>>;
}

export interface CsvTableSpec<C extends string> {
  columns: readonly C[];
  required: readonly C[];
  /** At least one of these columns must be present. */
  oneOf?: readonly C[];
}

export function readCsvTable<C extends string>(text: string, spec: CsvTableSpec<C>): { records: CsvRecord<C>[]; errors: RowError[] } {
  let parsed: Array<{ record: string[]; info: { lines: number } }>;
  try {
    // With `info` each record comes as {record, info}; the typings do not model that option.
    parsed = parse(text, { bom: true, relax_column_count: true, skip_empty_lines: true, info: true }) as unknown as typeof parsed;
  } catch (err) {
    const e = err as { lines?: number; message?: string };
    return { records: [], errors: [{ row: e.lines ?? 1, message: `CSV 格式错误（如引号未闭合）/ Malformed CSV (e.g. an unclosed quote): ${e.message}` }] };
  }
  if (parsed.length === 0) return { records: [], errors: [{ row: 1, message: '文件为空 / The file is empty' }] };

  const header = parsed[0].record.map((h) => h.trim().toLowerCase());
  const headerErrors = checkHeader(header, spec);
  if (headerErrors.length) return { records: [], errors: headerErrors };

  const records: CsvRecord<C>[] = [];
  const errors: RowError[] = [];
  for (const { record, info } of parsed.slice(1)) {
    const row = info.lines;
    if (record.every((c) => c.trim() === '')) continue;
    if (record.length !== header.length) {
      errors.push({ row, message: `该行有 ${record.length} 列，表头有 ${header.length} 列 / The row has ${record.length} cells, the header ${header.length}` });
      continue;
    }
    records.push({ row, cells: Object.fromEntries(header.map((h, i) => [h, record[i]])) as Partial<Record<C, string>> });
  }
  return { records, errors };
}

function checkHeader<C extends string>(header: string[], spec: CsvTableSpec<C>): RowError[] {
  const errors: RowError[] = [];
  const known = spec.columns as readonly string[];
  const unknown = header.filter((h) => !known.includes(h));
  if (unknown.length) errors.push({ row: 1, message: `未知列 ${unknown.join('、')} / Unknown column(s) ${unknown.join(', ')} (known: ${known.join(', ')})` });
  const missing = spec.required.filter((c) => !header.includes(c));
  if (missing.length) errors.push({ row: 1, message: `缺少必需列 ${missing.join('、')} / Missing required column(s) ${missing.join(', ')}` });
  if (spec.oneOf && !spec.oneOf.some((c) => header.includes(c))) {
    errors.push({ row: 1, message: `须有 ${spec.oneOf.join(' 或 ')} 列 / A ${spec.oneOf.join(' or ')} column is required` });
  }
  const repeated = header.filter((h, i) => header.indexOf(h) !== i);
  if (repeated.length) errors.push({ row: 1, message: `列重复 ${repeated.join('、')} / Repeated column(s) ${repeated.join(', ')}` });
  return errors;
}

/** `;` separates list items in a cell; the full-width `；` an IME types counts too. */
export const splitList = (cell: string): string[] =>
  cell
    .split(/[;；]/)
    .map((s) => s.trim())
    .filter(Boolean);

export function writeCsvTable(columns: readonly string[], records: ReadonlyArray<readonly unknown[]>): string {
  return `\uFEFF${stringify([[...columns], ...records], { record_delimiter: '\r\n' })}`;
}
