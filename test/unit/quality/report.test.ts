import { checkReport } from '../../../core/quality/checks/report';
import { reportFromInstance, reportsFromInstances } from '../../../core/quality/reports';
import { byCode, codes, input, item, series, SIGNED_REPORT } from './fixtures';

const BASIC_TEXT_SR = '1.2.840.10008.5.1.4.1.1.88.11';
const ENCAPSULATED_PDF = '1.2.840.10008.5.1.4.1.1.104.1';

describe('quality: diagnostic report', () => {
  it('finds nothing with a signed report', () => {
    expect(checkReport(input())).toEqual([]);
  });

  it('QC-REPORT-MISSING: warn without mapped items and under 川渝, fail under 新疆 (XJ-REQ-05) and 浙江 (ZJ-REQ-09)', () => {
    expect(checkReport(input({ reports: [] }))).toEqual([expect.objectContaining({ code: 'QC-REPORT-MISSING', severity: 'warn' })]);
    expect(byCode(checkReport(input({ reports: [], mappedItems: [item('CY2025-094')] })), 'QC-REPORT-MISSING')?.severity).toBe('warn');
    expect(byCode(checkReport(input({ reports: [], mappedItems: [item('XJHRYX-CT0603')] })), 'QC-REPORT-MISSING')).toMatchObject({
      severity: 'fail',
      basis: ['XJ-REQ-05'],
    });
    expect(byCode(checkReport(input({ reports: [], mappedItems: [item('BW23ZYZZZ-00')] })), 'QC-REPORT-MISSING')).toMatchObject({
      severity: 'fail',
      basis: ['ZJ-REQ-09'],
    });
    // One catalog requiring it is enough.
    expect(byCode(checkReport(input({ reports: [], mappedItems: [item('CY2025-094'), item('XJHRYX-CT0603')] })), 'QC-REPORT-MISSING')?.severity).toBe('fail');
  });

  it('QC-REPORT-UNSIGNED when no report records author and sign-off', () => {
    const findings = checkReport(input({ reports: [{ source: 'encapsulated_pdf', ref: '1.2.3.9' }] }));
    expect(findings).toEqual([expect.objectContaining({ code: 'QC-REPORT-UNSIGNED', severity: 'warn', instances: ['1.2.3.9'] })]);
    expect(codes(checkReport(input({ reports: [{ source: 'encapsulated_pdf', ref: '1.2.3.9' }, SIGNED_REPORT] })))).toEqual([]);
  });

  it('QC-REPORT-PRELIMINARY when every report is partial', () => {
    const partial = { ...SIGNED_REPORT, source: 'dicom_sr' as const, complete: false, ref: '1.2.3.8' };
    expect(codes(checkReport(input({ reports: [partial] })))).toEqual(['QC-REPORT-PRELIMINARY']);
    expect(codes(checkReport(input({ reports: [partial, { ...partial, complete: true }] })))).toEqual([]);
  });

  it('QC-REPORT-SIGNED-BEFORE-STUDY', () => {
    const early = { ...SIGNED_REPORT, signedAt: '2026-01-05T10:00:00+08:00' };
    expect(codes(checkReport(input({ reports: [early] })))).toEqual(['QC-REPORT-SIGNED-BEFORE-STUDY']);
    expect(codes(checkReport(input({ reports: [{ ...SIGNED_REPORT, signedAt: '2026-03-10T08:00:00+08:00' }] })))).toEqual([]);
  });

  describe('reports inside the study', () => {
    const sr = (extra: Record<string, unknown>) => ({ SOPClassUID: BASIC_TEXT_SR, SOPInstanceUID: '1.2.3.7', Modality: 'SR', ...extra });

    it('a verified SR gives author and sign-off time (DT without offset read as +08:00)', () => {
      const report = reportFromInstance(
        sr({
          VerificationFlag: 'VERIFIED',
          CompletionFlag: 'COMPLETE',
          VerifyingObserverSequence: [{ VerifyingObserverName: [{ Alphabetic: 'Wang^Fang', Ideographic: '王^芳' }], VerificationDateTime: '20260310153000' }],
        }),
      );
      expect(report).toEqual({ source: 'dicom_sr', author: 'Wang Fang=王 芳', signedAt: '2026-03-10T15:30:00+08:00', complete: true, ref: '1.2.3.7' });
    });

    it('an unverified SR is not signed; a partial one is not complete', () => {
      const report = reportFromInstance(
        sr({ VerificationFlag: 'UNVERIFIED', CompletionFlag: 'PARTIAL', VerifyingObserverSequence: [{ VerificationDateTime: '20260310153000' }] }),
      );
      expect(report).toEqual({ source: 'dicom_sr', complete: false, ref: '1.2.3.7' });
    });

    it('finds SR and Encapsulated PDF reports, not key objects or dose reports', () => {
      const instances = [
        sr({}),
        { SOPClassUID: ENCAPSULATED_PDF, SOPInstanceUID: '1.2.3.6', DocumentTitle: '诊断报告' },
        { SOPClassUID: '1.2.840.10008.5.1.4.1.1.88.59', SOPInstanceUID: '1.2.3.5' },
        { SOPClassUID: '1.2.840.10008.5.1.4.1.1.88.67', SOPInstanceUID: '1.2.3.4' },
      ];
      expect(reportsFromInstances([series('SR', null, instances)]).map((r) => [r.source, r.ref])).toEqual([
        ['dicom_sr', '1.2.3.7'],
        ['encapsulated_pdf', '1.2.3.6'],
      ]);
    });
  });
});
