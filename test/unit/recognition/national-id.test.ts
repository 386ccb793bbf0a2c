import { nationalIdCheckChar, nationalIdFindings, normalizeNationalId, parseNationalId } from '../../../core/recognition/national-id';

/** The examples printed in GB 11643-1999 itself, and numbers derived from them. */
const WITH_X = '11010519491231002X'; // female, born 1949-12-31, check character X
const MALE = '440524188001010014'; // male, born 1880-01-01

describe('parseNationalId (GB 11643-1999)', () => {
  it('reads region, birth date and sex, and verifies the ISO 7064 MOD 11-2 check character', () => {
    expect(parseNationalId(WITH_X)).toEqual({
      valid: true,
      normalized: WITH_X,
      checkDigitOk: true,
      birthDate: '19491231',
      sex: 'F',
      regionCode: '110105',
    });
    expect(parseNationalId(MALE)).toMatchObject({ valid: true, checkDigitOk: true, birthDate: '18800101', sex: 'M', regionCode: '440524' });
  });

  it('computes X for a remainder of 2 and digits otherwise', () => {
    expect(nationalIdCheckChar(WITH_X.slice(0, 17))).toBe('X');
    expect(nationalIdCheckChar(MALE.slice(0, 17))).toBe('4');
  });

  it('accepts a lower-case x, full-width digits and surrounding spaces', () => {
    const fullWidth = '１１０１０５１９４９１２３１００２ｘ';
    expect(normalizeNationalId(` ${WITH_X.toLowerCase()} `)).toBe(WITH_X);
    expect(parseNationalId(fullWidth)).toMatchObject({ valid: true, normalized: WITH_X, checkDigitOk: true });
  });

  it('keeps a wrong check character as a valid format with checkDigitOk false', () => {
    expect(parseNationalId('110105194912310021')).toMatchObject({ valid: true, checkDigitOk: false });
  });

  it.each([
    ['', 'length'],
    ['11010519491231002', 'length'],
    ['1101051949123100200', 'length'],
    ['11010519491231A02X', 'characters'],
    ['1101051949123100X2', 'characters'],
    ['990105194912310027', 'region'],
    ['110105194902300025', 'birth_date'], // 30 February
    ['110105299912310028', 'birth_date'], // in the future
    ['110105170012310020', 'birth_date'], // before 1850
  ])('refuses %p (%s) with a bilingual reason', (id, reason) => {
    const parsed = parseNationalId(id, new Date('2026-01-01T00:00:00Z'));
    expect(parsed).toMatchObject({ valid: false, reason });
    if (!parsed.valid) {
      expect(parsed.message.zh).toMatch(/[\u4e00-\u9fff]/);
      expect(parsed.message.en).toMatch(/[a-z]/);
    }
  });
});

describe('nationalIdFindings', () => {
  it('finds nothing when the number agrees with PatientSex and PatientBirthDate', () => {
    expect(nationalIdFindings(WITH_X, 'F', '19491231')).toEqual([]);
    expect(nationalIdFindings(WITH_X, 'f', '1949.12.31')).toEqual([]);
  });

  it('finds nothing to compare when sex is O or absent and the birth date is absent', () => {
    expect(nationalIdFindings(WITH_X, 'O', '')).toEqual([]);
    expect(nationalIdFindings(WITH_X, null, undefined)).toEqual([]);
  });

  it('flags a bad check character as fail, sex and birth-date disagreements as warn', () => {
    const findings = nationalIdFindings('110105194912310021', 'M', '19500101');
    expect(findings.map((f) => [f.code, f.severity])).toEqual([
      ['national_id_check_digit', 'fail'],
      ['national_id_sex_mismatch', 'warn'],
      ['national_id_birth_date_mismatch', 'warn'],
    ]);
    for (const f of findings) {
      expect(f.message.zh).toMatch(/[\u4e00-\u9fff]/);
      expect(f.message.en).toMatch(/national ID/);
      // No patient data in findings: neither the number nor the dates.
      expect(JSON.stringify(f)).not.toMatch(/1949|1950|110105/);
    }
  });

  it('reports an unparseable number as one failing finding', () => {
    expect(nationalIdFindings('12345', 'M', '19491231')).toEqual([expect.objectContaining({ code: 'national_id_invalid', severity: 'fail' })]);
  });
});
