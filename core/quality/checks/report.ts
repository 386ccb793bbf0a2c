import { DAY_MS, parseDa, str } from '../dataset';
import { severityFor } from '../requirements';
import type { Finding, QualityInput, QualityReport } from '../types';

/**
 * A diagnostic report is present: a DICOM SR or Encapsulated PDF in the study, or a report
 * attached through the API (POST /recognition/studies/{uid}/reports) with author and sign-off.
 *
 * Missing is 'fail' where the catalog makes the report part of a recognizable exam
 * (新疆 XJ-REQ-05 完整、清晰的文字报告及相关影像; 浙江 ZJ-REQ-09 规范完整的检查报告和相应影像资料),
 * else 'warn'.
 */
export function checkReport(input: QualityInput): Finding[] {
  const reports = input.reports;
  if (reports.length === 0) {
    return [
      {
        code: 'QC-REPORT-MISSING',
        ...severityFor(input.mappedItems, 'report'),
        message: {
          zh: '检查中无诊断报告（无DICOM结构化报告或PDF报告，亦无经接口提交的报告）',
          en: 'No diagnostic report: no DICOM SR or Encapsulated PDF in the study, and none attached through the API',
        },
      },
    ];
  }
  const findings: Finding[] = [];
  const signed = reports.filter((r) => r.author && r.signedAt);
  if (signed.length === 0) {
    findings.push({
      code: 'QC-REPORT-UNSIGNED',
      severity: 'warn',
      instances: refs(reports),
      message: {
        zh: '报告未记录报告医师及签发时间（结构化报告未审核，或PDF报告的签名需人工核对）',
        en: 'No report records its author and sign-off time (SR not verified, or the signature inside a PDF must be checked by hand)',
      },
    });
  }
  if (reports.every((r) => r.complete === false)) {
    findings.push({
      code: 'QC-REPORT-PRELIMINARY',
      severity: 'warn',
      instances: refs(reports),
      message: { zh: '报告为初步报告（CompletionFlag = PARTIAL）', en: 'The report is preliminary (CompletionFlag PARTIAL)' },
    });
  }
  const studyDate = parseDa(str(input.study, 'StudyDate'));
  const early = studyDate ? signed.filter((r) => Date.parse(r.signedAt!) < studyDate.getTime() - DAY_MS) : [];
  if (early.length) {
    findings.push({
      code: 'QC-REPORT-SIGNED-BEFORE-STUDY',
      severity: 'warn',
      instances: refs(early),
      message: {
        zh: `报告签发时间 (${early[0].signedAt}) 早于检查日期，请核对报告是否属于本检查`,
        en: `The report was signed (${early[0].signedAt}) before the study date: check that it belongs to this study`,
      },
    });
  }
  return findings;
}

/** The SR / PDF instances concerned (API reports are not instances). */
function refs(reports: QualityReport[]): string[] | undefined {
  const uids = reports.filter((r) => r.source !== 'api' && r.ref).map((r) => r.ref!);
  return uids.length ? uids : undefined;
}
