/**
 * Per-hospital local procedure mappings (docs/classifier.md, "Local mappings and review"): a
 * hospital's own procedure codes and names — what its RIS puts in RequestedProcedureCodeSequence,
 * RequestedProcedureDescription and StudyDescription — mapped to the items of a catalog.
 *
 * - Repository: list, upsert, delete of one institution's mappings; CSV import (all or nothing,
 *   with line-numbered errors and a dry run) and export.
 * - Every item code must be an item of the named catalog. An empty list of item codes is a
 *   mapping too: "this procedure is not an item of the catalog" (its studies become not_applicable).
 * - Every change that can alter a classification enqueues a reclassify job for the institution
 *   (core/jobs/reclassify.ts), whose progress bull-board shows.
 * - unmappedProcedures: the institution's procedures no mapping covers yet, most studies first,
 *   with what the classifier made of a sample study — the worklist for mapping a catalogue.
 */
import type { Queue } from 'bullmq';
import type { Knex } from 'knex';
import { z } from 'zod';
import { findItem, getCatalog } from '../../catalogs/index';
import { badRequest, notFound } from '../errors';
import { enqueueReclassify } from '../jobs/reclassify';
import type { CatalogClassification } from './classify';
import { CatalogId } from './institution-schema';
import { csvInvalid } from './institutions-import';
import { readCsvTable, splitList, writeCsvTable, type RowError } from './csv-table';
import { unknownInstitution } from './institutions';
import { issueText } from './issues';
import { localMappingKey } from './local-mapping';

// ─── Input ────────────────────────────────────────────────────────────────────────────────────

/** '' and whitespace are "not given" (a CSV cell, an empty form field). */
const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .nullish()
    .transform((v) => v || undefined);

const mappingFields = {
  localCode: optionalText(64),
  localName: optionalText(256),
  catalogId: CatalogId,
  itemCodes: z
    .array(z.string().trim().min(1).max(64))
    .max(50)
    .transform((codes) => [...new Set(codes)]),
};
const codeOrName = {
  error: '须给出本院项目代码或名称 / localCode or localName is required',
  path: ['localCode'],
};

/**
 * One mapping as PUT and each CSV row give it. `localCode` is the RIS procedure code
 * (RequestedProcedureCodeSequence CodeValue), `localName` its name or a description as sent;
 * at least one is required, and the code (when given) is the lookup key.
 */
export const MappingInput = z.strictObject(mappingFields).refine((m) => m.localCode !== undefined || m.localName !== undefined, codeOrName);
export type MappingInput = z.output<typeof MappingInput>;

/** PUT body: a mapping plus who made it (until authentication supplies the user). */
export const MappingBody = z
  .strictObject({ ...mappingFields, createdBy: optionalText(200) })
  .refine((m) => m.localCode !== undefined || m.localName !== undefined, codeOrName);

/** Item codes that are not items of the catalog (bundled version, the one the classifier uses). */
export function unknownItemCodes(catalogId: string, codes: readonly string[]): string[] {
  const catalog = getCatalog(catalogId);
  const known = new Set(catalog?.items.map((i) => i.code));
  return codes.filter((c) => !known.has(c));
}

/** Where an unknown code is an item of another catalog, say so: the commonest mistake. */
function misplacedHint(codes: readonly string[]): string {
  const elsewhere = codes.flatMap((c) => {
    const hit = findItem(c);
    return hit ? [`${c} → ${hit.catalog.id}`] : [];
  });
  return elsewhere.length ? `（属于其他目录 / in another catalog: ${elsewhere.join(', ')}）` : '';
}

export function unknownItemCodesMessage(catalogId: string, unknown: readonly string[]): string {
  return `目录 ${catalogId} 中没有项目 ${unknown.join('、')} / Not items of catalog ${catalogId}: ${unknown.join(', ')}${misplacedHint(unknown)}`;
}

/** 400 listing every code the catalog does not have. */
export function assertItemCodes(catalogId: string, codes: readonly string[]): void {
  const unknown = unknownItemCodes(catalogId, codes);
  if (unknown.length) throw badRequest('unknown_item_codes', unknownItemCodesMessage(catalogId, unknown), { catalogId, unknownCodes: unknown });
}

// ─── Repository ───────────────────────────────────────────────────────────────────────────────

export interface StoredMapping {
  id: number;
  institutionCode: string;
  /** `code:<CODE>` or `name:<normalised name>` (core/recognition/local-mapping.ts). */
  localKey: string;
  localCode: string | null;
  localName: string | null;
  catalogId: string;
  /** Empty: the procedure is not an item of the catalog. */
  itemCodes: string[];
  createdBy: string | null;
  updatedAt: string;
}

export interface MappingDeps {
  db: Knex;
  /** queues.reclassify: every change re-classifies the institution's studies. */
  reclassifyQueue: Queue;
}

const toMapping = (r: Record<string, unknown>): StoredMapping => ({
  id: Number(r.id),
  institutionCode: String(r.institution_code),
  localKey: String(r.local_key),
  localCode: (r.local_code as string | null) ?? null,
  localName: (r.local_name as string | null) ?? null,
  catalogId: String(r.catalog_id),
  itemCodes: (r.item_codes as string[]) ?? [],
  createdBy: (r.created_by as string | null) ?? null,
  updatedAt: new Date(r.updated_at as string).toISOString(),
});

/** 404 (bilingual) unless the institution is registered. */
export async function requireInstitution(db: Knex, code: string): Promise<void> {
  const found = await db('institution').where({ code }).first('code');
  if (!found) throw unknownInstitution(code);
}

export async function listMappings(db: Knex, institutionCode: string, filter: { catalogId?: string } = {}): Promise<StoredMapping[]> {
  const q = db('local_procedure_mapping').where({ institution_code: institutionCode });
  if (filter.catalogId) q.where({ catalog_id: filter.catalogId });
  const rows = await q.orderBy([{ column: 'catalog_id' }, { column: 'local_key' }]).select('*');
  return rows.map(toMapping);
}

export interface WriteOutcome {
  mapping: StoredMapping;
  created: boolean;
  /** The item codes changed (or the mapping is new): classifications may change. */
  changed: boolean;
}

/**
 * Creates or updates the institution's mapping of (local key, catalog) inside the caller's
 * transaction. The item codes must have been checked (assertItemCodes). `createdBy` is kept
 * from the first write.
 */
export async function writeMapping(trx: Knex.Transaction, institutionCode: string, m: MappingInput, createdBy?: string): Promise<WriteOutcome> {
  const localKey = localMappingKey(m);
  const key = { institution_code: institutionCode, local_key: localKey, catalog_id: m.catalogId };
  const existing = await trx('local_procedure_mapping').where(key).forUpdate().first('*');
  const sameItems = !!existing && [...(existing.item_codes as string[])].sort().join('\u0000') === [...m.itemCodes].sort().join('\u0000');
  // Nothing to write (an unchanged row of a re-imported export): updated_at stays.
  if (existing && sameItems && existing.local_code === (m.localCode ?? null) && existing.local_name === (m.localName ?? null)) {
    return { mapping: toMapping(existing), created: false, changed: false };
  }
  const [row] = await trx('local_procedure_mapping')
    .insert({ ...key, local_code: m.localCode ?? null, local_name: m.localName ?? null, item_codes: m.itemCodes, created_by: createdBy ?? null })
    .onConflict(['institution_code', 'local_key', 'catalog_id'])
    .merge({ local_code: m.localCode ?? null, local_name: m.localName ?? null, item_codes: m.itemCodes, updated_at: trx.fn.now() })
    .returning('*');
  return { mapping: toMapping(row), created: !existing, changed: !sameItems };
}

/** PUT semantics for one mapping; re-classifies the institution's studies when the items changed. */
export async function upsertMapping(
  deps: MappingDeps,
  institutionCode: string,
  input: MappingInput,
  createdBy?: string,
): Promise<WriteOutcome & { reclassifyQueued: boolean }> {
  await requireInstitution(deps.db, institutionCode);
  assertItemCodes(input.catalogId, input.itemCodes);
  const outcome = await deps.db.transaction((trx) => writeMapping(trx, institutionCode, input, createdBy));
  if (outcome.changed) await enqueueReclassify(deps.reclassifyQueue, { reason: 'local_mapping', institutionCode });
  return { ...outcome, reclassifyQueued: outcome.changed };
}

export async function deleteMapping(deps: MappingDeps, institutionCode: string, id: number): Promise<{ mapping: StoredMapping; reclassifyQueued: boolean }> {
  await requireInstitution(deps.db, institutionCode);
  const [row] = await deps.db('local_procedure_mapping').where({ id, institution_code: institutionCode }).delete().returning('*');
  if (!row) throw notFound('mapping_not_found', `机构 ${institutionCode} 没有编号为 ${id} 的映射 / Institution ${institutionCode} has no mapping ${id}`);
  await enqueueReclassify(deps.reclassifyQueue, { reason: 'local_mapping', institutionCode });
  return { mapping: toMapping(row), reclassifyQueued: true };
}

// ─── CSV ──────────────────────────────────────────────────────────────────────────────────────

export const MAPPING_CSV_COLUMNS = ['local_code', 'local_name', 'catalog_id', 'item_codes'] as const;
type Column = (typeof MAPPING_CSV_COLUMNS)[number];

export interface ParsedMappingRow {
  /** Line in the file (the header is line 1). */
  row: number;
  mapping: MappingInput;
}

const FIELD_COLUMNS: Record<string, Column> = { localCode: 'local_code', localName: 'local_name', catalogId: 'catalog_id', itemCodes: 'item_codes' };

/**
 * Pure: every problem of the file with its line, or the rows. Checks the header, each row
 * (code or name, catalog, item codes of that catalog) and repeats of a (procedure, catalog)
 * within the file; existing mappings are updated, not errors.
 */
export function parseMappingsCsv(text: string): { rows: ParsedMappingRow[]; errors: RowError[] } {
  const table = readCsvTable(text, { columns: MAPPING_CSV_COLUMNS, required: ['catalog_id', 'item_codes'], oneOf: ['local_code', 'local_name'] });
  const rows: ParsedMappingRow[] = [];
  const errors: RowError[] = [...table.errors];
  const seen = new Map<string, number>();
  for (const { row, cells } of table.records) {
    const parsed = MappingInput.safeParse({
      localCode: cells.local_code,
      localName: cells.local_name,
      catalogId: (cells.catalog_id ?? '').trim(),
      itemCodes: splitList(cells.item_codes ?? ''),
    });
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const [field, index] = issue.path.map(String);
        const column = FIELD_COLUMNS[field] ?? field ?? 'row';
        errors.push({ row, column: index !== undefined ? `${column} #${Number(index) + 1}` : column, message: issueText(issue) });
      }
      continue;
    }
    const mapping = parsed.data;
    const unknown = unknownItemCodes(mapping.catalogId, mapping.itemCodes);
    if (unknown.length) {
      errors.push({ row, column: 'item_codes', message: unknownItemCodesMessage(mapping.catalogId, unknown) });
      continue;
    }
    const key = `${mapping.catalogId}\u0000${localMappingKey(mapping)}`;
    const first = seen.get(key);
    if (first !== undefined) {
      errors.push({
        row,
        message: `同一本院项目在目录 ${mapping.catalogId} 中已在第 ${first} 行映射 / The same local procedure is mapped for ${mapping.catalogId} on line ${first}`,
      });
      continue;
    }
    seen.set(key, row);
    rows.push({ row, mapping });
  }
  if (rows.length === 0 && errors.length === 0) errors.push({ row: 1, message: '文件中没有映射 / The file lists no mappings' });
  return { rows, errors: errors.sort((a, b) => a.row - b.row) };
}

/**
 * The mappings as CSV (MAPPING_CSV_COLUMNS). Starts with a UTF-8 byte order mark: without it Excel
 * on Chinese Windows opens the file as GBK and garbles every name (the import ignores the mark).
 */
export function serializeMappingsCsv(mappings: readonly StoredMapping[]): string {
  const records = mappings.map((m) => [m.localCode ?? '', m.localName ?? '', m.catalogId, m.itemCodes.join(';')]);
  return writeCsvTable(MAPPING_CSV_COLUMNS, records);
}

export interface MappingImportResult {
  dryRun: boolean;
  mappings: number;
  created: number;
  /** Existing mappings whose item codes the file changes. */
  updated: number;
  /** Existing mappings with the same item codes (a different spelling of the local name is still saved). */
  unchanged: number;
  reclassifyQueued: boolean;
}

/**
 * All or nothing: the whole file is checked before anything is written, then every row is
 * upserted in one transaction (rows of the file only; mappings not in the file stay). A dry run
 * does the same and rolls back, so its counts are exact.
 */
export async function importMappingsCsv(
  deps: MappingDeps,
  institutionCode: string,
  text: string,
  opts: { dryRun: boolean; createdBy?: string },
): Promise<MappingImportResult> {
  await requireInstitution(deps.db, institutionCode);
  const { rows, errors } = parseMappingsCsv(text);
  if (errors.length) throw csvInvalid(errors);

  const trx = await deps.db.transaction();
  let created = 0;
  let updated = 0;
  try {
    for (const { mapping } of rows) {
      const outcome = await writeMapping(trx, institutionCode, mapping, opts.createdBy);
      if (outcome.created) created++;
      else if (outcome.changed) updated++;
    }
    if (opts.dryRun) await trx.rollback();
    else await trx.commit();
  } catch (err) {
    if (!trx.isCompleted()) await trx.rollback();
    throw err;
  }
  const reclassify = !opts.dryRun && created + updated > 0;
  if (reclassify) await enqueueReclassify(deps.reclassifyQueue, { reason: 'local_mapping', institutionCode });
  return { dryRun: opts.dryRun, mappings: rows.length, created, updated, unchanged: rows.length - created - updated, reclassifyQueued: reclassify };
}

// ─── A study's procedure ──────────────────────────────────────────────────────────────────────

/** DICOM JSON (PS3.18 Annex F), as study.attributes holds it. */
type DicomJson = Record<string, { vr?: string; Value?: unknown[] } | undefined>;

export interface ProcedureCodeValue {
  tag: 'RequestedProcedureCodeSequence' | 'ProcedureCodeSequence';
  value?: string;
  scheme?: string;
  meaning?: string;
}

/** What a study's stored study-level attributes say about the procedure ordered. */
export interface StudyProcedure {
  codes: ProcedureCodeValue[];
  requestedProcedureDescription?: string;
  studyDescription?: string;
}

const TAG = {
  RequestedProcedureCodeSequence: '00321064',
  ProcedureCodeSequence: '00081032',
  RequestedProcedureDescription: '00321060',
  StudyDescription: '00081030',
  CodeValue: '00080100',
  CodingSchemeDesignator: '00080102',
  CodeMeaning: '00080104',
} as const;

const jsonString = (el: unknown): string | undefined => {
  const v = (el as { Value?: unknown[] } | undefined)?.Value?.[0];
  const s = typeof v === 'string' || typeof v === 'number' ? String(v).trim() : '';
  return s || undefined;
};

/** Pure: RequestedProcedureCodeSequence, ProcedureCodeSequence, RequestedProcedureDescription and StudyDescription of study.attributes. */
export function studyProcedure(attributes: unknown): StudyProcedure {
  const ds = (attributes && typeof attributes === 'object' ? attributes : {}) as DicomJson;
  const codes = (['RequestedProcedureCodeSequence', 'ProcedureCodeSequence'] as const).flatMap((tag) =>
    (ds[TAG[tag]]?.Value ?? []).flatMap((item): ProcedureCodeValue[] => {
      if (!item || typeof item !== 'object') return [];
      const it = item as DicomJson;
      const code = { tag, value: jsonString(it[TAG.CodeValue]), scheme: jsonString(it[TAG.CodingSchemeDesignator]), meaning: jsonString(it[TAG.CodeMeaning]) };
      return code.value || code.meaning ? [code] : [];
    }),
  );
  return {
    codes,
    requestedProcedureDescription: jsonString(ds[TAG.RequestedProcedureDescription]),
    studyDescription: jsonString(ds[TAG.StudyDescription]),
  };
}

/**
 * Every key the classifier's mapping lookup (local-mapping.ts) tries for this study at study
 * level: each procedure code value, and as names the descriptions and code meanings.
 */
export function procedureKeys(p: StudyProcedure): string[] {
  const names = [p.requestedProcedureDescription, p.studyDescription, ...p.codes.map((c) => c.meaning)].filter((n): n is string => !!n);
  return [
    ...new Set([
      ...p.codes.flatMap((c) => (c.value ? [localMappingKey({ localCode: c.value })] : [])),
      ...names.flatMap((n) => {
        try {
          return [localMappingKey({ localName: n })];
        } catch {
          return []; // a name that normalises to nothing
        }
      }),
    ]),
  ];
}

export interface ProcedureKey {
  localKey: string;
  localCode?: string;
  localName?: string;
  codingScheme?: string;
  /** Which attribute the key comes from. */
  source: 'RequestedProcedureCodeSequence' | 'ProcedureCodeSequence' | 'RequestedProcedureDescription' | 'StudyDescription';
}

/**
 * The key a mapping of this study's procedure is made under: the RequestedProcedureCodeSequence
 * code value, else the ProcedureCodeSequence code value (with the code meaning as the name), else
 * RequestedProcedureDescription, else StudyDescription. Undefined when the study names no procedure.
 */
export function primaryProcedureKey(p: StudyProcedure): ProcedureKey | undefined {
  for (const tag of ['RequestedProcedureCodeSequence', 'ProcedureCodeSequence'] as const) {
    const code = p.codes.find((c) => c.tag === tag && c.value);
    if (code?.value) {
      return {
        localKey: localMappingKey({ localCode: code.value }),
        localCode: code.value,
        localName: code.meaning ?? p.requestedProcedureDescription ?? p.studyDescription,
        codingScheme: code.scheme,
        source: tag,
      };
    }
  }
  for (const [source, name] of [
    ['RequestedProcedureDescription', p.requestedProcedureDescription],
    ['StudyDescription', p.studyDescription],
  ] as const) {
    if (!name) continue;
    try {
      return { localKey: localMappingKey({ localName: name }), localName: name, source };
    } catch {
      // normalises to nothing: try the next
    }
  }
  return undefined;
}

// ─── Unmapped procedures ──────────────────────────────────────────────────────────────────────

/** Distinct procedure attributes of an institution's studies (one SQL group). */
export interface ProcedureGroupRow {
  procedure: StudyProcedure;
  studies: number;
  lastStudyDate: string | null;
  sampleStudyInstanceUid: string;
}

export interface UnmappedGroup {
  key: ProcedureKey;
  studies: number;
  lastStudyDate: string | null;
  /** Other descriptions sent with this procedure, most studies first (at most 5). */
  studyDescriptions: string[];
  sampleStudyInstanceUid: string;
}

/**
 * Pure: groups the institution's studies by their procedure key, leaving out studies any of whose
 * keys is mapped (`mappedKeys`); studies naming no procedure are only counted.
 */
export function groupUnmapped(
  rows: readonly ProcedureGroupRow[],
  mappedKeys: ReadonlySet<string>,
): { groups: UnmappedGroup[]; studiesWithoutProcedure: number } {
  const groups = new Map<string, UnmappedGroup & { largest: number; descriptions: Map<string, number> }>();
  let studiesWithoutProcedure = 0;
  for (const r of rows) {
    if (procedureKeys(r.procedure).some((k) => mappedKeys.has(k))) continue;
    const key = primaryProcedureKey(r.procedure);
    if (!key) {
      studiesWithoutProcedure += r.studies;
      continue;
    }
    let g = groups.get(key.localKey);
    if (!g) {
      g = {
        key,
        studies: 0,
        lastStudyDate: null,
        studyDescriptions: [],
        sampleStudyInstanceUid: r.sampleStudyInstanceUid,
        largest: 0,
        descriptions: new Map(),
      };
      groups.set(key.localKey, g);
    }
    g.studies += r.studies;
    if (r.lastStudyDate && (!g.lastStudyDate || r.lastStudyDate > g.lastStudyDate)) g.lastStudyDate = r.lastStudyDate;
    // The spelling (and sample) of the largest variant represents the group.
    if (r.studies > g.largest) {
      g.largest = r.studies;
      g.key = key;
      g.sampleStudyInstanceUid = r.sampleStudyInstanceUid;
    }
    const d = r.procedure.studyDescription;
    if (d && d !== key.localName) g.descriptions.set(d, (g.descriptions.get(d) ?? 0) + r.studies);
  }
  const out = [...groups.values()].map(({ largest: _largest, descriptions, ...g }) => ({
    ...g,
    studyDescriptions: [...descriptions.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, 5)
      .map(([d]) => d),
  }));
  out.sort((a, b) => b.studies - a.studies || a.key.localKey.localeCompare(b.key.localKey));
  return { groups: out, studiesWithoutProcedure };
}

export interface Guess {
  code: string;
  name?: string;
  confidence: number;
  /** `item`: recognised by the classifier; `candidate`: offered for review. */
  kind: 'item' | 'candidate';
  why?: string;
}

export interface CatalogGuesses {
  catalogId: string;
  status: CatalogClassification['status'];
  source: string;
  guesses: Guess[];
}

/** Pure: the classifier's best guesses from a stored classification, items first, at most 5. */
export function guessesOf(result: Pick<CatalogClassification, 'items' | 'candidates'>): Guess[] {
  const name = (code: string) => findItem(code)?.item.nameZh;
  const items: Guess[] = result.items.map((i) => ({ code: i.code, name: name(i.code), confidence: i.confidence, kind: 'item' }));
  const candidates: Guess[] = result.candidates
    .filter((c) => !result.items.some((i) => i.code === c.code))
    .map((c) => ({ code: c.code, name: name(c.code), confidence: c.confidence, kind: 'candidate', why: c.why }));
  return [...items, ...candidates.sort((a, b) => b.confidence - a.confidence)].slice(0, 5);
}

export interface UnmappedProcedure {
  localKey: string;
  localCode: string | null;
  localName: string | null;
  codingScheme: string | null;
  source: ProcedureKey['source'];
  studies: number;
  lastStudyDate: string | null;
  studyDescriptions: string[];
  sampleStudyInstanceUid: string;
  /** Per catalog, what the classifier made of the sample study. */
  classifications: CatalogGuesses[];
}

export interface UnmappedResult {
  institutionCode: string;
  catalogId: string | null;
  /** Procedures in all (before limit/offset). */
  total: number;
  /** Studies of the institution that name no procedure at all (no code, no description). */
  studiesWithoutProcedure: number;
  procedures: UnmappedProcedure[];
}

/**
 * The institution's procedure keys (from study.attributes: RequestedProcedureCodeSequence and
 * ProcedureCodeSequence code value + meaning, RequestedProcedureDescription, StudyDescription)
 * with study counts, without those a mapping covers — in `catalogId` when given, else in any
 * catalog — most studies first, each with the classifier's guesses for a sample study.
 */
export async function unmappedProcedures(
  db: Knex,
  institutionCode: string,
  opts: { catalogId?: string; limit?: number; offset?: number } = {},
): Promise<UnmappedResult> {
  await requireInstitution(db, institutionCode);
  const raw: Array<{ rpcs: unknown; pcs: unknown; rpd: unknown; sd: unknown; studies: number; last_study_date: string | null; sample: string }> = await db(
    'study',
  )
    .where({ sending_institution_code: institutionCode })
    .select(
      db.raw(`attributes -> '${TAG.RequestedProcedureCodeSequence}' AS rpcs`),
      db.raw(`attributes -> '${TAG.ProcedureCodeSequence}' AS pcs`),
      db.raw(`attributes -> '${TAG.RequestedProcedureDescription}' AS rpd`),
      db.raw(`attributes -> '${TAG.StudyDescription}' AS sd`),
      db.raw('count(*)::int AS studies'),
      db.raw(`to_char(max(study_date), 'YYYY-MM-DD') AS last_study_date`),
      // A study already classified, the most recent one, stands for the group.
      db.raw('(array_agg(study_instance_uid ORDER BY stable_at IS NULL, study_date DESC NULLS LAST, study_instance_uid DESC))[1] AS sample'),
    )
    .groupByRaw('1, 2, 3, 4');
  const rows: ProcedureGroupRow[] = raw.map((r) => ({
    procedure: studyProcedure({
      [TAG.RequestedProcedureCodeSequence]: r.rpcs as DicomJson[string],
      [TAG.ProcedureCodeSequence]: r.pcs as DicomJson[string],
      [TAG.RequestedProcedureDescription]: r.rpd as DicomJson[string],
      [TAG.StudyDescription]: r.sd as DicomJson[string],
    }),
    studies: r.studies,
    lastStudyDate: r.last_study_date,
    sampleStudyInstanceUid: r.sample,
  }));

  const mappedQuery = db('local_procedure_mapping').where({ institution_code: institutionCode });
  if (opts.catalogId) mappedQuery.where({ catalog_id: opts.catalogId });
  const mappedKeys = new Set<string>(await mappedQuery.distinct().pluck('local_key'));

  const { groups, studiesWithoutProcedure } = groupUnmapped(rows, mappedKeys);
  const offset = opts.offset ?? 0;
  const page = groups.slice(offset, offset + (opts.limit ?? 100));

  const classificationQuery = db('study_classification')
    .whereIn(
      'study_instance_uid',
      page.map((g) => g.sampleStudyInstanceUid),
    )
    .orderBy('catalog_id')
    .select('study_instance_uid', 'catalog_id', 'status', 'source', 'result');
  if (opts.catalogId) classificationQuery.where({ catalog_id: opts.catalogId });
  const classifications: Array<{
    study_instance_uid: string;
    catalog_id: string;
    status: CatalogClassification['status'];
    source: string;
    result: CatalogClassification;
  }> = page.length ? await classificationQuery : [];

  return {
    institutionCode,
    catalogId: opts.catalogId ?? null,
    total: groups.length,
    studiesWithoutProcedure,
    procedures: page.map((g) => ({
      localKey: g.key.localKey,
      localCode: g.key.localCode ?? null,
      localName: g.key.localName ?? null,
      codingScheme: g.key.codingScheme ?? null,
      source: g.key.source,
      studies: g.studies,
      lastStudyDate: g.lastStudyDate,
      studyDescriptions: g.studyDescriptions,
      sampleStudyInstanceUid: g.sampleStudyInstanceUid,
      classifications: classifications
        .filter((c) => c.study_instance_uid === g.sampleStudyInstanceUid)
        .map((c) => ({ catalogId: c.catalog_id, status: c.status, source: c.source, guesses: guessesOf(c.result) })),
    })),
  };
}
