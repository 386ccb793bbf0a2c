import { mrWeightingsOf, planeOf } from '../../../core/quality/classify';
import { checkMr } from '../../../core/quality/checks/mr';
import { byCode, codes, input, mrSeries } from './fixtures';

const run = (...s: ReturnType<typeof mrSeries>[]) => checkMr(input({ series: s }));

describe('quality: MR', () => {
  it('finds nothing in identifiable series with field strength and planes', () => {
    expect(run(mrSeries('t1_tse_sag', 'sagittal'), mrSeries('t2_tse_tra', 'axial'))).toEqual([]);
  });

  it('QC-MR-FIELD-STRENGTH-MISSING per series', () => {
    const findings = run(mrSeries('T1 SAG', 'sagittal', { MagneticFieldStrength: undefined }), mrSeries('T2 TRA', 'axial'));
    expect(byCode(findings, 'QC-MR-FIELD-STRENGTH-MISSING')).toMatchObject({ severity: 'warn' });
    expect(byCode(findings, 'QC-MR-FIELD-STRENGTH-MISSING')!.message.en).toMatch(/^1 MR series/);
  });

  it('QC-MR-FIELD-STRENGTH-LOW (info) below 1 T, reading gauss as tesla', () => {
    expect(byCode(run(mrSeries('T1 SAG', 'sagittal', { MagneticFieldStrength: 0.35 })), 'QC-MR-FIELD-STRENGTH-LOW')?.severity).toBe('info');
    expect(codes(run(mrSeries('T1 SAG', 'sagittal', { MagneticFieldStrength: 15000 })))).toEqual([]);
  });

  it('QC-MR-PLANE-UNKNOWN when neither ImageOrientationPatient nor the description tells the plane', () => {
    expect(codes(run(mrSeries('T2 weighted', null)))).toEqual(['QC-MR-PLANE-UNKNOWN']);
    expect(codes(run(mrSeries('T2 矢状位', null)))).toEqual([]);
  });

  it('QC-MR-SEQUENCE-UNIDENTIFIED (info) when neither description nor TR/TE tell the weighting', () => {
    expect(byCode(run(mrSeries('Series 5', 'axial')), 'QC-MR-SEQUENCE-UNIDENTIFIED')?.severity).toBe('info');
    expect(codes(run(mrSeries('Series 5', 'axial', { RepetitionTime: 500, EchoTime: 12 })))).toEqual([]);
  });

  it('QC-MR-DWI-BVALUES-MISSING and QC-MR-DWI-BVALUE-LOW', () => {
    expect(codes(run(mrSeries('ep2d_diff_tra', 'axial')))).toEqual(['QC-MR-DWI-BVALUES-MISSING']);
    expect(codes(run(mrSeries('DWI', 'axial', { DiffusionBValue: 300 })))).toEqual(['QC-MR-DWI-BVALUE-LOW']);
    expect(codes(run(mrSeries('DWI b1000', 'axial', { DiffusionBValue: 1000 })))).toEqual([]);
    // An ADC map is not a DWI acquisition.
    expect(codes(run(mrSeries('ep2d_diff_tra_ADC', 'axial')))).toEqual([]);
  });

  it('identifies weightings from vendor and Chinese descriptions, and from TR/TE/TI', () => {
    const w = (d: string, extra = {}) => mrWeightingsOf(mrSeries(d, 'axial', extra));
    expect(w('t2_tirm_tra_dark-fluid')).toEqual(['FLAIR']);
    expect(w('AX T2 FLAIR')).toEqual(['FLAIR']);
    expect(w('Sag T1 FLAIR')).toEqual(['T1']);
    expect(w('横断位T2WI')).toEqual(['T2']);
    expect(w('PD FS COR')).toEqual(['PD']);
    expect(w('3D TOF')).toEqual(['MRA']);
    expect(w('SWI')).toEqual(['SWI']);
    expect(w('x', { RepetitionTime: 9000, EchoTime: 90, InversionTime: 2500 })).toEqual(['FLAIR']);
    expect(w('x', { RepetitionTime: 4000, EchoTime: 100 })).toEqual(['T2']);
    expect(w('AAHScout', { ImageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'] })).toEqual([]);
  });

  it('reads the plane from the slice normal', () => {
    expect(planeOf(undefined, { ImageOrientationPatient: [0, 1, 0, 0, 0, -1] })).toBe('sagittal');
    expect(planeOf(undefined, { ImageOrientationPatient: [1, 0, 0, 0, 0, -1] })).toBe('coronal');
    expect(planeOf(undefined, { ImageOrientationPatient: [1, 0, 0, 0, 0.96, -0.28] })).toBe('axial');
  });
});
