import { dtToIso, ENCAPSULATED_PDF, items, REPORT_SR_CLASSES, sopClassOf, str, sopUid } from './dataset';
import type { Dataset, QualityReport, QualitySeries } from './types';

/**
 * Diagnostic reports carried in the study itself: DICOM SR documents (Basic Text, Enhanced,
 * Comprehensive, Comprehensive 3D, Extensible — not Key Object Selection or dose reports)
 * and Encapsulated PDF. Author and sign-off come from the verification attributes
 * (SR Document General module): a report counts as signed only when VerificationFlag is
 * VERIFIED and a VerificationDateTime is given.
 */
export function reportsFromInstances(series: QualitySeries[]): QualityReport[] {
  return series
    .flatMap((s) => s.instances)
    .flatMap((ds) => {
      const report = reportFromInstance(ds);
      return report ? [report] : [];
    });
}

export function reportFromInstance(ds: Dataset): QualityReport | undefined {
  const cls = sopClassOf(ds);
  const source = REPORT_SR_CLASSES.has(cls) ? 'dicom_sr' : cls === ENCAPSULATED_PDF ? 'encapsulated_pdf' : undefined;
  if (!source) return undefined;
  const verifiers = items(ds, 'VerifyingObserverSequence');
  const verified = (str(ds, 'VerificationFlag') ?? '').toUpperCase() === 'VERIFIED';
  // The last verifier signs last (PS3.3 C.17.2: one item per verifying observer).
  const signedAt = verifiers
    .map((v) => dtToIso(str(v, 'VerificationDateTime')))
    .filter((t): t is string => !!t)
    .sort((a, b) => Date.parse(a) - Date.parse(b))
    .pop();
  const author =
    verifiers.map((v) => str(v, 'VerifyingObserverName')).find(Boolean) ??
    items(ds, 'AuthorObserverSequence')
      .map((a) => str(a, 'PersonName'))
      .find(Boolean) ??
    str(ds, 'ContentCreatorName');
  const completion = str(ds, 'CompletionFlag')?.toUpperCase();
  return {
    source,
    ...(author && { author: author.replace(/\^/g, ' ').trim() }),
    // An SR is signed when verified; a PDF carries its signature inside, where huren does not look.
    ...((source === 'encapsulated_pdf' || verified) && signedAt && { signedAt }),
    ...(completion && { complete: completion === 'COMPLETE' }),
    ref: sopUid(ds),
  };
}
