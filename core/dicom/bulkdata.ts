/**
 * BulkDataURIs are stored relative to the DICOMweb root, so stored metadata stays valid
 * whatever host name clients use; WADO-RS makes them absolute when it answers.
 */
export function instanceBulkDataPath(study: string, series: string, sop: string, tagPath: string): string {
  return `studies/${study}/series/${series}/instances/${sop}/bulk/${tagPath}`;
}

type Json = unknown;

/** Returns a copy of DICOM JSON with every relative BulkDataURI prefixed by `base` (walks sequences). */
export function absolutizeBulkDataUris(dataset: Record<string, Json>, base: string): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [tag, element] of Object.entries(dataset)) {
    const el = element as { vr?: string; Value?: Json[]; BulkDataURI?: string };
    if (el.BulkDataURI && !/^[a-z]+:/i.test(el.BulkDataURI)) {
      out[tag] = { ...el, BulkDataURI: `${base}/${el.BulkDataURI}` };
    } else if (el.vr === 'SQ' && Array.isArray(el.Value)) {
      out[tag] = { ...el, Value: el.Value.map((item) => absolutizeBulkDataUris(item as Record<string, Json>, base)) };
    } else {
      out[tag] = el;
    }
  }
  return out;
}
