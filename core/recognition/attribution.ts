/**
 * Which institution sent a study. A PACS does not say who it is in one reliable place, so
 * three identifiers are looked up among the registered aliases, most specific first:
 * IssuerOfPatientID (an assigning authority names one hospital's patient register), the
 * Part 10 SourceApplicationEntityTitle (one PACS), then InstitutionName (free text, typed
 * differently by every modality). A study nobody matches keeps sending_institution_code NULL:
 * it is kept and listed for an operator, who adds an alias; that re-attributes it.
 */
import type { Knex } from 'knex';
import { normalizeAlias, type AliasKind } from './alias-normalize';

export interface SenderIdentity {
  institutionName?: string | null;
  sourceAeTitle?: string | null;
  issuerOfPatientId?: string | null;
}

export interface AliasKey {
  kind: AliasKind;
  value: string;
}

/** The sender's identifiers as alias keys, in priority order; empty values are left out. */
export function senderKeys(sender: SenderIdentity): AliasKey[] {
  const candidates: Array<[AliasKind, string | null | undefined]> = [
    ['issuer_of_patient_id', sender.issuerOfPatientId],
    ['ae_title', sender.sourceAeTitle],
    ['institution_name', sender.institutionName],
  ];
  return candidates.flatMap(([kind, raw]) => {
    const value = raw ? normalizeAlias(kind, raw) : '';
    return value ? [{ kind, value }] : [];
  });
}

/** The first of the sender's keys that `lookup` knows, by priority; null when none. */
export function pickAttribution(sender: SenderIdentity, lookup: (key: AliasKey) => string | undefined): string | null {
  for (const key of senderKeys(sender)) {
    const code = lookup(key);
    if (code) return code;
  }
  return null;
}

const mapKey = (k: AliasKey) => `${k.kind}\u0000${k.value}`;

/** The institution code a sender is attributed to, or null. One indexed query. */
export async function attributeSender(db: Knex | Knex.Transaction, sender: SenderIdentity): Promise<string | null> {
  const keys = senderKeys(sender);
  if (keys.length === 0) return null;
  const rows: Array<AliasKey & { institution_code: string }> = await db('institution_alias')
    .whereIn(
      ['kind', 'value'],
      keys.map((k) => [k.kind, k.value]),
    )
    .select('kind', 'value', 'institution_code');
  const found = new Map(rows.map((r) => [mapKey(r), r.institution_code]));
  return pickAttribution(sender, (k) => found.get(mapKey(k)));
}

/**
 * Attributes the unattributed studies the current aliases now match, in the caller's
 * transaction (the one that changed the aliases). Already attributed studies are left alone:
 * removing an alias does not un-attribute anything. Returns the number of studies updated.
 */
export async function reattributeUnattributed(trx: Knex.Transaction): Promise<number> {
  const senders: Array<{ institution_name: string | null; source_ae_title: string | null; issuer_of_patient_id: string | null }> = await trx('study')
    .whereNull('sending_institution_code')
    .distinct('institution_name', 'source_ae_title', 'issuer_of_patient_id');
  if (senders.length === 0) return 0;
  const aliases: Array<AliasKey & { institution_code: string }> = await trx('institution_alias').select('kind', 'value', 'institution_code');
  const known = new Map(aliases.map((a) => [mapKey(a), a.institution_code]));

  let updated = 0;
  for (const s of senders) {
    const code = pickAttribution({ institutionName: s.institution_name, sourceAeTitle: s.source_ae_title, issuerOfPatientId: s.issuer_of_patient_id }, (k) =>
      known.get(mapKey(k)),
    );
    if (!code) continue;
    updated += await trx('study')
      .whereNull('sending_institution_code')
      .whereRaw('institution_name IS NOT DISTINCT FROM ?', [s.institution_name])
      .whereRaw('source_ae_title IS NOT DISTINCT FROM ?', [s.source_ae_title])
      .whereRaw('issuer_of_patient_id IS NOT DISTINCT FROM ?', [s.issuer_of_patient_id])
      .update({ sending_institution_code: code, updated_at: trx.fn.now() });
  }
  return updated;
}

export interface UnattributedSender {
  institutionName: string | null;
  sourceAeTitle: string | null;
  issuerOfPatientId: string | null;
  studies: number;
  lastReceivedAt: string;
  /** A few StudyInstanceUIDs to look at (UIDs only: no patient data). */
  exampleStudyInstanceUids: string[];
}

/** Unattributed studies grouped by what the sender called itself, most studies first. */
export async function listUnattributed(db: Knex): Promise<{ totalStudies: number; senders: UnattributedSender[] }> {
  const rows = await db('study')
    .whereNull('sending_institution_code')
    .groupBy('institution_name', 'source_ae_title', 'issuer_of_patient_id')
    .select(
      'institution_name',
      'source_ae_title',
      'issuer_of_patient_id',
      db.raw('count(*)::int AS studies'),
      db.raw('max(created_at) AS last_received_at'),
      db.raw('(array_agg(study_instance_uid ORDER BY created_at DESC))[1:5] AS examples'),
    )
    .orderBy([
      { column: 'studies', order: 'desc' },
      { column: 'institution_name', order: 'asc' },
    ]);
  const senders = rows.map((r) => ({
    institutionName: r.institution_name,
    sourceAeTitle: r.source_ae_title,
    issuerOfPatientId: r.issuer_of_patient_id,
    studies: r.studies,
    lastReceivedAt: new Date(r.last_received_at).toISOString(),
    exampleStudyInstanceUids: r.examples,
  }));
  return { totalStudies: senders.reduce((n, s) => n + s.studies, 0), senders };
}
