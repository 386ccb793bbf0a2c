import { checkCt, zStack } from '../../../core/quality/checks/ct';
import { byCode, codes, ctStack, image, input, item, series } from './fixtures';

const run = (...stacks: ReturnType<typeof ctStack>[]) => checkCt(input({ series: stacks }));

describe('quality: CT', () => {
  it('finds nothing in a complete CT stack', () => {
    expect(run(ctStack('Head 5mm', 20))).toEqual([]);
  });

  it('QC-CT-SLICE-THICKNESS-MISSING, ignoring the localizer', () => {
    const stack = ctStack('Chest', 10, { SliceThickness: undefined });
    const findings = run(stack);
    expect(byCode(findings, 'QC-CT-SLICE-THICKNESS-MISSING')).toMatchObject({ severity: 'warn' });
    expect(byCode(findings, 'QC-CT-SLICE-THICKNESS-MISSING')!.instances).toHaveLength(10);
    expect(byCode(findings, 'QC-CT-SLICE-THICKNESS-MISSING')!.message.en).toMatch(/^10 CT image/);
    const scout = series('CT', 'Topogram 0.6 T20f', [image('CT', { ImageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'], SliceThickness: undefined })]);
    expect(codes(run(ctStack('Head', 10), scout))).toEqual([]);
  });

  it('QC-CT-KERNEL-MISSING per series', () => {
    expect(codes(run(ctStack('Head', 10, { ConvolutionKernel: undefined }), ctStack('Head bone', 10)))).toEqual(['QC-CT-KERNEL-MISSING']);
  });

  it('QC-CT-CTDI-MISSING (info) unless the images or a dose SR record the dose', () => {
    const findings = run(ctStack('Head', 10, { CTDIvol: undefined }));
    expect(byCode(findings, 'QC-CT-CTDI-MISSING')?.severity).toBe('info');
    const doseSr = series('SR', 'Dose Report', [{ SOPClassUID: '1.2.840.10008.5.1.4.1.1.88.67', SOPInstanceUID: '1.2.9', Modality: 'SR' }]);
    expect(codes(checkCt(input({ series: [ctStack('Head', 10, { CTDIvol: undefined }), doseSr] })))).toEqual([]);
  });

  it('QC-CT-Z-COVERAGE-UNKNOWN without image positions', () => {
    expect(codes(run(ctStack('Head', 10, { ImagePositionPatient: undefined })))).toEqual(['QC-CT-Z-COVERAGE-UNKNOWN']);
  });

  it('QC-CT-Z-GAP when slices are missing from a regular stack', () => {
    const stack = ctStack('Chest', 20);
    stack.instances.splice(8, 3);
    expect(byCode(run(stack), 'QC-CT-Z-GAP')).toMatchObject({ severity: 'warn' });
    expect(byCode(run(stack), 'QC-CT-Z-GAP')!.message.en).toMatch(/1 gap/);
  });

  it('measures z-coverage along the slice normal, plus one slice thickness', () => {
    const stack = ctStack('Chest', 41, { SliceThickness: 5 });
    expect(zStack(stack, stack.instances)?.coverageMm).toBe(205);
  });

  it('QC-CT-CHEST-WINDOWS-INCOMPLETE for an unmapped chest CT with one reconstruction only', () => {
    const lungOnly = ctStack('Lung 1mm', 30, { ConvolutionKernel: 'B70f', BodyPartExamined: 'CHEST' });
    const mediastinum = ctStack('Mediastinum 1mm', 30, { ConvolutionKernel: 'B30f', BodyPartExamined: 'CHEST' });
    const findings = run(lungOnly);
    expect(byCode(findings, 'QC-CT-CHEST-WINDOWS-INCOMPLETE')).toMatchObject({ severity: 'warn' });
    expect(byCode(findings, 'QC-CT-CHEST-WINDOWS-INCOMPLETE')!.message.zh).toContain('纵隔窗');
    expect(codes(run(lungOnly, mediastinum))).toEqual([]);
    // Once mapped to a CT item, the item's requirements take over (item-requirements.ts); a DR item does not.
    expect(codes(checkCt(input({ series: [lungOnly], mappedItems: [item('XJHRYX-CT0603')] })))).toEqual([]);
    expect(codes(checkCt(input({ series: [lungOnly], mappedItems: [item('CY2025-001')] })))).toEqual(['QC-CT-CHEST-WINDOWS-INCOMPLETE']);
  });

  it('takes a series with both a lung and a soft-tissue window preset as both reconstructions', () => {
    const both = ctStack('Thorax 1.0', 30, { ConvolutionKernel: 'B50f', BodyPartExamined: 'CHEST', WindowCenter: [40, -600], WindowWidth: [400, 1500] });
    expect(codes(run(both))).toEqual([]);
  });
});
