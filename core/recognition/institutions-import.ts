/**
 * CSV import of the institution registry: all or nothing. Every row is checked (format,
 * duplicates within the file, aliases held by institutions outside the file) before anything
 * is written; then all rows are written and unattributed studies re-attributed in one
 * transaction. A dry run does exactly the same and rolls back, so its counts are exact.
 */
import type { Knex } from 'knex';
import { badRequest, type HurenError } from '../errors';
import { reattributeUnattributed } from './attribution';
import { parseInstitutionsCsv, type RowError } from './institutions-csv';
import { aliasConflicts, aliasKeys, writeInstitution } from './institutions';

export interface ImportResult {
  dryRun: boolean;
  institutions: number;
  created: number;
  updated: number;
  reattributedStudies: number;
}

/** Reported errors are capped so a wrong file does not produce a 10 MB answer. */
const MAX_REPORTED_ERRORS = 500;

export async function importInstitutionsCsv(db: Knex, text: string, opts: { dryRun: boolean }): Promise<ImportResult> {
  const { rows, errors } = parseInstitutionsCsv(text);
  if (errors.length) throw csvInvalid(errors);

  const owners = new Set(rows.map((r) => r.institution.code));
  const rowOfAlias = new Map(rows.flatMap((r) => aliasKeys(r.institution).map((k) => [`${k.kind}\u0000${k.value}`, r.row] as const)));
  const conflicts = await aliasConflicts(
    db,
    rows.flatMap((r) => aliasKeys(r.institution)),
    owners,
  );
  if (conflicts.length) {
    throw csvInvalid(
      conflicts.map((c) => ({
        row: rowOfAlias.get(`${c.kind}\u0000${c.value}`) ?? 1,
        column: c.kind,
        message: `别名 "${c.value}" 已属于机构 ${c.institutionCode}（不在本文件中）/ Alias "${c.value}" belongs to institution ${c.institutionCode}, which is not in this file`,
      })),
    );
  }

  const trx = await db.transaction();
  try {
    // Aliases may move between institutions of the file: free them all before writing any.
    await trx('institution_alias')
      .whereIn('institution_code', [...owners])
      .delete();
    let created = 0;
    for (const { institution } of rows) if (await writeInstitution(trx, institution)) created++;
    const reattributedStudies = await reattributeUnattributed(trx);
    if (opts.dryRun) await trx.rollback();
    else await trx.commit();
    return { dryRun: opts.dryRun, institutions: rows.length, created, updated: rows.length - created, reattributedStudies };
  } catch (err) {
    if (!trx.isCompleted()) await trx.rollback();
    throw err;
  }
}

export function csvInvalid(errors: RowError[]): HurenError {
  const sorted = [...errors].sort((a, b) => a.row - b.row);
  return badRequest('csv_invalid', `CSV 有 ${errors.length} 处错误，未导入任何数据 / The CSV has ${errors.length} error(s); nothing was imported`, {
    errors: sorted.slice(0, MAX_REPORTED_ERRORS),
    ...(errors.length > MAX_REPORTED_ERRORS && { truncated: true }),
  });
}
