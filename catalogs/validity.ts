/**
 * How long an exam stays recognizable (互认时限), counted in Asia/Shanghai. docs/validity.md
 * states the rule in Chinese and English; in short:
 *
 *   exam day  = the calendar date of the exam in Shanghai
 *   N days    → valid through the end of (exam day + N calendar days)
 *   N months  → valid through the end of the same day-of-month N months later, clamped to the
 *               last day of that month when it has no such day (Jan 31 + 1 month → Feb 28/29)
 *   "end of a day" = 23:59:59.999 +08:00; the window opens at 00:00 +08:00 on the exam day.
 *
 * Asia/Shanghai has been a fixed UTC+08:00 without daylight saving since 1991, so the
 * arithmetic below shifts by a constant offset instead of asking a time-zone database: the
 * result is the same on every host, whatever its TZ setting or ICU data.
 */

const SHANGHAI_OFFSET_MS = 8 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** DICOM StudyDate (DA, YYYYMMDD) with optional StudyTime (TM), both local to the sender in China. */
export interface DicomDateTime {
  date: string;
  time?: string;
}
export type StudyDateTime = Date | DicomDateTime;

export interface ValidityRule {
  unit: 'days' | 'months';
  value: number;
}

interface CivilDate {
  year: number;
  month: number; // 1-12
  day: number;
}

const DA = /^(\d{4})(\d{2})(\d{2})$/;
// DICOM TM: HH, HHMM, HHMMSS, optional fraction. Only validated: the window counts calendar days.
const TM = /^([01]\d|2[0-3])([0-5]\d([0-5]\d(\.\d{1,6})?)?)?$/;

const daysInMonth = (year: number, month: number): number => new Date(Date.UTC(year, month, 0)).getUTCDate();

function examDay(study: StudyDateTime): CivilDate {
  if (study instanceof Date) {
    if (Number.isNaN(study.getTime())) throw new RangeError('Invalid study date / 检查日期无效');
    const shanghai = new Date(study.getTime() + SHANGHAI_OFFSET_MS);
    return { year: shanghai.getUTCFullYear(), month: shanghai.getUTCMonth() + 1, day: shanghai.getUTCDate() };
  }
  const m = DA.exec(study.date.trim());
  const [year, month, day] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [0, 0, 0];
  if (!m || month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    throw new RangeError(`Invalid DICOM date "${study.date}" (YYYYMMDD) / 检查日期格式无效`);
  }
  if (study.time !== undefined && study.time.trim() !== '' && !TM.test(study.time.trim())) {
    throw new RangeError(`Invalid DICOM time "${study.time}" (HHMMSS) / 检查时间格式无效`);
  }
  return { year, month, day };
}

/** The instant 00:00 +08:00 of a Shanghai calendar date; Date.UTC normalises day overflow. */
const startOfDay = (d: CivilDate): number => Date.UTC(d.year, d.month - 1, d.day) - SHANGHAI_OFFSET_MS;
const endOfDay = (d: CivilDate): number => startOfDay(d) + DAY_MS - 1;

function lastDay(exam: CivilDate, rule: ValidityRule): CivilDate {
  if (!Number.isInteger(rule.value) || rule.value <= 0) {
    throw new RangeError(`Validity must be a positive whole number of ${rule.unit}, got ${rule.value}`);
  }
  if (rule.unit === 'days') return { ...exam, day: exam.day + rule.value };
  const monthIndex = exam.month - 1 + rule.value;
  const year = exam.year + Math.floor(monthIndex / 12);
  const month = (monthIndex % 12) + 1;
  return { year, month, day: Math.min(exam.day, daysInMonth(year, month)) };
}

/** The last instant (23:59:59.999 +08:00) at which the exam is still recognizable. */
export function validUntil(study: StudyDateTime, rule: ValidityRule): Date {
  return new Date(endOfDay(lastDay(examDay(study), rule)));
}

/**
 * True from 00:00 +08:00 on the exam day through validUntil, both inclusive. A study dated
 * after `at` (a later Shanghai day) is not recognizable: its date is wrong or `at` is.
 */
export function isWithinValidity(study: StudyDateTime, rule: ValidityRule, at: Date): boolean {
  const exam = examDay(study);
  const t = at.getTime();
  return t >= startOfDay(exam) && t <= endOfDay(lastDay(exam, rule));
}
