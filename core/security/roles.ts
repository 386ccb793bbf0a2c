/**
 * The roles a credential may hold (docs/security.md). A route's role is set in one table,
 * gateway/security/policy.ts; an institution credential acts for its institution only,
 * a platform credential (no institution) for the whole platform.
 */
export const ROLES = ['pacs', 'viewer', 'his', 'quality', 'admin', 'ops'] as const;
export type Role = (typeof ROLES)[number];

export const ROLE_DESCRIPTIONS: Record<Role, string> = {
  pacs: 'STOW-RS: a PACS sends its studies; reports of its own studies',
  viewer: 'QIDO-RS and WADO-RS: find and retrieve studies',
  his: 'reminders, 调阅, decisions, re-examinations (the HIS)',
  quality: 'indicators, recognition events, quality audits',
  admin: 'institutions, catalogs, mappings, credentials, audit trail',
  ops: 'readiness, metrics, queue UI',
};

export const isRole = (value: unknown): value is Role => typeof value === 'string' && (ROLES as readonly string[]).includes(value);
