import * as contentType from 'content-type';
import { HurenError } from '../../core/errors';

export interface MediaRange {
  type: string;
  parameters: Record<string, string>;
}

/** Splits an Accept header into media ranges (commas inside quoted parameters do not split). */
export function parseAccept(header: string | undefined): MediaRange[] {
  if (!header || !header.trim()) return [{ type: '*/*', parameters: {} }];
  const ranges: MediaRange[] = [];
  for (const raw of header.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    try {
      const parsed = contentType.parse(raw.trim().replace(/;\s*q=[0-9.]+/i, ''));
      ranges.push({ type: parsed.type, parameters: lowerKeys(parsed.parameters) });
    } catch {
      // An unparseable range is ignored, as HTTP content negotiation does.
    }
  }
  return ranges;
}

function lowerKeys(params: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k.toLowerCase(), v]));
}

export interface MultipartChoice {
  /** Media type of the parts. */
  partType: string;
  /** Requested transfer syntax UID, '*' (as stored), or undefined (the standard default). */
  transferSyntax?: string;
}

/**
 * Picks the multipart/related variant to answer with. `partTypes` are the part media types
 * the resource can be served as, the first being the default for `*` / absent Accept.
 */
export function negotiateMultipart(header: string | undefined, partTypes: string[]): MultipartChoice {
  for (const range of parseAccept(header)) {
    if (range.type === '*/*' || range.type === 'multipart/*') return { partType: partTypes[0], transferSyntax: range.parameters['transfer-syntax'] };
    if (range.type !== 'multipart/related') continue;
    const wanted = (range.parameters.type ?? partTypes[0]).toLowerCase();
    if (wanted === '*/*' || wanted === '*') return { partType: partTypes[0], transferSyntax: range.parameters['transfer-syntax'] };
    if (partTypes.includes(wanted)) return { partType: wanted, transferSyntax: range.parameters['transfer-syntax'] };
  }
  throw new HurenError(
    406,
    'not_acceptable',
    `Cannot answer with any of: ${header}. Available: ${partTypes.map((t) => `multipart/related; type="${t}"`).join(', ')}`,
  );
}

/** For JSON resources (metadata): application/dicom+json, application/json or anything. */
export function acceptsDicomJson(header: string | undefined): boolean {
  return parseAccept(header).some((r) => ['*/*', 'application/*', 'application/dicom+json', 'application/json'].includes(r.type));
}
