import { isWithinValidity, validUntil, type ValidityRule } from '../../../catalogs/validity';

const DAYS_30: ValidityRule = { unit: 'days', value: 30 };
const MONTH_1: ValidityRule = { unit: 'months', value: 1 };
/** The end of a Shanghai calendar day, written as an instant. */
const endOf = (ymd: string) => new Date(`${ymd}T23:59:59.999+08:00`);
const da = (date: string, time?: string) => ({ date, time });

describe('validUntil: 30 days', () => {
  it.each([
    ['20250101', '2025-01-31'],
    ['20250131', '2025-03-02'], // through February 2025 (28 days)
    ['20240131', '2024-03-01'], // leap year: February has 29 days
    ['20240229', '2024-03-30'],
    ['20230201', '2023-03-03'],
    ['20241215', '2025-01-14'], // year end
    ['20241231', '2025-01-30'],
  ])('%s → end of %s', (date, last) => {
    expect(validUntil(da(date), DAYS_30)).toEqual(endOf(last));
  });
});

describe('validUntil: 1 month', () => {
  it.each([
    ['20250115', '2025-02-15'],
    ['20250131', '2025-02-28'], // Feb has no 31st: clamped
    ['20250331', '2025-04-30'],
    ['20240130', '2024-02-29'], // leap year
    ['20240131', '2024-02-29'],
    ['20230130', '2023-02-28'],
    ['20230131', '2023-02-28'],
    ['20240229', '2024-03-29'],
    ['20241231', '2025-01-31'], // year end
    ['20241130', '2024-12-30'],
  ])('%s → end of %s', (date, last) => {
    expect(validUntil(da(date), MONTH_1)).toEqual(endOf(last));
  });

  it('counts several months from the exam month, clamping only at the end', () => {
    expect(validUntil(da('20240831'), { unit: 'months', value: 6 })).toEqual(endOf('2025-02-28'));
    expect(validUntil(da('20231031'), { unit: 'months', value: 4 })).toEqual(endOf('2024-02-29'));
  });
});

describe('exam day in Shanghai', () => {
  it('a date-only study counts from its date; the time, when present, does not move the window', () => {
    const plain = validUntil(da('20250310'), DAYS_30);
    expect(validUntil(da('20250310', '000000'), DAYS_30)).toEqual(plain);
    expect(validUntil(da('20250310', '235959.999999'), DAYS_30)).toEqual(plain);
    expect(plain).toEqual(endOf('2025-04-09'));
  });

  it('a UTC instant late in the evening is the next day in Shanghai', () => {
    const exam = new Date('2025-01-31T16:30:00Z'); // 2025-02-01 00:30 in Shanghai
    expect(validUntil(exam, DAYS_30)).toEqual(endOf('2025-03-03'));
    expect(validUntil(exam, MONTH_1)).toEqual(endOf('2025-03-01'));
    // 15:59:59.999Z is still 23:59:59.999 on 31 January in Shanghai
    expect(validUntil(new Date('2025-01-31T15:59:59.999Z'), MONTH_1)).toEqual(endOf('2025-02-28'));
  });

  it('the result does not depend on the process time zone', () => {
    // 2024-12-31T23:00+08:00 is 2024-12-31 in Shanghai although it is 15:00Z
    expect(validUntil(new Date('2024-12-31T23:00:00+08:00'), DAYS_30)).toEqual(endOf('2025-01-30'));
    expect(endOf('2025-01-30').toISOString()).toBe('2025-01-30T15:59:59.999Z');
  });
});

describe('isWithinValidity', () => {
  const study = da('20250131', '101500');

  it('holds through the exact last instant and ends one millisecond later', () => {
    expect(isWithinValidity(study, DAYS_30, new Date('2025-03-02T15:59:59.999Z'))).toBe(true);
    expect(isWithinValidity(study, DAYS_30, new Date('2025-03-02T16:00:00.000Z'))).toBe(false);
    expect(isWithinValidity(study, MONTH_1, endOf('2025-02-28'))).toBe(true);
    expect(isWithinValidity(study, MONTH_1, new Date('2025-03-01T00:00:00+08:00'))).toBe(false);
  });

  it('opens at 00:00 Shanghai on the exam day, not before', () => {
    expect(isWithinValidity(study, DAYS_30, new Date('2025-01-31T00:00:00+08:00'))).toBe(true);
    expect(isWithinValidity(study, DAYS_30, new Date('2025-01-30T23:59:59.999+08:00'))).toBe(false);
  });

  it('accepts Date studies the same way', () => {
    const exam = new Date('2024-02-28T17:00:00Z'); // 2024-02-29 01:00 Shanghai
    expect(isWithinValidity(exam, DAYS_30, endOf('2024-03-30'))).toBe(true);
    expect(isWithinValidity(exam, DAYS_30, new Date(endOf('2024-03-30').getTime() + 1))).toBe(false);
  });
});

describe('invalid input', () => {
  it.each(['2025-01-31', '20250229', '20251301', '20250100', ''])('rejects DA %p', (date) => {
    expect(() => validUntil(da(date), DAYS_30)).toThrow(RangeError);
  });

  it('rejects a malformed time, an invalid Date and a non-positive rule', () => {
    expect(() => validUntil(da('20250131', '2561'), DAYS_30)).toThrow(RangeError);
    expect(() => validUntil(new Date('nonsense'), DAYS_30)).toThrow(RangeError);
    expect(() => validUntil(da('20250131'), { unit: 'days', value: 0 })).toThrow(RangeError);
    expect(() => validUntil(da('20250131'), { unit: 'months', value: 1.5 })).toThrow(RangeError);
  });
});
