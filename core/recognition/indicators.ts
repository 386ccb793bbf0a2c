/**
 * The key indicators of 浙卫发〔2021〕33号 (提醒调阅率, 互认率, 互认不遵从率, 诊断符合率), computed
 * only from the raw recognition events. No official formulas are published; the definitions
 * used here are in docs/indicators.md, and because the events are kept, any other definition
 * can be recomputed later.
 */

export type EventType = 'reminder_shown' | 'reminder_dismissed' | 'viewed' | 'decided' | 'reexam_ordered' | 'audit_result';

export interface RecognitionEvent {
  type: EventType;
  reminderId: string | null;
  orderedItemCode: string | null;
  studyInstanceUid: string | null;
  /**
   * reminder_shown: { priors: [{ orderedItemCode, studyInstanceUid, outcome }] };
   * decided: { decision: 'accepted' | 'rejected', reasonCode? };
   * reexam_ordered: { reasonCode? }; audit_result: { agrees: boolean }.
   */
  data: Record<string, unknown>;
}

export interface Rate {
  numerator: number;
  denominator: number;
  /** numerator ÷ denominator, or null when nothing was counted. */
  rate: number | null;
}

export interface Indicators {
  /** 提醒调阅率: reminders with priors that were followed by a 调阅 ÷ reminders with priors. */
  reminderViewRate: Rate;
  /** 互认率: reminded items decided 互认 (accepted) ÷ reminded items. */
  recognitionRate: Rate;
  /** 互认不遵从率: recognizable reminded items re-examined without a listed reason ÷ recognizable reminded items. */
  nonComplianceRate: Rate;
  /** 诊断符合率: audited recognised studies whose diagnosis the re-read or follow-up confirms ÷ audited. */
  diagnosticAgreementRate: Rate;
}

const rate = (numerator: number, denominator: number): Rate => ({ numerator, denominator, rate: denominator === 0 ? null : numerator / denominator });
const itemKey = (reminderId: string | null, item: string | null) => `${reminderId} ${item}`;

interface ShownPrior {
  orderedItemCode: string;
  outcome: string;
}

export function computeIndicators(events: Iterable<RecognitionEvent>): Indicators {
  const remindersWithPriors = new Set<string>();
  const viewedReminders = new Set<string>();
  const remindedItems = new Set<string>();
  const recognizableItems = new Set<string>();
  const acceptedItems = new Set<string>();
  const justifiedItems = new Set<string>();
  const reexaminedItems = new Set<string>();
  let audited = 0;
  let agreed = 0;

  for (const e of events) {
    switch (e.type) {
      case 'reminder_shown': {
        const priors = (e.data.priors as ShownPrior[] | undefined) ?? [];
        if (priors.length === 0 || !e.reminderId) break;
        remindersWithPriors.add(e.reminderId);
        for (const p of priors) {
          remindedItems.add(itemKey(e.reminderId, p.orderedItemCode));
          if (p.outcome === 'recognizable') recognizableItems.add(itemKey(e.reminderId, p.orderedItemCode));
        }
        break;
      }
      case 'viewed':
        if (e.reminderId) viewedReminders.add(e.reminderId);
        break;
      case 'decided':
        if (e.data.decision === 'accepted') acceptedItems.add(itemKey(e.reminderId, e.orderedItemCode));
        if (e.data.decision === 'rejected' && e.data.reasonCode) justifiedItems.add(itemKey(e.reminderId, e.orderedItemCode));
        break;
      case 'reexam_ordered':
        reexaminedItems.add(itemKey(e.reminderId, e.orderedItemCode));
        if (e.data.reasonCode) justifiedItems.add(itemKey(e.reminderId, e.orderedItemCode));
        break;
      case 'audit_result':
        audited += 1;
        if (e.data.agrees === true) agreed += 1;
        break;
      case 'reminder_dismissed':
        break;
    }
  }

  const count = (set: Set<string>, within: Set<string>) => [...set].filter((k) => within.has(k)).length;
  const nonCompliant = [...recognizableItems].filter((k) => reexaminedItems.has(k) && !justifiedItems.has(k)).length;
  return {
    reminderViewRate: rate(count(viewedReminders, remindersWithPriors), remindersWithPriors.size),
    recognitionRate: rate(count(acceptedItems, remindedItems), remindedItems.size),
    nonComplianceRate: rate(nonCompliant, recognizableItems.size),
    diagnosticAgreementRate: rate(agreed, audited),
  };
}
