import { decisionRecordText, indicatorsCsv, priorLinks, shanghaiDate, type DecisionRecord } from '../../../core/recognition/reminders';

const base: Omit<DecisionRecord, 'text'> = {
  institutionName: 'XX医院',
  institutionCode: 'XJ-A',
  examDate: '2026-11-10',
  accessionNumber: 'A123',
  studyInstanceUid: '1.2.3',
  itemCode: 'XJHRYX-DR0208',
  itemName: '颈椎正侧位DR',
  decision: 'accepted',
  reason: null,
  doctor: '王医生',
  decidedAt: '2026-11-25T02:00:00.000Z',
};

describe('decisionRecordText (the line pasted into the medical record)', () => {
  it('writes an acceptance with institution, exam date, accession and item', () => {
    expect(decisionRecordText(base)).toBe('互认：采用外院检查 — 机构：XX医院；检查日期：2026-11-10；检查号/档案号：A123；项目：颈椎正侧位DR（XJHRYX-DR0208）');
  });

  it('writes a rejection with the listed reason and the doctor’s explanation', () => {
    const text = decisionRecordText({
      ...base,
      decision: 'rejected',
      reason: { code: 'XJ-NR-03', zh: '影像检查结果与病情明显不符', en: 'x', text: '补充说明' },
    });
    expect(text).toBe(
      '不予互认：未采用外院检查 — 机构：XX医院；检查日期：2026-11-10；检查号/档案号：A123；项目：颈椎正侧位DR（XJHRYX-DR0208）；理由：XJ-NR-03 影像检查结果与病情明显不符（补充说明）',
    );
    expect(
      decisionRecordText({ ...base, decision: 'rejected', reason: { code: 'XJ-NR-05', zh: '急诊、急救等抢救生命的紧急状态', en: 'x', text: null } }),
    ).toMatch(/；理由：XJ-NR-05 急诊、急救等抢救生命的紧急状态$/);
  });

  it('writes a free-text reason where the region lists none (川渝), and marks missing data and cross-region items', () => {
    const text = decisionRecordText({
      ...base,
      examDate: null,
      accessionNumber: null,
      itemCode: 'CY2025-019',
      itemName: '颈椎正侧位摄影',
      matchedItem: { catalogId: 'xinjiang', code: 'XJHRYX-DR0208', name: '颈椎正侧位DR' },
      decision: 'rejected',
      reason: { code: null, zh: null, en: null, text: '病情变化' },
    });
    expect(text).toBe(
      '不予互认：未采用外院检查 — 机构：XX医院；检查日期：不详；检查号/档案号：无；项目：颈椎正侧位摄影（CY2025-019）；外院目录项目：颈椎正侧位DR（XJHRYX-DR0208）；理由：病情变化',
    );
  });
});

describe('priorLinks', () => {
  const reminder = '3f2a6c1e-0000-4000-8000-000000000001';
  it('carries the reminder on the WADO-RS links, so a retrieve through them is recorded as 调阅', () => {
    expect(priorLinks('https://huren/dicomweb', undefined, '1.2.3', reminder)).toEqual({
      study: `https://huren/dicomweb/studies/1.2.3?reminder=${reminder}`,
      metadata: `https://huren/dicomweb/studies/1.2.3/metadata?reminder=${reminder}`,
    });
  });
  it('appends the study to a viewer URL, or fills its {study} / {reminder} placeholders', () => {
    expect(priorLinks('b', 'https://viewer/viewer?StudyInstanceUIDs=', '1.2.3', reminder).viewer).toBe('https://viewer/viewer?StudyInstanceUIDs=1.2.3');
    expect(priorLinks('b', 'https://viewer/v/{study}?r={reminder}', '1.2.3', reminder).viewer).toBe(`https://viewer/v/1.2.3?r=${reminder}`);
  });
});

describe('shanghaiDate', () => {
  it('is the calendar date in Asia/Shanghai', () => {
    expect(shanghaiDate(new Date('2026-01-31T15:59:59Z'))).toBe('2026-01-31');
    expect(shanghaiDate(new Date('2026-01-31T16:00:00Z'))).toBe('2026-02-01');
  });
});

describe('indicatorsCsv', () => {
  it('has one row per indicator with the Chinese and English names; an empty rate when nothing was counted', () => {
    const csv = indicatorsCsv({
      reminderViewRate: { numerator: 2, denominator: 3, rate: 2 / 3 },
      recognitionRate: { numerator: 0, denominator: 0, rate: null },
      nonComplianceRate: { numerator: 1, denominator: 4, rate: 0.25 },
      diagnosticAgreementRate: { numerator: 1, denominator: 1, rate: 1 },
    });
    expect(csv).toBe(
      '\uFEFF指标,indicator,numerator,denominator,rate\r\n' +
        '提醒调阅率,reminder view rate,2,3,0.6667\r\n' +
        '互认率,recognition rate,0,0,\r\n' +
        '互认不遵从率,non-compliance rate,1,4,0.2500\r\n' +
        '诊断符合率,diagnostic agreement rate,1,1,1.0000\r\n',
    );
  });
});
