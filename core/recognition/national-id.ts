/**
 * 居民身份证号码 (GB 11643-1999, citizen identification number): 6-digit address code,
 * 8-digit birth date, 3-digit sequence (odd = male, even = female) and an ISO 7064 MOD 11-2
 * check character (0-9 or X). Pure functions: nothing here stores or logs a number.
 */

export interface Bilingual {
  zh: string;
  en: string;
}

export type NationalIdParse =
  | {
      valid: true;
      /** The number in canonical form (NFKC, trimmed, upper-case X): what is hashed and encrypted. */
      normalized: string;
      checkDigitOk: boolean;
      /** YYYYMMDD, as DICOM DA. */
      birthDate: string;
      sex: 'M' | 'F';
      /** The 6-digit administrative division code of the place of first registration. */
      regionCode: string;
    }
  | { valid: false; reason: 'length' | 'characters' | 'region' | 'birth_date'; message: Bilingual };

export interface NationalIdFinding {
  code: 'national_id_invalid' | 'national_id_check_digit' | 'national_id_sex_mismatch' | 'national_id_birth_date_mismatch';
  severity: 'warn' | 'fail';
  message: Bilingual;
}

/** W_i = 2^(17-i) mod 11 for the 17 body digits (ISO 7064 MOD 11-2). */
const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS = '10X98765432';

/**
 * Provinces, autonomous regions and municipalities (GB/T 2260 first two digits), plus
 * 81/82/83 used by the residence permits of Hong Kong, Macao and Taiwan residents, which
 * follow the same format.
 */
const PROVINCES = new Set([
  '11', '12', '13', '14', '15', '21', '22', '23', '31', '32', '33', '34', '35', '36', '37', '41', '42', '43', '44', '45', '46',
  '50', '51', '52', '53', '54', '61', '62', '63', '64', '65', '71', '81', '82', '83',
]); // prettier-ignore

/** Full-width digits and letters typed with a Chinese IME become ASCII; a trailing x becomes X. */
export function normalizeNationalId(input: string): string {
  return input.normalize('NFKC').trim().toUpperCase();
}

/** The check character the 17 body digits call for. */
export function nationalIdCheckChar(body17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(body17[i]) * WEIGHTS[i];
  return CHECK_CHARS[sum % 11];
}

export function parseNationalId(input: string, today: Date = new Date()): NationalIdParse {
  const id = normalizeNationalId(input);
  if (id.length !== 18) {
    return invalid('length', '身份证号应为 18 位', 'A resident identity card number has 18 characters');
  }
  if (!/^\d{17}[\dX]$/.test(id)) {
    return invalid('characters', '身份证号前 17 位应为数字，末位为数字或 X', 'The first 17 characters must be digits and the last a digit or X');
  }
  if (!PROVINCES.has(id.slice(0, 2))) {
    return invalid('region', '身份证号的地址码无效', 'The address code of the number is not a known province');
  }
  const birthDate = id.slice(6, 14);
  if (!isPastDate(birthDate, today)) {
    return invalid('birth_date', '身份证号中的出生日期无效', 'The birth date inside the number is not a valid past date');
  }
  return {
    valid: true,
    normalized: id,
    checkDigitOk: nationalIdCheckChar(id) === id[17],
    birthDate,
    sex: Number(id[16]) % 2 === 1 ? 'M' : 'F',
    regionCode: id.slice(0, 6),
  };
}

/**
 * Quality findings for a number against the patient's DICOM attributes. Disagreements are
 * findings, not refusals: a mistyped sex or a birth date registered by the lunar calendar is
 * common and the number may still be right. Messages never contain the values themselves.
 */
export function nationalIdFindings(id: string, patientSex?: string | null, patientBirthDate?: string | null): NationalIdFinding[] {
  const parsed = parseNationalId(id);
  if (!parsed.valid) return [{ code: 'national_id_invalid', severity: 'fail', message: parsed.message }];
  const findings: NationalIdFinding[] = [];
  if (!parsed.checkDigitOk) {
    findings.push({
      code: 'national_id_check_digit',
      severity: 'fail',
      message: {
        zh: '身份证号校验码错误（可能输入有误），仍按原样保存',
        en: 'The check character of the national ID is wrong (probably mistyped); it is stored as given',
      },
    });
  }
  const sex = patientSex?.trim().toUpperCase();
  if ((sex === 'M' || sex === 'F') && sex !== parsed.sex) {
    findings.push({
      code: 'national_id_sex_mismatch',
      severity: 'warn',
      message: { zh: 'PatientSex 与身份证号所示性别不一致', en: 'PatientSex disagrees with the sex encoded in the national ID' },
    });
  }
  const birthDate = patientBirthDate?.trim().replace(/\./g, '');
  if (birthDate && /^\d{8}$/.test(birthDate) && birthDate !== parsed.birthDate) {
    findings.push({
      code: 'national_id_birth_date_mismatch',
      severity: 'warn',
      message: { zh: 'PatientBirthDate 与身份证号中的出生日期不一致', en: 'PatientBirthDate disagrees with the birth date encoded in the national ID' },
    });
  }
  return findings;
}

function invalid(reason: 'length' | 'characters' | 'region' | 'birth_date', zh: string, en: string): NationalIdParse {
  return { valid: false, reason, message: { zh, en } };
}

function isPastDate(yyyymmdd: string, today: Date): boolean {
  const iso = `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`;
  const d = new Date(`${iso}T00:00:00Z`);
  if (Number.isNaN(d.getTime()) || d.toISOString().slice(0, 10) !== iso) return false;
  return Number(yyyymmdd.slice(0, 4)) >= 1850 && d.getTime() <= today.getTime();
}
