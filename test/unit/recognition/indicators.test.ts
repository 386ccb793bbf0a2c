import { computeIndicators, type RecognitionEvent } from '../../../core/recognition/indicators';

const shown = (reminderId: string, priors: Array<[string, 'recognizable' | 'discretionary']>): RecognitionEvent => ({
  type: 'reminder_shown',
  reminderId,
  orderedItemCode: null,
  studyInstanceUid: null,
  data: { priors: priors.map(([orderedItemCode, outcome]) => ({ orderedItemCode, studyInstanceUid: `s-${reminderId}-${orderedItemCode}`, outcome })) },
});
const ev = (
  type: RecognitionEvent['type'],
  reminderId: string | null,
  orderedItemCode: string | null,
  data: Record<string, unknown> = {},
): RecognitionEvent => ({
  type,
  reminderId,
  orderedItemCode,
  studyInstanceUid: null,
  data,
});

/**
 * A hand-computed fixture: 4 reminders, 3 of them with priors.
 *   R1: items A (recognizable), B (discretionary) — viewed; A accepted; B rejected with a listed reason.
 *   R2: item A (recognizable) — viewed; re-examined without a reason (不遵从).
 *   R3: item C (recognizable) — not viewed, dismissed; re-examined with a listed reason.
 *   R4: no priors (does not count anywhere).
 * Audits: 3 recognised studies audited, 2 agree.
 */
const events: RecognitionEvent[] = [
  shown('R1', [
    ['A', 'recognizable'],
    ['B', 'discretionary'],
  ]),
  ev('viewed', 'R1', null),
  ev('decided', 'R1', 'A', { decision: 'accepted' }),
  ev('decided', 'R1', 'B', { decision: 'rejected', reasonCode: 'ZJ-NR-01' }),
  shown('R2', [['A', 'recognizable']]),
  ev('viewed', 'R2', null),
  ev('reexam_ordered', 'R2', 'A'),
  shown('R3', [['C', 'recognizable']]),
  ev('reminder_dismissed', 'R3', null),
  ev('reexam_ordered', 'R3', 'C', { reasonCode: 'ZJ-NR-08' }),
  shown('R4', []),
  ev('viewed', 'R4', null),
  ev('audit_result', null, null, { agrees: true }),
  ev('audit_result', null, null, { agrees: true }),
  ev('audit_result', null, null, { agrees: false }),
];

describe('computeIndicators', () => {
  it('computes the four indicators as hand-computed for the fixture', () => {
    const i = computeIndicators(events);
    expect(i.reminderViewRate).toEqual({ numerator: 2, denominator: 3, rate: 2 / 3 }); // R1, R2 of R1–R3
    expect(i.recognitionRate).toEqual({ numerator: 1, denominator: 4, rate: 0.25 }); // R1/A of R1/A, R1/B, R2/A, R3/C
    expect(i.nonComplianceRate).toEqual({ numerator: 1, denominator: 3, rate: 1 / 3 }); // R2/A of R1/A, R2/A, R3/C
    expect(i.diagnosticAgreementRate).toEqual({ numerator: 2, denominator: 3, rate: 2 / 3 });
  });

  it('answers null rates, not NaN, when nothing was counted', () => {
    const i = computeIndicators([]);
    expect(i.reminderViewRate).toEqual({ numerator: 0, denominator: 0, rate: null });
    expect(i.diagnosticAgreementRate.rate).toBeNull();
  });
});
