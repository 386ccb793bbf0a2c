/**
 * An institution as the admin API and the CSV import accept it: identity, level, the aliases
 * incoming studies are attributed by, group memberships and quality-control accreditations.
 * Aliases leave parsing normalised (normalize.ts) and without duplicates.
 */
import { z } from 'zod';
import { Catalog, InstitutionKind, InstitutionLevel, Modality } from '../../catalogs/schema';
import { normalizeCode, normalizeInstitutionName } from './alias-normalize';

export const Region = z.enum(['CY', 'XJ', 'ZJ']);
export const GroupKind = z.enum(['medical_alliance', 'county_medical_community', 'hospital_group']);
export const CatalogId = Catalog.shape.id;
export { InstitutionKind, InstitutionLevel };

/** Codes appear in URLs and CSV cells: letters, digits and . _ - only (统一社会信用代码 and 登记号 fit). */
export const InstitutionCode = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
    error: '代码须为 1–64 位字母、数字、点、下划线或连字符 / a code is 1–64 letters, digits, dots, underscores or hyphens',
  });

const text = (max: number) => z.string().trim().min(1).max(max);
/** Values that sit inside a CSV list cell (institutions-csv.ts) cannot hold its separators. */
const listItem = (max: number) => text(max).regex(/^[^;|；｜]*$/, { error: '不能包含 ; 或 | / must not contain ; or |' });

/** DICOM AE: at most 16 characters, no backslash or control characters (PS3.5 Table 6.2-1). */
const AeTitle = z
  .string()
  .transform(normalizeCode)
  .pipe(
    z
      .string()
      .min(1)
      .max(16)
      .regex(/^[\x20-\x3a\x3c-\x5b\x5d-\x7b\x7d\x7e]+$/, {
        error: 'AE 名称只能含 ASCII 字符，且不含反斜杠、; 或 | / an AE title is ASCII without backslash, ; or |',
      }),
  );

const aliasList = <T extends z.ZodType<string>>(item: T) =>
  z
    .array(item)
    .max(200)
    .default([])
    .transform((values) => [...new Set(values)]);

export const Aliases = z.strictObject({
  // InstitutionName and IssuerOfPatientID are LO: at most 64 characters.
  institutionNames: aliasList(z.string().transform(normalizeInstitutionName).pipe(listItem(64))),
  aeTitles: aliasList(AeTitle),
  issuersOfPatientId: aliasList(z.string().transform(normalizeCode).pipe(listItem(64))),
});

export const Group = z.strictObject({ code: InstitutionCode, name: listItem(128), kind: GroupKind });

export const Accreditation = z
  .strictObject({
    catalogId: CatalogId,
    modality: Modality,
    validFrom: z.iso.date(),
    validUntil: z.iso.date().nullish(),
    issuer: listItem(128).nullish(),
  })
  .refine((a) => !a.validUntil || a.validUntil >= a.validFrom, {
    error: '有效期止不能早于有效期起 / validUntil must not be before validFrom',
    path: ['validUntil'],
  });

const fields = {
  name: text(128),
  region: Region,
  level: InstitutionLevel,
  kind: InstitutionKind.default('hospital'),
  isPublic: z.boolean().default(true),
  aliases: Aliases.prefault({}),
  groups: z
    .array(Group)
    .max(50)
    .default([])
    .refine((groups) => new Set(groups.map((g) => g.code)).size === groups.length, { error: '同一医联体/医共体重复 / a group is listed twice' }),
  accreditations: z.array(Accreditation).max(200).default([]),
};

export const Institution = z.strictObject({ code: InstitutionCode, ...fields });
/** PUT /admin/institutions/{code}: the code comes from the URL; a body code must agree. */
export const InstitutionBody = z.strictObject({ code: InstitutionCode.optional(), ...fields });

export type Institution = z.output<typeof Institution>;
export type InstitutionInput = z.input<typeof Institution>;
export type Region = z.output<typeof Region>;
export type GroupKind = z.output<typeof GroupKind>;

/** What GET returns: the institution plus its timestamps. */
export interface StoredInstitution extends Institution {
  createdAt: string;
  updatedAt: string;
}
