/**
 * The institution registry as CSV, one row per institution (columns in docs/institutions.md).
 * Cells accept the canonical codes or the Chinese labels staff use (三级甲等, 医联体, 是/否);
 * export writes the codes. Parsing is pure and reports every problem with its line number;
 * the import writes nothing unless the whole file is valid.
 */
import type { z } from 'zod';
import { Institution, type StoredInstitution } from './institution-schema';
import { issueText } from './issues';
import { normalizeAlias } from './alias-normalize';
import { readCsvTable, splitList, writeCsvTable, type RowError } from './csv-table';

export const CSV_COLUMNS = [
  'code',
  'name',
  'region',
  'level',
  'kind',
  'is_public',
  'institution_names',
  'ae_titles',
  'issuers_of_patient_id',
  'groups',
  'accreditations',
] as const;
type Column = (typeof CSV_COLUMNS)[number];
const REQUIRED: Column[] = ['code', 'name', 'region', 'level'];

export type { RowError };

export interface ParsedRow {
  row: number;
  institution: Institution;
}

const LABELS: Partial<Record<Column, Record<string, string>>> = {
  region: { 川渝: 'CY', 新疆: 'XJ', 浙江: 'ZJ' },
  level: { 三级甲等: 'L3A', 三甲: 'L3A', 三级乙等: 'L3B', 三乙: 'L3B', 二级甲等: 'L2A', 二甲: 'L2A', 二级乙等: 'L2B', 二乙: 'L2B', 一级: 'L1', 其他: 'other' },
  kind: { 医院: 'hospital', 独立影像中心: 'independent_imaging_centre', 独立医学影像中心: 'independent_imaging_centre' },
  is_public: {
    true: 'true',
    false: 'false',
    是: 'true',
    否: 'false',
    公立: 'true',
    民营: 'false',
    非公立: 'false',
    yes: 'true',
    no: 'false',
    '1': 'true',
    '0': 'false',
  },
};
const GROUP_KIND_LABELS: Record<string, string> = {
  医联体: 'medical_alliance',
  医共体: 'county_medical_community',
  县域医共体: 'county_medical_community',
  医疗集团: 'hospital_group',
  城市医疗集团: 'hospital_group',
  紧密型城市医疗集团: 'hospital_group',
};

/** `;` separates list items and `|` an item's parts; the full-width forms an IME types count too. */
const splitParts = (item: string) => item.split(/[|｜]/).map((s) => s.trim());
const label = (column: Column, cell: string) => LABELS[column]?.[cell.trim()] ?? LABELS[column]?.[cell.trim().toLowerCase()] ?? cell.trim();

export function parseInstitutionsCsv(text: string): { rows: ParsedRow[]; errors: RowError[] } {
  const table = readCsvTable(text, { columns: CSV_COLUMNS, required: REQUIRED });
  const rows: ParsedRow[] = [];
  const errors: RowError[] = [...table.errors];
  for (const { row, cells } of table.records) {
    const result = parseRow(cells, row);
    if ('institution' in result) rows.push({ row, institution: result.institution });
    else errors.push(...result.errors);
  }
  if (rows.length === 0 && errors.length === 0) errors.push({ row: 1, message: '文件中没有机构 / The file lists no institutions' });
  errors.push(...crossRowErrors(rows));
  return { rows, errors: errors.sort((a, b) => a.row - b.row) };
}

function parseRow(cells: Partial<Record<Column, string>>, row: number): { institution: Institution } | { errors: RowError[] } {
  const errors: RowError[] = [];
  const optional = (column: Column) => (cells[column]?.trim() ? label(column, cells[column]!) : undefined);
  let isPublic: boolean | undefined;
  const publicCell = optional('is_public');
  if (publicCell === 'true' || publicCell === 'false') isPublic = publicCell === 'true';
  else if (publicCell !== undefined) errors.push({ row, column: 'is_public', message: '应为 是/否（或 true/false）/ must be 是/否 (or true/false)' });

  const groups = splitList(cells.groups ?? '').map((item, i) => {
    const [code, name, kind, ...rest] = splitParts(item);
    if (kind === undefined || rest.length) {
      errors.push({ row, column: 'groups', message: `第 ${i + 1} 项应为 代码|名称|类型 / item ${i + 1} must be code|name|kind` });
    }
    return { code, name, kind: GROUP_KIND_LABELS[kind] ?? kind };
  });
  const accreditations = splitList(cells.accreditations ?? '').map((item, i) => {
    const [catalogId, modality, validFrom, validUntil, issuer, ...rest] = splitParts(item);
    if (validFrom === undefined || rest.length) {
      errors.push({
        row,
        column: 'accreditations',
        message: `第 ${i + 1} 项应为 目录|设备类型|起始日期[|截止日期[|发证机构]] / item ${i + 1} must be catalogId|modality|validFrom[|validUntil[|issuer]]`,
      });
    }
    return { catalogId, modality: modality?.toUpperCase(), validFrom, validUntil: validUntil || undefined, issuer: issuer || undefined };
  });
  if (errors.length) return { errors };

  const parsed = Institution.safeParse({
    code: cells.code ?? '',
    name: cells.name ?? '',
    region: label('region', cells.region ?? ''),
    level: label('level', cells.level ?? ''),
    kind: optional('kind'),
    isPublic,
    aliases: {
      institutionNames: splitList(cells.institution_names ?? ''),
      aeTitles: splitList(cells.ae_titles ?? ''),
      issuersOfPatientId: splitList(cells.issuers_of_patient_id ?? ''),
    },
    groups,
    accreditations,
  });
  if (parsed.success) return { institution: parsed.data };
  return { errors: parsed.error.issues.map((issue) => ({ row, ...issueLocation(issue), message: issueText(issue) + labelHint(issue) })) };
}

/** For a wrong enum value, the Chinese labels the cell also accepts. */
function labelHint(issue: z.core.$ZodIssue): string {
  if (issue.code !== 'invalid_value') return '';
  const [first, , third] = issue.path.map(String);
  const labels = first === 'groups' && third === 'kind' ? GROUP_KIND_LABELS : LABELS[first as Column];
  if (!labels) return '';
  const names = Object.keys(labels).filter((k) => /[\u4e00-\u9fff]/.test(k));
  return ` (${names.join('、')})`;
}

const FIELD_COLUMNS: Record<string, Column> = {
  isPublic: 'is_public',
  institutionNames: 'institution_names',
  aeTitles: 'ae_titles',
  issuersOfPatientId: 'issuers_of_patient_id',
};

/** An issue's path as the column (and list item) a person can find in the sheet. */
function issueLocation(issue: z.core.$ZodIssue): { column: string } {
  const [first, second, third] = issue.path.map(String);
  const column = first === 'aliases' ? FIELD_COLUMNS[second] : (FIELD_COLUMNS[first] ?? first);
  const itemIndex = first === 'aliases' ? third : second;
  const item = itemIndex !== undefined && /^\d+$/.test(itemIndex) ? ` #${Number(itemIndex) + 1}` : '';
  const part = first !== 'aliases' && third !== undefined ? ` (${third})` : '';
  return { column: `${column ?? 'row'}${item}${part}` };
}

/** Within one file: codes and aliases are unique, and a group is defined one way. */
function crossRowErrors(rows: ParsedRow[]): RowError[] {
  const errors: RowError[] = [];
  const codes = new Map<string, number>();
  const aliases = new Map<string, number>();
  const groups = new Map<string, { row: number; name: string; kind: string }>();
  for (const { row, institution: inst } of rows) {
    const seenAt = codes.get(inst.code);
    if (seenAt !== undefined)
      errors.push({ row, column: 'code', message: `代码 ${inst.code} 已在第 ${seenAt} 行出现 / Code ${inst.code} already on line ${seenAt}` });
    else codes.set(inst.code, row);

    const lists = [
      ['institution_names', 'institution_name', inst.aliases.institutionNames],
      ['ae_titles', 'ae_title', inst.aliases.aeTitles],
      ['issuers_of_patient_id', 'issuer_of_patient_id', inst.aliases.issuersOfPatientId],
    ] as const;
    for (const [column, kind, values] of lists) {
      for (const value of values) {
        const key = `${kind}\u0000${normalizeAlias(kind, value)}`;
        const other = aliases.get(key);
        if (other !== undefined && other !== row) {
          errors.push({ row, column, message: `别名 "${value}" 已在第 ${other} 行使用 / Alias "${value}" already used on line ${other}` });
        } else aliases.set(key, row);
      }
    }

    for (const g of inst.groups) {
      const first = groups.get(g.code);
      if (!first) groups.set(g.code, { row, name: g.name, kind: g.kind });
      else if (first.name !== g.name || first.kind !== g.kind) {
        errors.push({
          row,
          column: 'groups',
          message: `医联体/医共体 ${g.code} 的名称或类型与第 ${first.row} 行不同 / Group ${g.code} has a different name or kind than on line ${first.row}`,
        });
      }
    }
  }
  return errors;
}

/**
 * The registry as CSV. Starts with a UTF-8 byte order mark: without it Excel on Chinese
 * Windows opens the file as GBK and garbles every name (the import ignores the mark).
 */
export function serializeInstitutionsCsv(institutions: StoredInstitution[]): string {
  const records = institutions.map((i) => [
    i.code,
    i.name,
    i.region,
    i.level,
    i.kind,
    String(i.isPublic),
    i.aliases.institutionNames.join(';'),
    i.aliases.aeTitles.join(';'),
    i.aliases.issuersOfPatientId.join(';'),
    i.groups.map((g) => [g.code, g.name, g.kind].join('|')).join(';'),
    i.accreditations.map((a) => [a.catalogId, a.modality, a.validFrom, a.validUntil ?? '', a.issuer ?? ''].join('|').replace(/\|+$/, '')).join(';'),
  ]);
  return writeCsvTable(CSV_COLUMNS, records);
}
