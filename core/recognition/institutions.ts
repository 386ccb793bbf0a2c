/**
 * The institution registry (tables of migrations/20261125000400_recognition.ts): an
 * institution is written whole, with its aliases, group memberships and accreditations, in
 * one transaction, and the studies its new aliases match are attributed in that same
 * transaction.
 */
import type { Knex } from 'knex';
import { HurenError, notFound } from '../errors';
import { reattributeUnattributed, type AliasKey } from './attribution';
import type { Institution, StoredInstitution } from './institution-schema';

export { attributeSender, listUnattributed, reattributeUnattributed } from './attribution';

export interface WriteResult {
  created: boolean;
  reattributedStudies: number;
}

export interface AliasConflict extends AliasKey {
  institutionCode: string;
}

/** Creates or replaces an institution (PUT semantics). 409 when an alias belongs to another institution. */
export async function upsertInstitution(db: Knex, institution: Institution): Promise<WriteResult> {
  return db.transaction(async (trx) => {
    const conflicts = await aliasConflicts(trx, aliasKeys(institution), new Set([institution.code]));
    if (conflicts.length) throw aliasConflictError(conflicts);
    const created = await writeInstitution(trx, institution);
    return { created, reattributedStudies: await reattributeUnattributed(trx) };
  });
}

/**
 * Writes one institution inside the caller's transaction; the caller checks alias conflicts
 * first (the CSV import checks a whole file before writing any of it). Returns true if new.
 */
export async function writeInstitution(trx: Knex.Transaction, inst: Institution): Promise<boolean> {
  const existed = await trx('institution').where({ code: inst.code }).forUpdate().first('code');
  await trx('institution')
    .insert({ code: inst.code, name: inst.name, region: inst.region, level: inst.level, kind: inst.kind, is_public: inst.isPublic })
    .onConflict('code')
    .merge({ name: inst.name, region: inst.region, level: inst.level, kind: inst.kind, is_public: inst.isPublic, updated_at: trx.fn.now() });

  await trx('institution_alias').where({ institution_code: inst.code }).delete();
  const aliases = aliasKeys(inst).map((k) => ({ institution_code: inst.code, ...k }));
  if (aliases.length) {
    try {
      // A savepoint, so that a concurrent writer's alias surfaces as a 409, not a broken transaction.
      await trx.transaction((sp) => sp('institution_alias').insert(aliases));
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw err;
      throw aliasConflictError(await aliasConflicts(trx, aliasKeys(inst), new Set([inst.code])));
    }
  }

  await trx('institution_group_member').where({ institution_code: inst.code }).delete();
  for (const g of inst.groups) {
    // Groups are shared: the latest definition of a group's name and kind wins.
    await trx('institution_group').insert({ code: g.code, name: g.name, kind: g.kind }).onConflict('code').merge(['name', 'kind']);
  }
  if (inst.groups.length) {
    await trx('institution_group_member').insert(inst.groups.map((g) => ({ group_code: g.code, institution_code: inst.code })));
  }

  await trx('institution_accreditation').where({ institution_code: inst.code }).delete();
  if (inst.accreditations.length) {
    await trx('institution_accreditation').insert(
      inst.accreditations.map((a) => ({
        institution_code: inst.code,
        catalog_id: a.catalogId,
        modality: a.modality,
        valid_from: a.validFrom,
        valid_until: a.validUntil ?? null,
        issuer: a.issuer ?? null,
      })),
    );
  }
  return !existed;
}

export function aliasKeys(inst: Pick<Institution, 'aliases'>): AliasKey[] {
  return [
    ...inst.aliases.institutionNames.map((value) => ({ kind: 'institution_name' as const, value })),
    ...inst.aliases.aeTitles.map((value) => ({ kind: 'ae_title' as const, value })),
    ...inst.aliases.issuersOfPatientId.map((value) => ({ kind: 'issuer_of_patient_id' as const, value })),
  ];
}

/** Aliases among `keys` that belong to an institution other than those in `owners`. */
export async function aliasConflicts(db: Knex | Knex.Transaction, keys: AliasKey[], owners: Set<string>): Promise<AliasConflict[]> {
  if (keys.length === 0) return [];
  const rows: Array<AliasKey & { institution_code: string }> = await db('institution_alias')
    .whereIn(
      ['kind', 'value'],
      keys.map((k) => [k.kind, k.value]),
    )
    .select('kind', 'value', 'institution_code');
  return rows.filter((r) => !owners.has(r.institution_code)).map((r) => ({ kind: r.kind, value: r.value, institutionCode: r.institution_code }));
}

export function aliasConflictError(conflicts: AliasConflict[]): HurenError {
  const list = conflicts.map((c) => `${c.kind} "${c.value}" → ${c.institutionCode}`).join('; ');
  return new HurenError(409, 'alias_conflict', `别名已属于其他机构 / Alias already belongs to another institution: ${list}`, { conflicts });
}

export interface InstitutionFilter {
  region?: string;
  level?: string;
  group?: string;
}

export async function getInstitution(db: Knex, code: string): Promise<StoredInstitution | undefined> {
  const [found] = await loadInstitutions(db, (q) => q.where({ code }));
  return found;
}

export async function listInstitutions(db: Knex, filter: InstitutionFilter = {}): Promise<StoredInstitution[]> {
  return loadInstitutions(db, (q) => {
    if (filter.region) q.where({ region: filter.region });
    if (filter.level) q.where({ level: filter.level });
    if (filter.group) q.whereIn('code', db('institution_group_member').where({ group_code: filter.group }).select('institution_code'));
  });
}

/**
 * Deletes an institution with its aliases, memberships and accreditations. Studies it sent
 * keep existing: without `detachStudies` the delete is refused (409) while any are attributed
 * to it; with it they become unattributed again (and are listed for an operator).
 */
export async function deleteInstitution(db: Knex, code: string, opts: { detachStudies?: boolean } = {}): Promise<{ detachedStudies: number }> {
  return db.transaction(async (trx) => {
    const existing = await trx('institution').where({ code }).forUpdate().first('code');
    if (!existing) throw unknownInstitution(code);
    const [{ count }] = await trx('study').where({ sending_institution_code: code }).count({ count: '*' });
    const attributed = Number(count);
    if (attributed > 0 && !opts.detachStudies) {
      throw new HurenError(
        409,
        'institution_has_studies',
        `该机构名下有 ${attributed} 个检查，需加 ?detachStudies=true 才能删除（检查将变为未归属） / ` +
          `${attributed} studies are attributed to this institution; add ?detachStudies=true to delete it (they become unattributed)`,
        { attributedStudies: attributed },
      );
    }
    const detachedStudies = attributed ? await trx('study').where({ sending_institution_code: code }).update({ sending_institution_code: null }) : 0;
    await trx('institution').where({ code }).delete();
    return { detachedStudies };
  });
}

export const unknownInstitution = (code: string) => notFound('institution_not_found', `未找到机构 ${code} / No institution with code ${code}`);

async function loadInstitutions(db: Knex, scope: (q: Knex.QueryBuilder) => void): Promise<StoredInstitution[]> {
  const base = db('institution');
  scope(base);
  const codes = base.clone().select('code');
  const [rows, aliases, groups, accreditations] = await Promise.all([
    base.clone().select('*').orderBy('code'),
    db('institution_alias').whereIn('institution_code', codes).orderBy(['kind', 'value']).select('institution_code', 'kind', 'value'),
    db('institution_group_member as m')
      .join('institution_group as g', 'g.code', 'm.group_code')
      .whereIn('m.institution_code', codes)
      .orderBy('g.code')
      .select('m.institution_code', 'g.code', 'g.name', 'g.kind'),
    db('institution_accreditation')
      .whereIn('institution_code', codes)
      .orderBy('id')
      // to_char: node-postgres would turn a date into a local-midnight Date and shift it.
      .select(
        'institution_code',
        'catalog_id',
        'modality',
        'issuer',
        db.raw("to_char(valid_from, 'YYYY-MM-DD') AS valid_from"),
        db.raw("to_char(valid_until, 'YYYY-MM-DD') AS valid_until"),
      ),
  ]);
  const byCode = <T extends { institution_code: string }>(list: T[]) => {
    const m = new Map<string, T[]>();
    for (const item of list) m.set(item.institution_code, [...(m.get(item.institution_code) ?? []), item]);
    return (code: string) => m.get(code) ?? [];
  };
  const aliasesOf = byCode(aliases);
  const groupsOf = byCode(groups);
  const accreditationsOf = byCode(accreditations);
  return rows.map((r) => {
    const values = (kind: string) => aliasesOf(r.code).flatMap((a) => (a.kind === kind ? [a.value as string] : []));
    return {
      code: r.code,
      name: r.name,
      region: r.region,
      level: r.level,
      kind: r.kind,
      isPublic: r.is_public,
      aliases: { institutionNames: values('institution_name'), aeTitles: values('ae_title'), issuersOfPatientId: values('issuer_of_patient_id') },
      groups: groupsOf(r.code).map((g) => ({ code: g.code, name: g.name, kind: g.kind })),
      accreditations: accreditationsOf(r.code).map((a) => ({
        catalogId: a.catalog_id,
        modality: a.modality,
        validFrom: a.valid_from,
        ...(a.valid_until && { validUntil: a.valid_until }),
        ...(a.issuer && { issuer: a.issuer }),
      })),
      createdAt: new Date(r.created_at).toISOString(),
      updatedAt: new Date(r.updated_at).toISOString(),
    };
  });
}
