import { DAY_MS, isValidTm, parseDa, str, uidList } from '../dataset';
import { severityFor } from '../requirements';
import type { Dataset, Finding, QualityInput } from '../types';

/**
 * Required patient and study attributes, present and plausible: name, ID, sex, birth date,
 * study date/time, accession number, institution; and one patient per study.
 *
 * Severity: StudyDate missing or unreadable is 'fail' under every catalog, since each one's
 * recognition period (30 日 / 30 天 / 1 个月) is counted from it. Name and date accuracy are
 * 'fail' where the catalog requires accurate patient information (浙江 ZJ-REQ-07), else 'warn'.
 */
export function checkPatientStudy(input: QualityInput): Finding[] {
  const findings: Finding[] = [];
  const study = input.study;
  const identity = severityFor(input.mappedItems, 'identity');
  const now = input.now ?? new Date();

  const name = str(study, 'PatientName');
  if (!name || name.replace(/[\^= ]/g, '') === '') {
    findings.push({ code: 'QC-PAT-NAME-MISSING', ...identity, message: { zh: '缺少患者姓名 (PatientName)', en: 'Patient name (PatientName) is missing' } });
  }
  if (!str(study, 'PatientID')) {
    findings.push({ code: 'QC-PAT-ID-MISSING', severity: 'warn', message: { zh: '缺少患者ID (PatientID)', en: 'Patient ID (PatientID) is missing' } });
  }

  const sex = str(study, 'PatientSex');
  if (!sex) {
    findings.push({ code: 'QC-PAT-SEX-MISSING', severity: 'warn', message: { zh: '缺少患者性别 (PatientSex)', en: 'Patient sex (PatientSex) is missing' } });
  } else if (!['M', 'F', 'O'].includes(sex.toUpperCase())) {
    findings.push({
      code: 'QC-PAT-SEX-INVALID',
      severity: 'warn',
      message: { zh: `患者性别值 "${sex}" 不是 M/F/O`, en: `Patient sex "${sex}" is not one of M, F, O` },
    });
  }

  const studyDateText = str(study, 'StudyDate');
  const studyDate = parseDa(studyDateText);
  if (!studyDateText) {
    findings.push({
      code: 'QC-STUDY-DATE-MISSING',
      severity: 'fail',
      message: { zh: '缺少检查日期 (StudyDate)，无法计算互认时限', en: 'Study date (StudyDate) is missing: the recognition period cannot be determined' },
    });
  } else if (!studyDate) {
    findings.push({
      code: 'QC-STUDY-DATE-INVALID',
      severity: 'fail',
      message: {
        zh: `检查日期 "${studyDateText}" 不是有效日期，无法计算互认时限`,
        en: `Study date "${studyDateText}" is not a valid date: the recognition period cannot be determined`,
      },
    });
  } else if (studyDate.getTime() > now.getTime() + DAY_MS) {
    findings.push({
      code: 'QC-STUDY-DATE-FUTURE',
      ...identity,
      message: { zh: `检查日期 ${studyDateText} 晚于当前日期`, en: `Study date ${studyDateText} is in the future` },
    });
  }

  const studyTime = str(study, 'StudyTime');
  if (!studyTime) {
    findings.push({ code: 'QC-STUDY-TIME-MISSING', severity: 'warn', message: { zh: '缺少检查时间 (StudyTime)', en: 'Study time (StudyTime) is missing' } });
  } else if (!isValidTm(studyTime)) {
    findings.push({
      code: 'QC-STUDY-TIME-INVALID',
      severity: 'warn',
      message: { zh: `检查时间 "${studyTime}" 不是有效时间`, en: `Study time "${studyTime}" is not a valid time` },
    });
  }

  const birthText = str(study, 'PatientBirthDate');
  if (!birthText) {
    findings.push({
      code: 'QC-PAT-BIRTHDATE-MISSING',
      severity: 'warn',
      message: { zh: '缺少出生日期 (PatientBirthDate)', en: 'Birth date (PatientBirthDate) is missing' },
    });
  } else {
    const birth = parseDa(birthText);
    const reference = studyDate ?? now;
    const problem = !birth
      ? { zh: '不是有效日期', en: 'is not a valid date' }
      : birth.getTime() > reference.getTime()
        ? { zh: '晚于检查日期', en: 'is after the study date' }
        : reference.getUTCFullYear() - birth.getUTCFullYear() > 130
          ? { zh: '对应年龄超过130岁', en: 'gives an age over 130 years' }
          : undefined;
    if (problem) {
      findings.push({
        code: 'QC-PAT-BIRTHDATE-IMPLAUSIBLE',
        severity: 'warn',
        message: { zh: `出生日期 "${birthText}" ${problem.zh}`, en: `Birth date "${birthText}" ${problem.en}` },
      });
    }
  }

  if (!str(study, 'AccessionNumber')) {
    findings.push({
      code: 'QC-STUDY-ACCESSION-MISSING',
      severity: 'warn',
      message: { zh: '缺少检查号 (AccessionNumber)', en: 'Accession number (AccessionNumber) is missing' },
    });
  }
  const institution =
    str(study, 'InstitutionName') ??
    input.series
      .flatMap((s) => s.instances)
      .map((ds) => str(ds, 'InstitutionName'))
      .find(Boolean);
  if (!institution) {
    findings.push({
      code: 'QC-STUDY-INSTITUTION-MISSING',
      severity: 'warn',
      message: { zh: '缺少检查机构名称 (InstitutionName)', en: 'Institution name (InstitutionName) is missing' },
    });
  }

  findings.push(...checkOnePatient(input));
  return findings;
}

const normName = (s: string | undefined) => (s ?? '').toUpperCase().replace(/[\s^]/g, '');

/** Every instance names the same patient: IDs equal; names equal in each component group both carry. */
function checkOnePatient(input: QualityInput): Finding[] {
  const all = input.series.flatMap((s) => s.instances);
  const ids = new Map<string, Dataset[]>();
  for (const ds of all) {
    // An instance without an ID (a RIS document) is not another patient; the study-level check flags a missing ID.
    const id = str(ds, 'PatientID');
    if (id) ids.set(id, [...(ids.get(id) ?? []), ds]);
  }
  const findings: Finding[] = [];
  if (ids.size > 1) {
    const minority = [...ids.values()]
      .sort((a, b) => a.length - b.length)
      .slice(0, -1)
      .flat();
    findings.push({
      code: 'QC-PAT-ID-INCONSISTENT',
      severity: 'fail',
      instances: uidList(minority),
      message: {
        zh: `同一检查内出现 ${ids.size} 个不同的患者ID，可能混入其他患者的图像`,
        en: `${ids.size} different patient IDs within one study: images of another patient may be mixed in`,
      },
    });
  }
  const groups = (ds: Dataset) => {
    const v = Array.isArray(ds.PatientName) ? ds.PatientName[0] : ds.PatientName;
    if (v && typeof v === 'object') {
      const pn = v as { Alphabetic?: string; Ideographic?: string };
      return { a: normName(pn.Alphabetic), i: normName(pn.Ideographic) };
    }
    const [a, i] = String(v ?? '').split('=');
    return { a: normName(a), i: normName(i) };
  };
  const reference = all.map(groups).find((g) => g.a || g.i);
  if (reference) {
    const differing = all.filter((ds) => {
      const g = groups(ds);
      return (g.a && reference.a && g.a !== reference.a) || (g.i && reference.i && g.i !== reference.i);
    });
    if (differing.length) {
      findings.push({
        code: 'QC-PAT-NAME-INCONSISTENT',
        ...severityFor(input.mappedItems, 'identity'),
        instances: uidList(differing),
        message: {
          zh: `${differing.length} 幅图像的患者姓名与检查内其他图像不一致`,
          en: `${differing.length} image(s) carry a patient name different from the rest of the study`,
        },
      });
    }
  }
  return findings;
}
