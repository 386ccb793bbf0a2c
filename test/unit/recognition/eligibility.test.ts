import { evaluateEligibility, type InstitutionFacts, type StudyFacts } from '../../../core/recognition/eligibility';

const accredited = [
  { catalogId: 'xinjiang', modality: 'DR', validFrom: '2025-01-01' },
  { catalogId: 'xinjiang', modality: 'MR', validFrom: '2025-01-01' },
];
const inst = (code: string, over: Partial<InstitutionFacts> = {}): InstitutionFacts => ({
  code,
  region: 'XJ',
  level: 'L3A',
  kind: 'hospital',
  isPublic: true,
  groups: [],
  accreditations: accredited,
  ...over,
});
const study = (over: Partial<StudyFacts> = {}): StudyFacts => ({
  studyInstanceUid: '1.2.3',
  studyDate: '20261110',
  studyTime: '101500',
  sender: inst('XJ-A'),
  items: [{ catalogId: 'xinjiang', code: 'XJHRYX-DR0208' }],
  quality: 'pass',
  hasReport: true,
  ...over,
});
const at = new Date('2026-11-25T09:00:00+08:00');
const codes = (e: ReturnType<typeof evaluateEligibility>) => e.reasons.map((r) => r.code);

describe('evaluateEligibility', () => {
  describe('新疆 scope rules', () => {
    it('a tier-2 receiver should recognise a tier-3 public sender (跨级, 原则上应予认可)', () => {
      const e = evaluateEligibility({ study: study(), receiver: inst('XJ-B', { level: 'L2A' }), orderedItemCode: 'XJHRYX-DR0208', at });
      expect(e.outcome).toBe('recognizable');
      expect(e.reasons.find((r) => r.code === 'scope')?.rule).toBe('XJ-SCOPE-CROSS-TIER-UP');
      expect(e.matchedItem).toEqual({ catalogId: 'xinjiang', code: 'XJHRYX-DR0208' });
      expect(e.validUntil?.toISOString()).toBe('2026-12-10T15:59:59.999Z');
    });

    it('same-tier public institutions may recognise each other (酌情)', () => {
      const e = evaluateEligibility({ study: study(), receiver: inst('XJ-B'), orderedItemCode: 'XJHRYX-DR0208', at });
      expect(e.outcome).toBe('discretionary');
      expect(e.reasons.find((r) => r.code === 'scope')?.rule).toBe('XJ-SCOPE-SAME-TIER');
    });

    it('a tier-3 receiver may recognise a capable (accredited) tier-2 sender, not an unaccredited one', () => {
      const capable = evaluateEligibility({
        study: study({ sender: inst('XJ-C', { level: 'L2A' }) }),
        receiver: inst('XJ-B'),
        orderedItemCode: 'XJHRYX-DR0208',
        at,
      });
      expect(capable.outcome).toBe('discretionary');
      const incapable = evaluateEligibility({
        study: study({ sender: inst('XJ-C', { level: 'L2A', accreditations: [] }) }),
        receiver: inst('XJ-B'),
        orderedItemCode: 'XJHRYX-DR0208',
        at,
      });
      expect(incapable.outcome).toBe('not_recognizable');
      expect(codes(incapable)).toEqual(expect.arrayContaining(['sender_not_accredited', 'out_of_scope']));
    });

    it('private institutions are outside the public-only rules, but group members may recognise each other', () => {
      const sender = inst('XJ-P', { isPublic: false, groups: ['G1'] });
      expect(evaluateEligibility({ study: study({ sender }), receiver: inst('XJ-B', { level: 'L2A' }), orderedItemCode: 'XJHRYX-DR0208', at }).outcome).toBe(
        'not_recognizable',
      );
      const e = evaluateEligibility({
        study: study({ sender }),
        receiver: inst('XJ-B', { level: 'L2A', groups: ['G1'] }),
        orderedItemCode: 'XJHRYX-DR0208',
        at,
      });
      expect(e.outcome).toBe('discretionary');
      expect(e.reasons.find((r) => r.code === 'scope')?.rule).toBe('XJ-SCOPE-SAME-GROUP');
    });
  });

  describe('浙江 scope rules', () => {
    const zj = (code: string, level: InstitutionFacts['level'], over: Partial<InstitutionFacts> = {}) =>
      inst(code, { region: 'ZJ', level, accreditations: [{ catalogId: 'zhejiang-2021', modality: 'DR', validFrom: '2024-01-01' }], ...over });
    const zjStudy = (sender: InstitutionFacts) => study({ sender, items: [{ catalogId: 'zhejiang-2021', code: 'BR00ZZZ8B-00' }] });

    it('二乙 and below recognise 二甲 and above; 二甲 and above do not owe it the other way', () => {
      expect(evaluateEligibility({ study: zjStudy(zj('Z1', 'L3A')), receiver: zj('Z2', 'L2B'), orderedItemCode: 'BR00ZZZ8B-00', at }).outcome).toBe(
        'recognizable',
      );
      const upward = evaluateEligibility({ study: zjStudy(zj('Z1', 'L2B')), receiver: zj('Z2', 'L3A'), orderedItemCode: 'BR00ZZZ8B-00', at });
      expect(upward.outcome).toBe('not_recognizable');
      expect(codes(upward)).toContain('out_of_scope');
    });

    it('医联体/医共体 members recognise each other whatever their level', () => {
      const e = evaluateEligibility({
        study: zjStudy(zj('Z1', 'L1', { groups: ['YGT'] })),
        receiver: zj('Z2', 'L3A', { groups: ['YGT'] }),
        orderedItemCode: 'BR00ZZZ8B-00',
        at,
      });
      expect(e.outcome).toBe('recognizable');
    });
  });

  it('川渝 publishes no scope: institutions of the region recognise each other, others do not', () => {
    const cy = (code: string) => inst(code, { region: 'CY', accreditations: [{ catalogId: 'chuanyu-2025', modality: 'DR', validFrom: '2024-01-01' }] });
    const s = study({ sender: cy('C1'), items: [{ catalogId: 'chuanyu-2025', code: 'CY2025-019' }] });
    expect(evaluateEligibility({ study: s, receiver: cy('C2'), orderedItemCode: 'CY2025-019', at }).outcome).toBe('recognizable');
    // 1 month: 2026-11-10 stays valid through 2026-12-10.
    expect(evaluateEligibility({ study: s, receiver: cy('C2'), orderedItemCode: 'CY2025-019', at: new Date('2026-12-10T23:00:00+08:00') }).outcome).toBe(
      'recognizable',
    );
    expect(evaluateEligibility({ study: s, receiver: cy('C2'), orderedItemCode: 'CY2025-019', at: new Date('2026-12-11T00:00:00+08:00') }).outcome).toBe(
      'not_recognizable',
    );
  });

  it('matches a prior mapped under another region’s catalog through the crosswalk, marked cross-region', () => {
    const receiver = inst('Z2', { region: 'ZJ', level: 'L2B' });
    const e = evaluateEligibility({ study: study({ sender: inst('XJ-A', { region: 'XJ' }) }), receiver, orderedItemCode: 'BR00ZZZ8B-00', at });
    expect(e.crossRegion).toBe(true);
    expect(e.matchedItem?.code).toBe('XJHRYX-DR0208');
    expect(codes(e)).toContain('cross_region_match');
  });

  it.each([
    [
      'item mismatch (a left knee MR never satisfies a right knee order)',
      { items: [{ catalogId: 'xinjiang', code: 'XJHRYX-MR0515' }] },
      'XJHRYX-MR0508',
      'item_mismatch',
    ],
    ['expired after 30 days', { studyDate: '20261020' }, 'XJHRYX-DR0208', 'expired'],
    ['no study date', { studyDate: null }, 'XJHRYX-DR0208', 'no_study_date'],
    ['failed quality', { quality: 'fail' as const }, 'XJHRYX-DR0208', 'quality_fail'],
    ['no report', { hasReport: false }, 'XJHRYX-DR0208', 'no_report'],
    ['unattributed sender', { sender: null }, 'XJHRYX-DR0208', 'sender_unknown'],
  ])('is not recognizable for %s', (_name, over, ordered, expected) => {
    const e = evaluateEligibility({ study: study(over), receiver: inst('XJ-B', { level: 'L2A' }), orderedItemCode: ordered, at });
    expect(e.outcome).toBe('not_recognizable');
    expect(codes(e)).toContain(expected);
  });

  it('passes quality warnings on to the physician without vetoing', () => {
    const e = evaluateEligibility({ study: study({ quality: 'warn' }), receiver: inst('XJ-B', { level: 'L2A' }), orderedItemCode: 'XJHRYX-DR0208', at });
    expect(e.outcome).toBe('recognizable');
    expect(codes(e)).toContain('quality_warn');
  });

  it('treats the receiving institution’s own study as recognizable', () => {
    const e = evaluateEligibility({ study: study(), receiver: inst('XJ-A'), orderedItemCode: 'XJHRYX-DR0208', at });
    expect(e.outcome).toBe('recognizable');
    expect(codes(e)).toContain('same_institution');
  });
});
