import { checkDr, deviationIndex } from '../../../core/quality/checks/dr';
import { byCode, codes, ctStack, image, input, item, series } from './fixtures';

const dx = (extra: Record<string, unknown>) => image('DX', extra);
const run = (images: Array<Record<string, unknown>>, extra: Parameters<typeof input>[0] = {}) =>
  checkDr(input({ series: [series('DX', null, images)], ...extra }));

describe('quality: DR / CR / MG', () => {
  it('finds nothing in complete radiographs, and nothing at all in a CT study', () => {
    expect(run([dx({ ViewPosition: 'PA' }), dx({ ViewPosition: 'LL' })])).toEqual([]);
    expect(checkDr(input({ series: [ctStack('Head', 3)] }))).toEqual([]);
  });

  it('QC-DR-VIEW-MISSING: no ViewPosition (a ViewCodeSequence will do)', () => {
    const bare = dx({ ViewPosition: undefined });
    expect(byCode(run([bare, dx({})]), 'QC-DR-VIEW-MISSING')).toMatchObject({ severity: 'warn', instances: [bare.SOPInstanceUID] });
    const coded = dx({ ViewPosition: undefined, ViewCodeSequence: [{ CodeValue: 'R-10206', CodeMeaning: 'antero-posterior' }] });
    expect(codes(run([coded]))).not.toContain('QC-DR-VIEW-MISSING');
  });

  it('QC-DR-BODYPART-MISSING', () => {
    expect(codes(run([dx({ BodyPartExamined: undefined })]))).toEqual(['QC-DR-BODYPART-MISSING']);
    expect(codes(run([dx({ BodyPartExamined: 'CHEST' })]))).toEqual([]);
  });

  it('QC-DR-LATERALITY-MISSING: a paired part, mammography, or an item with a side needs ImageLaterality or Laterality', () => {
    expect(codes(run([dx({ BodyPartExamined: 'KNEE' })]))).toEqual(['QC-DR-LATERALITY-MISSING']);
    expect(codes(run([dx({ BodyPartExamined: 'KNEE', ImageLaterality: 'L' })]))).toEqual([]);
    expect(codes(run([dx({ BodyPartExamined: 'KNEE', Laterality: 'R' })]))).toEqual([]);
    expect(codes(run([dx({ BodyPartExamined: 'CHEST' })]))).toEqual([]);
    // 左侧膝关节正侧位摄影 names a side even when the body part says nothing.
    expect(codes(run([dx({ BodyPartExamined: 'EXTREMITY' })], { mappedItems: [item('CY2025-013')] }))).toContain('QC-DR-LATERALITY-MISSING');
    const mg = checkDr(input({ series: [series('MG', null, [image('MG', { ViewPosition: 'MLO', BodyPartExamined: 'BREAST' })])] }));
    expect(codes(mg)).toEqual(['QC-DR-LATERALITY-MISSING']);
  });

  it('QC-DR-EXPOSURE-DEVIATION: |DI| > 3, from DeviationIndex or from EI and its target', () => {
    const over = dx({ DeviationIndex: 4.2 });
    expect(byCode(run([over, dx({ DeviationIndex: -0.5 })]), 'QC-DR-EXPOSURE-DEVIATION')).toMatchObject({ severity: 'warn', instances: [over.SOPInstanceUID] });
    expect(codes(run([dx({ DeviationIndex: 2.9 })]))).toEqual([]);
    expect(deviationIndex(dx({ ExposureIndex: 1000, TargetExposureIndex: 250 }))).toBeCloseTo(6.02, 1);
    expect(codes(run([dx({ ExposureIndex: 100, TargetExposureIndex: 400 })]))).toEqual(['QC-DR-EXPOSURE-DEVIATION']);
    expect(codes(run([dx({ ExposureIndex: 300 })]))).toEqual([]);
  });
});
