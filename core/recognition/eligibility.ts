import { getCatalog } from '../../catalogs';
import { crosswalk } from '../../catalogs/crosswalk';
import type { Catalog, ScopeRule } from '../../catalogs/schema';
import { isWithinValidity, validUntil } from '../../catalogs/validity';

/**
 * Whether a prior study may replace the exam a receiving institution is about to order:
 * 'recognizable' (the region's rules say it should be recognised), 'discretionary' (酌情: they
 * say it may be), or 'not_recognizable', always with the reasons. Pure: callers load the facts.
 */

export type Region = 'CY' | 'XJ' | 'ZJ';
export type Level = 'L3A' | 'L3B' | 'L2A' | 'L2B' | 'L1' | 'other';

export interface InstitutionFacts {
  code: string;
  region: Region;
  level: Level;
  kind: 'hospital' | 'independent_imaging_centre';
  isPublic: boolean;
  /** Codes of the groups (医联体/医共体/医疗集团) it belongs to. */
  groups: string[];
  accreditations: Array<{ catalogId: string; modality: string; validFrom: string; validUntil?: string | null }>;
}

export interface StudyFacts {
  studyInstanceUid: string;
  /** DICOM StudyDate, YYYYMMDD. */
  studyDate: string | null;
  studyTime?: string | null;
  /** null when the sender could not be attributed. */
  sender: InstitutionFacts | null;
  /** Items the study is mapped to, per catalog. */
  items: Array<{ catalogId: string; code: string }>;
  quality: 'pass' | 'warn' | 'fail' | null;
  hasReport: boolean;
}

export type Outcome = 'recognizable' | 'discretionary' | 'not_recognizable';

export interface Reason {
  code:
    | 'item_match'
    | 'cross_region_match'
    | 'item_mismatch'
    | 'expired'
    | 'no_study_date'
    | 'quality_fail'
    | 'quality_warn'
    | 'quality_unknown'
    | 'no_report'
    | 'sender_unknown'
    | 'sender_not_accredited'
    | 'same_institution'
    | 'scope'
    | 'out_of_scope';
  zh: string;
  en: string;
  /** The scope rule applied, where one was. */
  rule?: string;
}

export interface Eligibility {
  outcome: Outcome;
  reasons: Reason[];
  /** The study's item that matched the ordered one (itself, or an equivalent in another region's catalog). */
  matchedItem: { catalogId: string; code: string } | null;
  crossRegion: boolean;
  validUntil: Date | null;
}

export const CATALOG_OF_REGION: Record<Region, Catalog['id']> = { CY: 'chuanyu-2025', XJ: 'xinjiang', ZJ: 'zhejiang-2021' };

const TIER: Record<Level, number> = { L3A: 3, L3B: 3, L2A: 2, L2B: 2, L1: 1, other: 0 };

export function evaluateEligibility(input: { study: StudyFacts; receiver: InstitutionFacts; orderedItemCode: string; at: Date }): Eligibility {
  const { study, receiver, orderedItemCode, at } = input;
  const catalog = getCatalog(CATALOG_OF_REGION[receiver.region]);
  if (!catalog) throw new Error(`No catalog for region ${receiver.region}`);
  const blocking: Reason[] = [];
  const notes: Reason[] = [];

  // Item: the study must be mapped to the ordered item, or to an equivalent item of another region's catalog.
  const direct = study.items.find((i) => i.code === orderedItemCode);
  const viaCrosswalk = direct ? undefined : study.items.find((i) => crosswalk().equivalents(i.code).includes(orderedItemCode));
  const matchedItem = direct ?? viaCrosswalk ?? null;
  if (direct) notes.push(reason('item_match', `检查项目与所开项目 ${orderedItemCode} 一致`, `Study is mapped to the ordered item ${orderedItemCode}`));
  else if (viaCrosswalk)
    notes.push(
      reason(
        'cross_region_match',
        `检查按其他地区目录项目 ${viaCrosswalk.code} 归类，与 ${orderedItemCode} 等同`,
        `Mapped under another region's item ${viaCrosswalk.code}, equivalent to ${orderedItemCode}`,
      ),
    );
  else
    blocking.push(reason('item_mismatch', `检查项目与所开项目 ${orderedItemCode} 不符`, `The study is not mapped to ${orderedItemCode} or an equivalent item`));

  // Validity, by the receiving region's window.
  let until: Date | null = null;
  if (!study.studyDate) {
    blocking.push(reason('no_study_date', '检查日期缺失，无法判断时效', 'Study date missing: validity cannot be established'));
  } else {
    const when = { date: study.studyDate, time: study.studyTime ?? undefined };
    until = validUntil(when, catalog.validity);
    if (!isWithinValidity(when, catalog.validity, at)) {
      blocking.push(reason('expired', `已超过互认时限（${describeWindow(catalog)}）`, `Outside the recognition window (${describeWindow(catalog, 'en')})`));
    }
  }

  // Quality and report (the documents require report + images of adequate quality).
  if (study.quality === 'fail') blocking.push(reason('quality_fail', '影像质量检查未通过', 'Quality checks failed'));
  else if (study.quality === 'warn') notes.push(reason('quality_warn', '影像质量检查有提示，请医师判断', 'Quality checks raised warnings for the physician'));
  else if (study.quality === null) notes.push(reason('quality_unknown', '尚未完成质量检查', 'Quality not assessed yet'));
  if (!study.hasReport) blocking.push(reason('no_report', '缺少诊断报告', 'No diagnostic report'));

  // Institutions: the sender must be known and accredited; then the region's scope rules decide.
  let strength: 'should' | 'may' | null = null;
  if (!study.sender) {
    blocking.push(reason('sender_unknown', '无法确认检查机构', 'The sending institution is not known'));
  } else if (study.sender.code === receiver.code) {
    notes.push(reason('same_institution', '本院检查', 'Own institution’s study'));
    strength = 'should';
  } else {
    const modality = matchedItem ? itemModality(matchedItem.code) : undefined;
    const accredited = modality !== undefined && isAccredited(study.sender, modality, study.studyDate);
    if (!accredited)
      blocking.push(
        reason('sender_not_accredited', '检查机构未获该类检查的质控中心认定', 'The sender holds no quality-control-centre accreditation for this modality'),
      );
    const rule = strongestRule(catalog, study.sender, receiver, accredited);
    if (rule) {
      strength = rule.strength;
      notes.push({ ...reason('scope', rule.zh, rule.en), rule: rule.code });
    } else {
      blocking.push(reason('out_of_scope', '两机构之间不在本地区互认范围内', 'The two institutions are outside this region’s recognition scope'));
    }
  }

  const outcome: Outcome = blocking.length > 0 ? 'not_recognizable' : strength === 'should' ? 'recognizable' : 'discretionary';
  return { outcome, reasons: [...blocking, ...notes], matchedItem, crossRegion: Boolean(viaCrosswalk), validUntil: until };
}

function reason(code: Reason['code'], zh: string, en: string): Reason {
  return { code, zh, en };
}

function describeWindow(catalog: Catalog, lang: 'zh' | 'en' = 'zh'): string {
  const { unit, value } = catalog.validity;
  if (lang === 'en') return `${value} ${unit}`;
  return unit === 'days' ? `${value}天` : `${value}个月`;
}

function itemModality(code: string): string | undefined {
  for (const id of Object.values(CATALOG_OF_REGION)) {
    const item = getCatalog(id)?.items.find((i) => i.code === code);
    if (item) return item.modality;
  }
  return undefined;
}

function isAccredited(sender: InstitutionFacts, modality: string, studyDate: string | null): boolean {
  if (!studyDate) return false;
  const day = `${studyDate.slice(0, 4)}-${studyDate.slice(4, 6)}-${studyDate.slice(6, 8)}`;
  return sender.accreditations.some((a) => a.modality === modality && a.validFrom <= day && (!a.validUntil || day <= a.validUntil));
}

/**
 * The strongest scope rule of the receiving region that covers (sender → receiver). A catalog
 * without scope rules (川渝 publishes none) covers every registered institution of its region.
 */
export function strongestRule(catalog: Catalog, sender: InstitutionFacts, receiver: InstitutionFacts, senderAccredited: boolean): ScopeRule | null {
  if (catalog.scopeRules.length === 0) {
    return sender.region === receiver.region
      ? {
          code: `${catalog.region.code}-SCOPE-REGION`,
          zh: '本地区医疗机构间互认（文件未另定范围）',
          en: 'Institutions of the region (the document sets no narrower scope)',
          relation: 'any',
          strength: 'should',
          source: catalog.document.title,
        }
      : null;
  }
  const applicable = catalog.scopeRules.filter((rule) => {
    if (rule.receiver && !matches(rule.receiver, receiver, true)) return false;
    if (rule.sender && !matches(rule.sender, sender, senderAccredited)) return false;
    switch (rule.relation) {
      case 'any':
        return true;
      case 'same_tier':
        return TIER[sender.level] === TIER[receiver.level];
      case 'sender_higher_tier':
        return TIER[sender.level] > TIER[receiver.level];
      case 'same_group':
        return sender.groups.some((g) => receiver.groups.includes(g));
    }
  });
  return applicable.find((r) => r.strength === 'should') ?? applicable[0] ?? null;
}

function matches(selector: NonNullable<ScopeRule['sender']>, institution: InstitutionFacts, accredited: boolean): boolean {
  if (!selector.levels.includes(institution.level)) return false;
  if (!selector.kinds.includes(institution.kind)) return false;
  if (selector.publicOnly && !institution.isPublic) return false;
  if (selector.requiresAccreditation && !accredited) return false;
  return true;
}
