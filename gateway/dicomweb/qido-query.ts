import type { Knex } from 'knex';
import { absolutizeBulkDataUris } from '../../core/dicom/bulkdata';
import { isUid } from '../../core/dicom/uid';
import { badRequest } from '../../core/errors';
import { instanceUrl, seriesUrl, studyUrl } from './urls';
import { qidoAccessCondition, type QidoAccess } from '../security/access';

/**
 * QIDO-RS (PS3.18 §10.6) in three pure steps: parse the query string (§8.3.4), build one
 * parameterised SQL query over the index tables, and turn the rows into DICOM JSON.
 * Answers come only from the index (study/series attributes, instance metadata), never
 * from stored files.
 *
 * Matching, as huren documents it in its conformance statement:
 * - Text (LO/SH: PatientID, AccessionNumber, StudyID, IssuerOfPatientID): exact, or `*`/`?`
 *   wildcards; case-sensitive as PS3.4 C.2.2.2.4 requires.
 * - StudyDescription: like text but case-insensitive (people type it into search boxes).
 * - PN (PatientName, ReferringPhysicianName): case-insensitive, `*`/`?` wildcards, matched
 *   against each component group (Alphabetic, Ideographic, Phonetic) separately, so `张*`
 *   finds `Zhang^San=张^三` and `*li*` finds any group containing "li". A value containing
 *   '=' is matched group by group. Trailing '^' (empty components) are ignored.
 * - fuzzymatching=true (PN only): additionally ignores component separators ('^', spaces,
 *   commas) and matches the start of a group: `zhangsan`, `Zhang San` and `zhang` all find
 *   `ZHANG^SAN`; `张三` finds `张^三`.
 * - DA (StudyDate, PatientBirthDate, PerformedProcedureStepStartDate): YYYYMMDD, or ranges
 *   `A-B`, `-B`, `A-` (inclusive). TM (StudyTime, PerformedProcedureStepStartTime): HH[MM[SS[.F]]]
 *   and ranges; a bound covers its whole precision (`-1500` includes 15:00:59). Date and time
 *   are matched independently (no combined DateTime matching); no DT attribute is matchable.
 * - UI: one UID or a list separated by '\' or ','. CS (Modality, ModalitiesInStudy, PatientSex,
 *   BodyPartExamined): one value or a list; ModalitiesInStudy matches a study having any of them.
 * - An empty value or a lone `*` is universal matching: no filter, but the attribute is returned.
 */

export type QidoLevel = 'study' | 'series' | 'instance';

export interface QidoLimits {
  defaultLimit: number;
  maxLimit: number;
}

/** The UIDs given in the path (/studies/{study}/series/{series}/instances). */
export interface QidoScope {
  studyInstanceUid?: string;
  seriesInstanceUid?: string;
}

type Kind = 'text' | 'ci-text' | 'pn' | 'date' | 'da-text' | 'time' | 'uid' | 'cs' | 'cs-array' | 'int';

export interface MatchKey {
  keyword: string;
  tag: string;
  level: QidoLevel;
  kind: Kind;
  /** SQL column (table-qualified; trusted constant, never from the request). */
  column: string;
}

export type Match =
  | { type: 'in'; values: (string | number)[] }
  | { type: 'like'; pattern: string }
  | { type: 'range'; from?: string; to?: string }
  | { type: 'pn'; regex: string; fuzzy: boolean };

export interface QidoFilter {
  key: MatchKey;
  match: Match;
}

export interface QidoQuery {
  level: QidoLevel;
  scope: QidoScope;
  filters: QidoFilter[];
  include: { all: boolean; tags: string[] };
  fuzzy: boolean;
  limit: number;
  offset: number;
  /** Texts for `Warning: 299` headers (optional parameters huren does not support). */
  warnings: string[];
  /** Which studies the caller may see (gateway/security/access.ts); absent = no restriction. */
  access?: QidoAccess;
}

const key = (keyword: string, tag: string, level: QidoLevel, kind: Kind, column: string): MatchKey => ({ keyword, tag, level, kind, column });

/** Matching keys per level (PS3.18 Table 10.6.1-5 plus a few that PACS send in practice). */
export const MATCH_KEYS: readonly MatchKey[] = [
  key('StudyDate', '00080020', 'study', 'date', 'study.study_date'),
  key('StudyTime', '00080030', 'study', 'time', 'study.study_time'),
  key('AccessionNumber', '00080050', 'study', 'text', 'study.accession_number'),
  key('ModalitiesInStudy', '00080061', 'study', 'cs-array', 'study.modalities_in_study'),
  key('ReferringPhysicianName', '00080090', 'study', 'pn', 'study.referring_physician_name'),
  key('StudyDescription', '00081030', 'study', 'ci-text', 'study.study_description'),
  key('PatientName', '00100010', 'study', 'pn', 'study.patient_name'),
  key('PatientID', '00100020', 'study', 'text', 'study.patient_id'),
  key('IssuerOfPatientID', '00100021', 'study', 'text', 'study.issuer_of_patient_id'),
  key('PatientBirthDate', '00100030', 'study', 'da-text', 'study.patient_birth_date'),
  key('PatientSex', '00100040', 'study', 'cs', 'study.patient_sex'),
  key('StudyInstanceUID', '0020000D', 'study', 'uid', 'study.study_instance_uid'),
  key('StudyID', '00200010', 'study', 'text', 'study.study_id'),
  key('Modality', '00080060', 'series', 'cs', 'series.modality'),
  key('BodyPartExamined', '00180015', 'series', 'cs', 'series.body_part_examined'),
  key('SeriesInstanceUID', '0020000E', 'series', 'uid', 'series.series_instance_uid'),
  key('SeriesNumber', '00200011', 'series', 'int', 'series.series_number'),
  key('PerformedProcedureStepStartDate', '00400244', 'series', 'date', 'series.performed_procedure_step_start_date'),
  key('PerformedProcedureStepStartTime', '00400245', 'series', 'time', 'series.performed_procedure_step_start_time'),
  key('SOPClassUID', '00080016', 'instance', 'uid', 'instance.sop_class_uid'),
  key('SOPInstanceUID', '00080018', 'instance', 'uid', 'instance.sop_instance_uid'),
  key('InstanceNumber', '00200013', 'instance', 'int', 'instance.instance_number'),
];

// dcmjs ships no type declarations; only its data dictionary (keyword ↔ tag ↔ VR) is used.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dictionary = (require('dcmjs') as { data: { DicomMetaDictionary: DicomDictionary } }).data.DicomMetaDictionary;
interface DicomDictionary {
  nameMap: Record<string, { tag: string; vr: string } | undefined>;
  dictionary: Record<string, { vr: string; name: string } | undefined>;
}

const toTag = (paren: string) => paren.replace(/[(),]/g, '').toUpperCase();
const toParen = (tag: string) => `(${tag.slice(0, 4)},${tag.slice(4)})`;

/** A keyword or 8-hex-digit tag → tag (uppercase hex), or undefined if neither. */
function resolveTag(name: string): string | undefined {
  if (/^[0-9A-Fa-f]{8}$/.test(name)) return name.toUpperCase();
  const entry = Object.hasOwn(dictionary.nameMap, name) ? dictionary.nameMap[name] : undefined;
  return entry && /^\([0-9A-F]{4},[0-9A-F]{4}\)$/i.test(entry.tag) ? toTag(entry.tag) : undefined;
}

const vrOf = (tag: string) => dictionary.dictionary[toParen(tag)]?.vr.slice(0, 2) ?? 'UN';

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

const invalid = (parameter: string, message: string) => badRequest('qido_invalid_parameter', `${parameter}: ${message}`, { parameter });

/* eslint-disable no-control-regex -- these match exactly the control characters to refuse */
const CONTROL_IN_VALUE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/;
const CONTROL = /[\u0000-\u001f]/;
const CONTROL_ALL = /[\u0000-\u001f]/g;
/* eslint-enable no-control-regex */

export function parseQidoQuery(level: QidoLevel, query: Record<string, string | string[] | unknown>, limits: QidoLimits, scope: QidoScope = {}): QidoQuery {
  for (const [name, uid] of [
    ['StudyInstanceUID', scope.studyInstanceUid],
    ['SeriesInstanceUID', scope.seriesInstanceUid],
  ] as const) {
    if (uid !== undefined && !isUid(uid)) throw badRequest('invalid_uid', `Not a valid ${name} in the path: ${uid.slice(0, 80)}`, { parameter: name });
  }
  const q: QidoQuery = { level, scope, filters: [], include: { all: false, tags: [] }, fuzzy: false, limit: limits.defaultLimit, offset: 0, warnings: [] };
  const matches: [string, string][] = [];

  for (const [name, raw] of Object.entries(query)) {
    const values = (Array.isArray(raw) ? raw : [raw]) as unknown[];
    if (!values.every((v): v is string => typeof v === 'string')) throw invalid(name, 'expected a plain text value');
    // PostgreSQL text holds no NUL (and a control character is never part of a DICOM value to match).
    if (values.some((v) => CONTROL_IN_VALUE.test(v)) || CONTROL.test(name)) throw invalid(name.replace(CONTROL_ALL, '?'), 'contains control characters');
    const one = () => {
      if (values.length !== 1) throw invalid(name, 'given more than once');
      return values[0].trim();
    };
    // Parameter names of PS3.18 itself are matched case-insensitively (clients write includeField).
    switch (name.toLowerCase()) {
      case 'includefield':
        for (const field of values
          .flatMap((v) => v.split(','))
          .map((f) => f.trim())
          .filter(Boolean)) {
          if (field === 'all') q.include.all = true;
          else q.include.tags.push(includeTag(field));
        }
        break;
      case 'limit':
        q.limit = Math.min(uint(name, one()), limits.maxLimit);
        if (q.limit === 0) throw invalid(name, 'must be at least 1');
        break;
      case 'offset':
        q.offset = uint(name, one());
        break;
      case 'fuzzymatching':
        q.fuzzy = bool(name, one());
        break;
      case 'emptyvaluematching':
        if (bool(name, one())) q.warnings.push('The emptyvaluematching parameter is not supported. Empty Value Matching has not been performed.');
        break;
      case 'multiplevaluematching':
        if (bool(name, one())) q.warnings.push('The multiplevaluematching parameter is not supported. Multiple Value Matching has not been performed.');
        break;
      case 'accept': // content negotiation (§8.3.3), handled with the Accept header
      case 'charset': // answers are always UTF-8
        break;
      default:
        matches.push([name, one()]);
    }
  }

  const allowed = matchableLevels(level, scope);
  const seen = new Set<MatchKey>();
  for (const [name, value] of matches) {
    if (name.includes('.')) throw badRequest('qido_unsupported_match', `${name}: sequence matching is not supported`, { parameter: name });
    const tag = resolveTag(name);
    if (!tag)
      throw badRequest('qido_unknown_parameter', `Unknown query parameter "${name}": not a QIDO-RS parameter, DICOM keyword or 8-digit tag`, {
        parameter: name,
      });
    const mk = MATCH_KEYS.find((k) => k.tag === tag);
    if (!mk || !allowed.includes(mk.level)) {
      const supported = MATCH_KEYS.filter((k) => allowed.includes(k.level)).map((k) => k.keyword);
      throw badRequest(
        'qido_unsupported_match',
        `${name} cannot be used for matching in a search for ${searchName(level, scope)}; supported: ${supported.join(', ')}`,
        {
          parameter: name,
        },
      );
    }
    if (seen.has(mk)) throw invalid(name, `${mk.keyword} given more than once`);
    seen.add(mk);
    // Matching keys are also returned (PS3.18 §10.6.3.3), even under universal matching.
    q.include.tags.push(mk.tag);
    const match = parseMatch(mk, name, value, q.fuzzy);
    if (match) q.filters.push({ key: mk, match });
  }
  q.include.tags = [...new Set(q.include.tags)];
  return q;
}

/** Levels whose attributes may be matched: the searched one and any parent not fixed by the path. */
function matchableLevels(level: QidoLevel, scope: QidoScope): QidoLevel[] {
  const levels: QidoLevel[] = [level];
  if (level === 'instance' && !scope.seriesInstanceUid) levels.push('series');
  if (level !== 'study' && !scope.studyInstanceUid) levels.push('study');
  return levels;
}

function searchName(level: QidoLevel, scope: QidoScope): string {
  const plural = { study: 'studies', series: 'series', instance: 'instances' }[level];
  if (scope.seriesInstanceUid) return `${plural} of one series`;
  return scope.studyInstanceUid ? `${plural} of one study` : `all ${plural}`;
}

function includeTag(field: string): string {
  // A nested path (00400275.00400009) includes its top-level sequence.
  const tag = resolveTag(field.split('.')[0]);
  if (!tag) throw invalid('includefield', `"${field}" is not a DICOM keyword or 8-digit tag`);
  return tag;
}

function uint(name: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw invalid(name, `"${value}" is not a non-negative integer`);
  return Number(value);
}

function bool(name: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v !== 'true' && v !== 'false') throw invalid(name, `"${value}" is not true or false`);
  return v === 'true';
}

const universal = (value: string) => /^\**$/.test(value);

function parseMatch(k: MatchKey, name: string, value: string, fuzzy: boolean): Match | undefined {
  if (universal(value)) return undefined;
  switch (k.kind) {
    case 'text':
    case 'ci-text':
      return /[*?]/.test(value) ? { type: 'like', pattern: likePattern(value) } : { type: 'in', values: [value] };
    case 'pn':
      return { type: 'pn', regex: pnRegex(value, fuzzy), fuzzy };
    case 'date':
    case 'da-text':
      return dateRange(k, name, value);
    case 'time':
      return timeRange(name, value);
    case 'uid': {
      const uids = list(value);
      const bad = uids.find((u) => !isUid(u));
      if (bad !== undefined || uids.length === 0) throw invalid(name, `"${(bad ?? value).slice(0, 80)}" is not a UID (list separated by "\\" or ",")`);
      return { type: 'in', values: uids };
    }
    case 'cs':
    case 'cs-array': {
      const codes = list(value.toUpperCase());
      if (codes.length === 1 && /[*?]/.test(codes[0])) return { type: 'like', pattern: likePattern(codes[0]) };
      const bad = codes.find((c) => !/^[A-Z0-9 _]+$/.test(c));
      if (bad !== undefined || codes.length === 0) throw invalid(name, `"${(bad ?? value).slice(0, 80)}" is not a code string (list separated by "\\" or ",")`);
      return { type: 'in', values: codes };
    }
    case 'int':
      if (!/^[+-]?\d{1,10}$/.test(value) || Math.abs(Number(value)) > 2 ** 31 - 1) throw invalid(name, `"${value.slice(0, 80)}" is not an integer`);
      return { type: 'in', values: [Number(value)] };
  }
}

const list = (value: string) =>
  value
    .split(/[\\,]/)
    .map((v) => v.trim())
    .filter(Boolean);

/** DICOM wildcards → SQL LIKE (backslash is PostgreSQL's default LIKE escape). */
function likePattern(value: string): string {
  return value
    .replace(/[\\%_]/g, '\\$&')
    .replace(/\*/g, '%')
    .replace(/\?/g, '_');
}

/** DICOM wildcards → a regex fragment that stays inside one component group. */
function groupRegex(value: string): string {
  return value
    .replace(/[\\^$.|+()[\]{}]/g, '\\$&')
    .replace(/\*/g, '[^=]*')
    .replace(/\?/g, '[^=]');
}

/**
 * A PN query → PostgreSQL regex over the stored 'Alphabetic=Ideographic=Phonetic' string
 * (upper-cased on both sides in SQL). Fuzzy: separators removed on both sides, prefix match.
 */
function pnRegex(value: string, fuzzy: boolean): string {
  const groups = value.replace(/=+$/, '').split('=');
  if (fuzzy) {
    const alternatives = groups
      .map((g) => g.replace(/[ ^,]/g, ''))
      .filter(Boolean)
      .map(groupRegex);
    return `(^|=)(${alternatives.join('|')})`;
  }
  const group = (g: string) => (g === '' ? '[^=]*' : `${groupRegex(g.replace(/\^+$/, ''))}\\^*`);
  if (groups.length === 1) return `(^|=)${group(groups[0])}(=|$)`;
  return `^${groups.map(group).join('=')}(=.*)?$`;
}

function dateRange(k: MatchKey, name: string, value: string): Match {
  const m = /^(\d{8})?(-)?(\d{8})?$/.exec(value);
  if (!m || (!m[1] && !m[3]) || (!m[2] && m[3]))
    throw invalid(name, `"${value.slice(0, 80)}" is not a date (YYYYMMDD) or date range (YYYYMMDD-YYYYMMDD, -YYYYMMDD, YYYYMMDD-)`);
  const [from, to] = m[2] ? [m[1], m[3]] : [m[1], m[1]];
  for (const d of [from, to]) if (d !== undefined && !isCalendarDate(d)) throw invalid(name, `${d} is not a calendar date`);
  if (from && to && from > to) throw invalid(name, `range ${value} ends before it starts`);
  // date columns compare with ISO dates; da-text columns hold the raw YYYYMMDD text.
  const conv = (d?: string) => (d === undefined || k.kind === 'da-text' ? d : `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`);
  return { type: 'range', from: conv(from), to: conv(to) };
}

function isCalendarDate(d: string): boolean {
  const iso = `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6)}`;
  const parsed = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === iso;
}

const TM = /^([01]\d|2[0-3])([0-5]\d([0-5]\d|60)?)?(\.\d{1,6})?$/;

function timeRange(name: string, value: string): Match {
  const m = /^([^-]*)(-)?([^-]*)$/.exec(value);
  const bad = (t: string) => t !== '' && (!TM.test(t) || (t.includes('.') && t.indexOf('.') !== 6));
  if (!m || (!m[1] && !m[3]) || bad(m[1]) || bad(m[3])) {
    throw invalid(name, `"${value.slice(0, 80)}" is not a time (HHMMSS.FFFFFF, shorter precisions allowed) or time range`);
  }
  const [from, to] = m[2] ? [m[1], m[3]] : [m[1], m[1]];
  return { type: 'range', from: from || undefined, to: to ? endOfTime(to) : undefined };
}

/** The last instant a TM bound denotes, so that string comparison includes its whole precision. */
function endOfTime(t: string): string {
  const [hms, frac = ''] = t.split('.');
  return `${hms}${'595959'.slice(hms.length)}.${frac.padEnd(6, '9')}`;
}

// ---------------------------------------------------------------------------------------------
// SQL
// ---------------------------------------------------------------------------------------------

export interface QidoRow {
  study_instance_uid: string;
  study_attributes: DicomJson;
  modalities_in_study: string[];
  number_of_study_related_series: number;
  number_of_study_related_instances: number;
  series_instance_uid?: string;
  series_attributes?: DicomJson;
  number_of_series_related_instances?: number;
  sop_instance_uid?: string;
  metadata?: DicomJson | null;
}

const STUDY_COLUMNS = [
  'study.study_instance_uid',
  'study.attributes as study_attributes',
  'study.modalities_in_study',
  'study.number_of_study_related_series',
  'study.number_of_study_related_instances',
];
const SERIES_COLUMNS = ['series.series_instance_uid', 'series.attributes as series_attributes', 'series.number_of_series_related_instances'];

// Orders end with the level's unique UID, so offset pages never repeat or skip a row.
// The study order matches the study_recent index (migration 20261125000300).
const STUDY_ORDER = ['study.study_date DESC NULLS LAST', 'study.study_time DESC NULLS LAST', 'study.study_instance_uid'];
const SERIES_ORDER = ['series.series_number NULLS LAST', 'series.series_instance_uid'];
const INSTANCE_ORDER = ['instance.instance_number NULLS LAST', 'instance.sop_instance_uid'];

/** One query, limit+1 rows: the extra row only tells whether more results remain. */
export function buildQidoSql(db: Knex, q: QidoQuery): Knex.QueryBuilder<QidoRow, QidoRow[]> {
  const { studyInstanceUid: study, seriesInstanceUid: series } = q.scope;
  let sql: Knex.QueryBuilder;
  let order: string[];
  if (q.level === 'study') {
    sql = db('study').select(STUDY_COLUMNS);
    order = STUDY_ORDER;
  } else if (q.level === 'series') {
    sql = db('series')
      .join('study', 'study.study_instance_uid', 'series.study_instance_uid')
      .select([...STUDY_COLUMNS, ...SERIES_COLUMNS]);
    if (study) sql.where('series.study_instance_uid', study);
    order = study ? SERIES_ORDER : [...STUDY_ORDER, ...SERIES_ORDER];
  } else {
    sql = db('instance')
      .join('series', 'series.series_instance_uid', 'instance.series_instance_uid')
      .join('study', 'study.study_instance_uid', 'instance.study_instance_uid')
      .select([...STUDY_COLUMNS, ...SERIES_COLUMNS, 'instance.sop_instance_uid', 'instance.metadata'])
      // Received but not yet indexed instances are stored, not yet searchable.
      .where('instance.status', 'indexed');
    if (study) sql.where('instance.study_instance_uid', study);
    if (series) sql.where('instance.series_instance_uid', series);
    order = series ? INSTANCE_ORDER : study ? [...SERIES_ORDER, ...INSTANCE_ORDER] : [...STUDY_ORDER, ...SERIES_ORDER, ...INSTANCE_ORDER];
  }
  // The access policy: one parameterised condition on the study (every level joins it).
  if (q.access) for (const c of qidoAccessCondition(q.access)) sql.whereRaw(c.sql, c.bindings);
  for (const f of q.filters) applyFilter(sql, f);
  return sql
    .orderByRaw(order.join(', '))
    .limit(q.limit + 1)
    .offset(q.offset);
}

const placeholders = (n: number) => Array(n).fill('?').join(', ');

function applyFilter(sql: Knex.QueryBuilder, { key: k, match }: QidoFilter): void {
  const col = k.column;
  switch (match.type) {
    case 'in':
      if (k.kind === 'cs-array') sql.whereRaw(`${col} && ARRAY[${placeholders(match.values.length)}]::text[]`, match.values);
      else if (k.kind === 'ci-text') sql.whereRaw(`upper(${col}) = upper(?)`, match.values);
      else sql.whereIn(col, match.values);
      return;
    case 'like':
      if (k.kind === 'cs-array') sql.whereRaw(`EXISTS (SELECT 1 FROM unnest(${col}) AS m WHERE m LIKE ?)`, [match.pattern]);
      else if (k.kind === 'ci-text') sql.whereRaw(`upper(${col}) LIKE upper(?)`, [match.pattern]);
      else sql.whereRaw(`${col} LIKE ?`, [match.pattern]);
      return;
    case 'range': {
      // Legacy TM values may carry colons (ACR-NEMA style HH:MM:SS).
      const expr = k.kind === 'time' ? `replace(${col}, ':', '')` : col;
      const cast = k.kind === 'date' ? '::date' : '';
      if (match.from !== undefined) sql.whereRaw(`${expr} >= ?${cast}`, [match.from]);
      if (match.to !== undefined) sql.whereRaw(`${expr} <= ?${cast}`, [match.to]);
      return;
    }
    case 'pn': {
      // Same expressions as the trigram indexes on study.patient_name.
      const expr = match.fuzzy ? `regexp_replace(upper(${col}), '[ ^,]', '', 'g')` : `upper(${col})`;
      sql.whereRaw(`${expr} ~ upper(?)`, [match.regex]);
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Response
// ---------------------------------------------------------------------------------------------

export type DicomJson = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string }>;

// PS3.18 Tables 10.6.3-3/-4/-5 (default return attributes) minus those computed below:
// SpecificCharacterSet, InstanceAvailability, ModalitiesInStudy, RetrieveURL and the counts.
const STUDY_DEFAULTS = ['00080020', '00080030', '00080050', '00080090', '00080201', '00100010', '00100020', '00100030', '00100040', '0020000D', '00200010'];
const SERIES_DEFAULTS = ['00080060', '00080201', '0008103E', '0020000E', '00200011', '00400244', '00400245', '00400275'];
const INSTANCE_DEFAULTS = ['00080016', '00080018', '00080201', '00200013', '00280010', '00280011', '00280100', '00280008'];

/** The DICOM JSON array answering `q` (rows already cut to q.limit). */
export function qidoResponse(rows: QidoRow[], q: QidoQuery, baseUrl: string): DicomJson[] {
  return rows.map((row) => absolutizeBulkDataUris(qidoResult(row, q, baseUrl), baseUrl) as DicomJson);
}

function qidoResult(row: QidoRow, q: QidoQuery, base: string): DicomJson {
  const study = row.study_attributes ?? {};
  const series = row.series_attributes ?? {};
  const instance = row.metadata ?? {};
  const out: DicomJson = {};
  const fill = (tags: string[], sources: DicomJson[]) => {
    for (const tag of tags) {
      if (out[tag]) continue;
      const found = sources.find((s) => s[tag]);
      // A default attribute without a value is still returned, empty (as C-FIND does).
      out[tag] = found ? found[tag] : { vr: vrOf(tag) };
    }
  };
  const studyComputed = () => {
    out['00080061'] = row.modalities_in_study.length ? { vr: 'CS', Value: row.modalities_in_study } : { vr: 'CS' };
    out['00201206'] = { vr: 'IS', Value: [row.number_of_study_related_series] };
    out['00201208'] = { vr: 'IS', Value: [row.number_of_study_related_instances] };
  };
  const seriesComputed = () => {
    out['00201209'] = { vr: 'IS', Value: [row.number_of_series_related_instances ?? 0] };
  };
  const studyUid = row.study_instance_uid;

  let own: DicomJson;
  let chain: DicomJson[];
  if (q.level === 'study') {
    [own, chain] = [study, [study]];
    studyComputed();
    out['00080056'] = { vr: 'CS', Value: ['ONLINE'] };
    out['00081190'] = { vr: 'UR', Value: [studyUrl(base, studyUid)] };
    fill(STUDY_DEFAULTS, [study]);
  } else if (q.level === 'series') {
    [own, chain] = [series, [series, study]];
    seriesComputed();
    out['00081190'] = { vr: 'UR', Value: [seriesUrl(base, studyUid, row.series_instance_uid!)] };
    out['0020000D'] = { vr: 'UI', Value: [studyUid] };
    fill(SERIES_DEFAULTS, [series, study]);
    // All Series: the study's attributes come along (PS3.18 §10.6.3.3.2).
    if (!q.scope.studyInstanceUid) {
      studyComputed();
      fill(STUDY_DEFAULTS, [study]);
    }
  } else {
    [own, chain] = [instance, [instance, series, study]];
    out['00080056'] = { vr: 'CS', Value: ['ONLINE'] };
    out['00081190'] = { vr: 'UR', Value: [instanceUrl(base, studyUid, row.series_instance_uid!, row.sop_instance_uid!)] };
    out['0020000D'] = { vr: 'UI', Value: [studyUid] };
    out['0020000E'] = { vr: 'UI', Value: [row.series_instance_uid!] };
    fill(INSTANCE_DEFAULTS, [instance]);
    fill(['00080060'], [series, instance]);
    // Study's Instances carry the series' attributes, All Instances the study's too.
    if (!q.scope.seriesInstanceUid) {
      seriesComputed();
      fill(SERIES_DEFAULTS, [series, study]);
    }
    if (!q.scope.studyInstanceUid) {
      studyComputed();
      fill(STUDY_DEFAULTS, [study]);
    }
  }

  // includefield=all: everything stored at the searched level (study.attributes,
  // series.attributes or the instance metadata); named fields are also looked up in parents.
  if (q.include.all) for (const [tag, el] of Object.entries(own)) out[tag] ??= el;
  for (const tag of q.include.tags) {
    const found = chain.find((s) => s[tag]);
    if (found) out[tag] ??= found[tag];
  }
  // Whatever the sender's character set, the JSON is UTF-8 (PS3.18 §F.2).
  out['00080005'] = { vr: 'CS', Value: ['ISO_IR 192'] };
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)));
}

export const qidoLimits = (config: { HUREN_QIDO_DEFAULT_LIMIT: number; HUREN_QIDO_MAX_LIMIT: number }): QidoLimits => ({
  defaultLimit: Math.min(config.HUREN_QIDO_DEFAULT_LIMIT, config.HUREN_QIDO_MAX_LIMIT),
  maxLimit: config.HUREN_QIDO_MAX_LIMIT,
});
