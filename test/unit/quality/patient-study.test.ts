import { checkPatientStudy } from '../../../core/quality/checks/patient-study';
import { byCode, codes, ctStack, image, input, item, series, STUDY } from './fixtures';

const run = (study: Record<string, unknown>, extra: Parameters<typeof input>[0] = {}) => checkPatientStudy(input({ study: { ...STUDY, ...study }, ...extra }));

describe('quality: patient and study attributes', () => {
  it('finds nothing in a complete study', () => {
    expect(checkPatientStudy(input())).toEqual([]);
  });

  it.each([
    ['QC-PAT-NAME-MISSING', { PatientName: undefined }],
    ['QC-PAT-NAME-MISSING', { PatientName: '^^' }],
    ['QC-PAT-ID-MISSING', { PatientID: '' }],
    ['QC-PAT-SEX-MISSING', { PatientSex: undefined }],
    ['QC-PAT-SEX-INVALID', { PatientSex: 'X' }],
    ['QC-PAT-BIRTHDATE-MISSING', { PatientBirthDate: '' }],
    ['QC-PAT-BIRTHDATE-IMPLAUSIBLE', { PatientBirthDate: '19801301' }],
    ['QC-PAT-BIRTHDATE-IMPLAUSIBLE', { PatientBirthDate: '20260311' }],
    ['QC-PAT-BIRTHDATE-IMPLAUSIBLE', { PatientBirthDate: '18800101' }],
    ['QC-STUDY-TIME-MISSING', { StudyTime: undefined }],
    ['QC-STUDY-TIME-INVALID', { StudyTime: '256000' }],
    ['QC-STUDY-ACCESSION-MISSING', { AccessionNumber: '' }],
  ])('%s is a warning (%j)', (code, study) => {
    const findings = run(study);
    expect(codes(findings)).toEqual([code]);
    expect(findings[0].severity).toBe('warn');
    expect(findings[0].message.zh).toBeTruthy();
    expect(findings[0].message.en).toBeTruthy();
  });

  it('accepts TM with colons and fractions, and the old DA form with dots', () => {
    expect(run({ StudyTime: '10:15:00.123', StudyDate: '2026.03.10' })).toEqual([]);
  });

  it('takes InstitutionName from the instances when the study level lacks it', () => {
    const noInstitution = { ...STUDY, InstitutionName: undefined };
    expect(codes(checkPatientStudy(input({ study: noInstitution })))).toEqual(['QC-STUDY-INSTITUTION-MISSING']);
    const withInstance = input({ study: noInstitution, series: [series('CT', null, [image('CT', { InstitutionName: '某医院' })])] });
    expect(checkPatientStudy(withInstance)).toEqual([]);
  });

  it('fails a study without a readable StudyDate under every catalog: the recognition period counts from it', () => {
    expect(byCode(run({ StudyDate: undefined }), 'QC-STUDY-DATE-MISSING')?.severity).toBe('fail');
    expect(byCode(run({ StudyDate: '20260230' }), 'QC-STUDY-DATE-INVALID')?.severity).toBe('fail');
    expect(byCode(run({ StudyDate: undefined }, { mappedItems: [item('CY2025-092')] }), 'QC-STUDY-DATE-MISSING')?.severity).toBe('fail');
  });

  it('flags a study date in the future; fails it where the catalog requires accurate dates (浙江 ZJ-REQ-07)', () => {
    expect(byCode(run({ StudyDate: '20260401' }), 'QC-STUDY-DATE-FUTURE')?.severity).toBe('warn');
    const zj = byCode(run({ StudyDate: '20260401' }, { mappedItems: [item('BW23ZYZZZ-00')] }), 'QC-STUDY-DATE-FUTURE');
    expect(zj).toMatchObject({ severity: 'fail', basis: ['ZJ-REQ-07'] });
    expect(codes(run({ StudyDate: '20260320' }))).toEqual([]);
  });

  it('fails a missing patient name under 浙江 only', () => {
    expect(byCode(run({ PatientName: undefined }, { mappedItems: [item('XJHRYX-CT0603')] }), 'QC-PAT-NAME-MISSING')?.severity).toBe('warn');
    expect(byCode(run({ PatientName: undefined }, { mappedItems: [item('BW23ZYZZZ-00')] }), 'QC-PAT-NAME-MISSING')?.severity).toBe('fail');
  });

  it('fails instances of another patient ID mixed into the study, naming the odd ones out', () => {
    const stack = ctStack('Head', 4);
    const odd = image('CT', { PatientID: 'P9999' });
    const findings = checkPatientStudy(input({ series: [stack, series('CT', 'extra', [odd])] }));
    expect(byCode(findings, 'QC-PAT-ID-INCONSISTENT')).toMatchObject({ severity: 'fail', instances: [odd.SOPInstanceUID] });
    expect(codes(checkPatientStudy(input({ series: [stack] })))).not.toContain('QC-PAT-ID-INCONSISTENT');
    // An instance without a PatientID (a RIS document) is not another patient.
    expect(codes(checkPatientStudy(input({ series: [stack, series('SR', null, [image('CT', { PatientID: undefined })])] })))).toEqual([]);
  });

  it('flags differing patient names, comparing only the component groups both instances carry', () => {
    const alphabeticOnly = image('CT', { PatientName: [{ Alphabetic: 'Zhang^San' }] });
    expect(codes(checkPatientStudy(input({ series: [ctStack('Head', 3), series('CT', null, [alphabeticOnly])] })))).toEqual([]);
    const other = image('CT', { PatientName: [{ Alphabetic: 'LI^SI', Ideographic: '李^四' }] });
    const findings = checkPatientStudy(input({ series: [ctStack('Head', 3), series('CT', null, [other])] }));
    expect(byCode(findings, 'QC-PAT-NAME-INCONSISTENT')).toMatchObject({ severity: 'warn', instances: [other.SOPInstanceUID] });
  });
});
