/**
 * Which role may call which route — the one table (docs/security.md). The authentication
 * middleware looks every request up here before any router sees it: a route that is not in
 * the table is denied (404, as an unknown path), so a new endpoint stays closed until it is
 * added. test/integration/security/route-policy.test.ts walks the app's router and fails for
 * any route without an entry.
 *
 * `bind` narrows what an institution credential may do on a route it holds the role for
 * (platform credentials are not narrowed): the institution named in the body or query must be
 * its own, a reminder must be one it created, a study must be its own or reachable through a
 * reminder / national-ID query (gateway/security/access.ts).
 */
import type { Role } from '../../core/security/roles';

export type Binding =
  /** body[field] is the credential's institution. */
  | { kind: 'body'; field: string }
  /** query[field] is the credential's institution (required for institution credentials). */
  | { kind: 'query'; field: string }
  /** The reminder (path :param or body field) was created by the credential's institution. */
  | { kind: 'reminder'; param?: string; bodyField?: string }
  /** The study (path :param) was sent by the credential's institution. */
  | { kind: 'ownStudy'; param: string }
  /** The study (path :param) is the institution's own, or reachable (reminder, national-ID query). */
  | { kind: 'accessibleStudy'; param: string }
  /** body.issuerOfPatientId + body.patientId name a patient with a study of the institution. */
  | { kind: 'ownPatient' };

export type Audit = 'always' | 'changes' | 'never';
type Method = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | '*';

export interface RoutePolicy {
  method: Method;
  /** Express-style: literal segments, `:param` (one segment), a final `*` (any rest, or none). */
  path: string;
  roles: readonly Role[] | 'public';
  /** The audit action (core/security/audit.ts), also the metric/label of the route. */
  action: string;
  /** always; changes = only non-GET requests; never (probes, scrapes). */
  audit: Audit;
  bind?: Binding;
}

const STUDY = '/dicomweb/studies/:study';
const SERIES = `${STUDY}/series/:series`;
const INSTANCE = `${SERIES}/instances/:sop`;
const accessible: Binding = { kind: 'accessibleStudy', param: 'study' };
const retrieve = (path: string): RoutePolicy => ({ method: 'GET', path, roles: ['viewer'], action: 'dicomweb.retrieve', audit: 'always', bind: accessible });
const query = (path: string): RoutePolicy => ({ method: 'GET', path, roles: ['viewer'], action: 'dicomweb.query', audit: 'always' });
const admin = (method: Method, path: string, action: string, audit: Audit = 'changes'): RoutePolicy => ({ method, path, roles: ['admin'], action, audit });
const his = (path: string, action: string, bind: Binding): RoutePolicy => ({ method: 'POST', path, roles: ['his'], action, audit: 'always', bind });

export const POLICY: readonly RoutePolicy[] = [
  // Liveness only: a load balancer probes it without credentials.
  { method: 'GET', path: '/healthz', roles: 'public', action: 'ops.health', audit: 'never' },
  { method: 'GET', path: '/readyz', roles: ['ops'], action: 'ops.ready', audit: 'never' },
  { method: 'GET', path: '/metrics', roles: ['ops'], action: 'ops.metrics', audit: 'never' },
  { method: '*', path: '/admin/queues/*', roles: ['ops'], action: 'ops.queues', audit: 'changes' },

  // DICOMweb (PS3.18). QIDO is scoped in SQL (qido-query.ts), WADO per study (bind).
  { method: 'POST', path: '/dicomweb/studies', roles: ['pacs'], action: 'dicomweb.stow', audit: 'always' },
  { method: 'POST', path: STUDY, roles: ['pacs'], action: 'dicomweb.stow', audit: 'always' },
  query('/dicomweb/studies'),
  query('/dicomweb/series'),
  query('/dicomweb/instances'),
  query(`${STUDY}/series`),
  query(`${STUDY}/instances`),
  query(`${SERIES}/instances`),
  ...[STUDY, SERIES, INSTANCE].flatMap((p) => [retrieve(p), retrieve(`${p}/metadata`)]),
  retrieve(`${INSTANCE}/frames/:frames`),
  retrieve(`${INSTANCE}/bulk/*`),

  // Administration (platform credentials only hold admin).
  admin('GET', '/admin/institutions', 'admin.institutions'),
  admin('GET', '/admin/institutions/export', 'admin.institutions'),
  admin('POST', '/admin/institutions/import', 'admin.institutions'),
  admin('GET', '/admin/institutions/:code', 'admin.institutions'),
  admin('PUT', '/admin/institutions/:code', 'admin.institutions'),
  admin('DELETE', '/admin/institutions/:code', 'admin.institutions'),
  admin('GET', '/admin/institutions/:code/mappings', 'admin.mappings'),
  admin('PUT', '/admin/institutions/:code/mappings', 'admin.mappings'),
  admin('GET', '/admin/institutions/:code/mappings/export', 'admin.mappings'),
  admin('POST', '/admin/institutions/:code/mappings/import', 'admin.mappings'),
  admin('DELETE', '/admin/institutions/:code/mappings/:id', 'admin.mappings'),
  admin('GET', '/admin/institutions/:code/unmapped-procedures', 'admin.mappings'),
  admin('GET', '/admin/studies/unattributed', 'admin.studies'),
  admin('POST', '/admin/studies/unattributed/reattribute', 'admin.studies'),
  admin('GET', '/admin/credentials', 'admin.credentials', 'always'),
  admin('POST', '/admin/credentials', 'admin.credentials', 'always'),
  admin('GET', '/admin/credentials/:id', 'admin.credentials', 'always'),
  admin('DELETE', '/admin/credentials/:id', 'admin.credentials', 'always'),
  admin('POST', '/admin/credentials/:id/rotate', 'admin.credentials', 'always'),
  admin('POST', '/admin/credentials/:id/unlock', 'admin.credentials', 'always'),
  admin('GET', '/admin/audit', 'admin.audit', 'always'),
  admin('GET', '/admin/audit/verify', 'admin.audit', 'always'),

  // Recognition: senders' patient identity and reports, the HIS's reminders and decisions, quality.
  {
    method: 'PUT',
    path: '/recognition/patients/national-id',
    roles: ['pacs', 'his'],
    action: 'recognition.national_id',
    audit: 'always',
    bind: { kind: 'ownPatient' },
  },
  {
    method: 'POST',
    path: '/recognition/studies/:study/reports',
    roles: ['pacs'],
    action: 'recognition.report',
    audit: 'always',
    bind: { kind: 'ownStudy', param: 'study' },
  },
  {
    method: 'GET',
    path: '/recognition/studies/:study/quality',
    roles: ['viewer', 'quality'],
    action: 'recognition.quality',
    audit: 'always',
    bind: accessible,
  },
  his('/recognition/reminders', 'recognition.reminder', { kind: 'body', field: 'receivingInstitution' }),
  his('/recognition/reminders/:id/views', 'recognition.view', { kind: 'reminder', param: 'id' }),
  his('/recognition/reminders/:id/dismissal', 'recognition.dismissal', { kind: 'reminder', param: 'id' }),
  his('/recognition/decisions', 'recognition.decision', { kind: 'reminder', bodyField: 'reminderId' }),
  his('/recognition/reexaminations', 'recognition.reexamination', { kind: 'reminder', bodyField: 'reminderId' }),
  {
    method: 'POST',
    path: '/recognition/audits',
    roles: ['quality'],
    action: 'recognition.audit_result',
    audit: 'always',
    bind: { kind: 'body', field: 'institution' },
  },
  {
    method: 'GET',
    path: '/recognition/indicators',
    roles: ['quality'],
    action: 'recognition.indicators',
    audit: 'always',
    bind: { kind: 'query', field: 'institution' },
  },
  {
    method: 'GET',
    path: '/recognition/events',
    roles: ['quality'],
    action: 'recognition.events',
    audit: 'always',
    bind: { kind: 'query', field: 'institution' },
  },

  // Classification: a dry run against a hospital's mappings, the review queue, reviewers' decisions.
  {
    method: 'POST',
    path: '/recognition/classify',
    roles: ['admin', 'his'],
    action: 'recognition.classify',
    audit: 'always',
    bind: { kind: 'body', field: 'institution' },
  },
  {
    method: 'GET',
    path: '/recognition/review',
    roles: ['admin', 'quality'],
    action: 'recognition.review',
    audit: 'always',
    bind: { kind: 'query', field: 'institution' },
  },
  {
    method: 'GET',
    path: '/recognition/studies/:study/classification',
    roles: ['admin', 'quality'],
    action: 'recognition.classification',
    audit: 'always',
    bind: accessible,
  },
  {
    method: 'PUT',
    path: '/recognition/studies/:study/classification/:catalogId',
    roles: ['admin', 'quality'],
    action: 'recognition.classification',
    audit: 'always',
    bind: { kind: 'ownStudy', param: 'study' },
  },
];

interface Compiled {
  policy: RoutePolicy;
  segments: string[];
  rest: boolean;
}

function compile(policy: RoutePolicy): Compiled {
  const segments = policy.path.split('/').slice(1);
  const rest = segments[segments.length - 1] === '*';
  return { policy, segments: rest ? segments.slice(0, -1) : segments, rest };
}

export interface PolicyMatch {
  policy: RoutePolicy;
  params: Record<string, string>;
}

/**
 * The entry for a request (first match in table order), with its decoded :params.
 * Matches as Express routes do: on the raw (still percent-encoded) path, literal segments
 * case-insensitively, one optional trailing slash; HEAD is GET.
 */
export function createPolicyMatcher(table: readonly RoutePolicy[] = POLICY): (method: string, path: string) => PolicyMatch | undefined {
  const compiled = table.map(compile);
  return (method, rawPath) => {
    const m = method.toUpperCase() === 'HEAD' ? 'GET' : method.toUpperCase();
    const path = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
    if (!path.startsWith('/')) return undefined;
    const parts = path.split('/').slice(1);
    for (const c of compiled) {
      if (c.policy.method !== '*' && c.policy.method !== m) continue;
      if (c.rest ? parts.length < c.segments.length : parts.length !== c.segments.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < c.segments.length && ok; i++) {
        const seg = c.segments[i];
        const part = parts[i];
        if (seg.startsWith(':')) {
          if (part === '') ok = false;
          else {
            try {
              params[seg.slice(1)] = decodeURIComponent(part);
            } catch {
              ok = false;
            }
          }
        } else ok = seg.toLowerCase() === part.toLowerCase();
      }
      if (ok) return { policy: c.policy, params };
    }
    return undefined;
  };
}

export const findPolicy = createPolicyMatcher();

/** Whether the request's audit setting asks for a record. */
export const audited = (policy: RoutePolicy, method: string) =>
  policy.audit === 'always' || (policy.audit === 'changes' && !['GET', 'HEAD', 'OPTIONS'].includes(method.toUpperCase()));
