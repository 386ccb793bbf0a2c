import { checkItemRequirements } from '../../../core/quality/checks/item-requirements';
import { byCode, codes, ctStack, image, input, item, mrSeries, series } from './fixtures';

const dxSeries = (...views: Array<string | undefined | Record<string, unknown>>) =>
  series(
    'DX',
    null,
    views.map((v) => image('DX', typeof v === 'object' ? v : { ViewPosition: v, BodyPartExamined: 'CSPINE' })),
  );

// 颈椎正侧位: 新疆 XJHRYX-DR0208, 川渝 CY2025-019.
const XJ_CSPINE_AP_LAT = 'XJHRYX-DR0208';
const CY_CSPINE_AP_LAT = 'CY2025-019';

describe('quality: what the mapped item requires', () => {
  it('checks nothing while the study is not mapped', () => {
    expect(checkItemRequirements(input({ series: [dxSeries('AP')] }))).toEqual([]);
  });

  describe('DR projections', () => {
    it('正侧位 with AP and lateral images passes', () => {
      expect(checkItemRequirements(input({ series: [dxSeries('AP', 'LL')], mappedItems: [item(XJ_CSPINE_AP_LAT)] }))).toEqual([]);
      expect(checkItemRequirements(input({ series: [dxSeries('PA', 'LATERAL')], mappedItems: [item(CY_CSPINE_AP_LAT)] }))).toEqual([]);
    });

    it('正侧位 with one image: too few — fail under 新疆 (XJ-REQ-05/08), warn under 川渝', () => {
      const xj = byCode(checkItemRequirements(input({ series: [dxSeries('AP')], mappedItems: [item(XJ_CSPINE_AP_LAT)] })), 'QC-ITEM-DR-IMAGES-TOO-FEW');
      expect(xj).toMatchObject({ severity: 'fail', basis: ['XJ-REQ-05', 'XJ-REQ-08'] });
      expect(xj!.message.zh).toContain('正位、侧位');
      const cy = byCode(checkItemRequirements(input({ series: [dxSeries('AP')], mappedItems: [item(CY_CSPINE_AP_LAT)] })), 'QC-ITEM-DR-IMAGES-TOO-FEW');
      expect(cy?.severity).toBe('warn');
      expect(cy?.basis).toBeUndefined();
    });

    it('正侧位 with two images of the same projection: incomplete (needs different ViewPositions)', () => {
      const findings = checkItemRequirements(input({ series: [dxSeries('AP', 'AP')], mappedItems: [item(XJ_CSPINE_AP_LAT)] }));
      expect(codes(findings)).toEqual(['QC-ITEM-DR-VIEWS-INCOMPLETE']);
      expect(findings[0]).toMatchObject({ severity: 'fail' });
      expect(findings[0].message.en).toMatch(/missing: lateral/);
      expect(
        byCode(checkItemRequirements(input({ series: [dxSeries('AP', 'AP')], mappedItems: [item(CY_CSPINE_AP_LAT)] })), 'QC-ITEM-DR-VIEWS-INCOMPLETE')
          ?.severity,
      ).toBe('warn');
    });

    it('cannot verify views the images do not state (warn, never fail)', () => {
      const findings = checkItemRequirements(input({ series: [dxSeries('AP', undefined)], mappedItems: [item(XJ_CSPINE_AP_LAT)] }));
      expect(codes(findings)).toEqual(['QC-ITEM-DR-VIEWS-UNVERIFIED']);
      expect(findings[0].severity).toBe('warn');
    });

    it('reads projections from ViewCodeSequence and from descriptions when ViewPosition is absent', () => {
      const coded = { ViewCodeSequence: [{ CodeMeaning: 'lateral' }], BodyPartExamined: 'CSPINE' };
      const described = { ProtocolName: '颈椎正位', BodyPartExamined: 'CSPINE' };
      expect(checkItemRequirements(input({ series: [dxSeries(coded, described)], mappedItems: [item(XJ_CSPINE_AP_LAT)] }))).toEqual([]);
    });

    it('双斜位 needs two obliques; 过伸过屈位 needs flexion and extension laterals', () => {
      // CY2025-026 颈椎双斜位, CY2025-038 颈椎过伸过屈位
      expect(codes(checkItemRequirements(input({ series: [dxSeries('LAO')], mappedItems: [item('CY2025-026')] })))).toEqual(['QC-ITEM-DR-IMAGES-TOO-FEW']);
      expect(checkItemRequirements(input({ series: [dxSeries('LAO', 'RAO')], mappedItems: [item('CY2025-026')] }))).toEqual([]);
      const flexExt = dxSeries(
        { ViewPosition: 'LL', ProtocolName: 'C-spine flexion', BodyPartExamined: 'CSPINE' },
        { ViewPosition: 'LL', ProtocolName: 'C-spine extension', BodyPartExamined: 'CSPINE' },
      );
      expect(checkItemRequirements(input({ series: [flexExt], mappedItems: [item('CY2025-038')] }))).toEqual([]);
      const twoFlexions = dxSeries(
        { ViewPosition: 'LL', ProtocolName: '颈椎过屈位', BodyPartExamined: 'CSPINE' },
        { ViewPosition: 'LL', ProtocolName: '颈椎过屈位', BodyPartExamined: 'CSPINE' },
      );
      expect(codes(checkItemRequirements(input({ series: [twoFlexions], mappedItems: [item('CY2025-038')] })))).toEqual(['QC-ITEM-DR-VIEWS-INCOMPLETE']);
    });

    it('ignores patient positions (立位腹部平片 needs one image, any projection)', () => {
      expect(checkItemRequirements(input({ series: [dxSeries('AP')], mappedItems: [item('CY2025-024')] }))).toEqual([]);
    });

    it('QC-ITEM-LATERALITY-MISMATCH when the images are marked the other side (warn)', () => {
      // CY2025-013 左侧膝关节正侧位摄影
      const right = (v: string) => ({ ViewPosition: v, BodyPartExamined: 'KNEE', ImageLaterality: 'R' });
      const findings = checkItemRequirements(input({ series: [dxSeries(right('AP'), right('LL'))], mappedItems: [item('CY2025-013')] }));
      expect(codes(findings)).toEqual(['QC-ITEM-LATERALITY-MISMATCH']);
      expect(findings[0].severity).toBe('warn');
      const left = (v: string) => ({ ...right(v), ImageLaterality: 'L' });
      expect(checkItemRequirements(input({ series: [dxSeries(left('AP'), left('LL'))], mappedItems: [item('CY2025-013')] }))).toEqual([]);
    });

    it('QC-ITEM-IMAGES-ABSENT when the study has no image of the item’s modality', () => {
      const findings = checkItemRequirements(input({ series: [ctStack('Head', 5)], mappedItems: [item(XJ_CSPINE_AP_LAT)] }));
      expect(findings).toEqual([expect.objectContaining({ code: 'QC-ITEM-IMAGES-ABSENT', severity: 'fail' })]);
    });
  });

  describe('contrast', () => {
    // CY2025-103 头部CT增强扫描 (contrast), BW2310ZZZ-00 浙江 胸部增强 (plain_and_contrast), CY2025-092 头部CT平扫 (plain)
    it('a contrast item without a post-contrast series: QC-ITEM-CONTRAST-MISSING', () => {
      const findings = checkItemRequirements(input({ series: [ctStack('Head 5mm', 20)], mappedItems: [item('CY2025-103')] }));
      expect(codes(findings)).toEqual(['QC-ITEM-CONTRAST-MISSING']);
      expect(findings[0].severity).toBe('warn');
      const enhanced = ctStack('Head 5mm', 20, { ContrastBolusAgent: 'Iohexol' });
      expect(checkItemRequirements(input({ series: [ctStack('Head 5mm', 20), enhanced], mappedItems: [item('CY2025-103')] }))).toEqual([]);
    });

    it('recognises post-contrast series by phase wording too, and plain wording wins over a copied agent', () => {
      const venous = ctStack('静脉期 5mm', 20);
      expect(checkItemRequirements(input({ series: [venous], mappedItems: [item('CY2025-103')] }))).toEqual([]);
      const plainWithAgent = ctStack('平扫 5mm', 20, { ContrastBolusAgent: 'Iohexol' });
      expect(codes(checkItemRequirements(input({ series: [plainWithAgent], mappedItems: [item('CY2025-103')] })))).toEqual(['QC-ITEM-CONTRAST-MISSING']);
    });

    it('平扫加增强 (浙江) needs both phases; missing ones fail under ZJ-REQ-02/03', () => {
      const lung = { ConvolutionKernel: 'B70f' };
      const onlyEnhanced = [
        ctStack('C+ Lung', 40, { ...lung, ContrastBolusAgent: 'Iohexol' }),
        ctStack('C+ Mediastinum', 40, { ContrastBolusAgent: 'Iohexol' }),
      ];
      const findings = checkItemRequirements(input({ series: onlyEnhanced, mappedItems: [item('BW2310ZZZ-00')] }));
      expect(codes(findings)).toEqual(['QC-ITEM-PLAIN-MISSING']);
      expect(findings[0]).toMatchObject({ severity: 'fail', basis: ['ZJ-REQ-02', 'ZJ-REQ-03'] });
      const onlyPlain = [ctStack('Lung', 40, lung), ctStack('Mediastinum', 40)];
      expect(codes(checkItemRequirements(input({ series: onlyPlain, mappedItems: [item('BW2310ZZZ-00')] })))).toEqual(['QC-ITEM-CONTRAST-MISSING']);
    });

    it('a plain item with contrast agent in the images: QC-ITEM-CONTRAST-UNEXPECTED (warn, a mapping question)', () => {
      const findings = checkItemRequirements(input({ series: [ctStack('Head', 20, { ContrastBolusAgent: 'Iohexol' })], mappedItems: [item('CY2025-092')] }));
      expect(codes(findings)).toEqual(['QC-ITEM-CONTRAST-UNEXPECTED']);
      expect(findings[0].severity).toBe('warn');
    });
  });

  describe('MR sequences', () => {
    const lumbar = (...s: ReturnType<typeof mrSeries>[]) => input({ series: s, mappedItems: [item('XJHRYX-MR0209')] });

    it('lumbar spine with sagittal T1, sagittal T2 and axial T2 passes', () => {
      expect(checkItemRequirements(lumbar(mrSeries('t1_tse_sag', 'sagittal'), mrSeries('t2_tse_sag', 'sagittal'), mrSeries('t2_tse_tra', 'axial')))).toEqual(
        [],
      );
    });

    it('lumbar spine missing axial T2: QC-ITEM-MR-SEQUENCE-MISSING, fail under 新疆, warn under 川渝', () => {
      const findings = checkItemRequirements(lumbar(mrSeries('t1_tse_sag', 'sagittal'), mrSeries('t2_tse_sag', 'sagittal')));
      expect(codes(findings)).toEqual(['QC-ITEM-MR-SEQUENCE-MISSING']);
      expect(findings[0]).toMatchObject({ severity: 'fail', basis: ['XJ-REQ-05', 'XJ-REQ-08'] });
      expect(findings[0].message.zh).toContain('横断位T2WI');
      const cy = checkItemRequirements(
        input({ series: [mrSeries('t1_tse_sag', 'sagittal'), mrSeries('t2_tse_sag', 'sagittal')], mappedItems: [item('CY2025-120')] }),
      );
      expect(cy).toEqual([expect.objectContaining({ code: 'QC-ITEM-MR-SEQUENCE-MISSING', severity: 'warn' })]);
    });

    it('cannot verify a requirement when a series is unidentifiable (warn)', () => {
      const findings = checkItemRequirements(lumbar(mrSeries('t1_tse_sag', 'sagittal'), mrSeries('t2_tse_sag', 'sagittal'), mrSeries('Series 7', 'axial')));
      expect(codes(findings)).toEqual(['QC-ITEM-MR-SEQUENCE-UNVERIFIED']);
      expect(findings[0].severity).toBe('warn');
    });

    it('brain: T1, T2, FLAIR required; DWI recommended, required for 头颅平扫（含DWI）', () => {
      const base = [mrSeries('T1 TRA', 'axial'), mrSeries('T2 TRA', 'axial'), mrSeries('FLAIR TRA', 'axial')];
      expect(codes(checkItemRequirements(input({ series: base, mappedItems: [item('XJHRYX-MR0118')] })))).toEqual(['QC-ITEM-MR-SEQUENCE-RECOMMENDED']);
      const withDwi = checkItemRequirements(input({ series: base, mappedItems: [item('XJHRYX-MR0119')] }));
      expect(withDwi).toEqual([expect.objectContaining({ code: 'QC-ITEM-MR-SEQUENCE-MISSING', severity: 'fail' })]);
      const complete = [...base, mrSeries('DWI', 'axial', { DiffusionBValue: 1000 })];
      expect(checkItemRequirements(input({ series: complete, mappedItems: [item('XJHRYX-MR0119')] }))).toEqual([]);
      const noFlair = checkItemRequirements(input({ series: [mrSeries('T1 TRA', 'axial'), mrSeries('T2 TRA', 'axial')], mappedItems: [item('B030ZYZZZ-00')] }));
      expect(byCode(noFlair, 'QC-ITEM-MR-SEQUENCE-MISSING')).toMatchObject({ severity: 'fail', basis: ['ZJ-REQ-02', 'ZJ-REQ-03'] });
    });

    it('a technique-only item (头颅TOF MRA) needs its technique, not the routine set', () => {
      expect(checkItemRequirements(input({ series: [mrSeries('3D TOF', 'axial')], mappedItems: [item('XJHRYX-MR0122')] }))).toEqual([]);
      expect(codes(checkItemRequirements(input({ series: [mrSeries('T2 TRA', 'axial')], mappedItems: [item('XJHRYX-MR0122')] })))).toEqual([
        'QC-ITEM-MR-SEQUENCE-MISSING',
      ]);
    });

    it('knee: T1 plus fluid-sensitive sequences in two planes', () => {
      const knee = (...s: ReturnType<typeof mrSeries>[]) => checkItemRequirements(input({ series: s, mappedItems: [item('XJHRYX-MR0515')] }));
      expect(knee(mrSeries('T1 SAG', 'sagittal'), mrSeries('PD FS SAG', 'sagittal'), mrSeries('PD FS COR', 'coronal'))).toEqual([]);
      expect(codes(knee(mrSeries('T1 SAG', 'sagittal'), mrSeries('PD FS SAG', 'sagittal')))).toEqual(['QC-ITEM-MR-SEQUENCE-MISSING']);
    });
  });

  describe('CT', () => {
    const lung = (extra = {}) => ctStack('Lung 1.0', 40, { ConvolutionKernel: 'B70f', ...extra });
    const mediastinum = (extra = {}) => ctStack('Mediastinum 1.0', 40, { ConvolutionKernel: 'B30f', ...extra });

    it('chest with lung and mediastinal reconstructions passes', () => {
      expect(checkItemRequirements(input({ series: [lung(), mediastinum()], mappedItems: [item('XJHRYX-CT0603')] }))).toEqual([]);
    });

    it('chest with only one kernel: QC-ITEM-CT-RECON-MISSING (fail under 新疆, warn under 川渝)', () => {
      const xj = checkItemRequirements(input({ series: [lung()], mappedItems: [item('XJHRYX-CT0603')] }));
      expect(xj).toEqual([expect.objectContaining({ code: 'QC-ITEM-CT-RECON-MISSING', severity: 'fail' })]);
      expect(xj[0].message.zh).toContain('纵隔窗');
      const cy = checkItemRequirements(input({ series: [mediastinum()], mappedItems: [item('CY2025-094')] }));
      expect(cy).toEqual([expect.objectContaining({ code: 'QC-ITEM-CT-RECON-MISSING', severity: 'warn' })]);
      expect(cy[0].message.en).toMatch(/missing: lung window/);
    });

    it('QC-ITEM-CT-RECON-UNVERIFIED when a series’ kernel and window are unknown', () => {
      const unknown = ctStack('Series 3', 40, { ConvolutionKernel: undefined });
      expect(codes(checkItemRequirements(input({ series: [lung(), unknown], mappedItems: [item('XJHRYX-CT0603')] })))).toEqual(['QC-ITEM-CT-RECON-UNVERIFIED']);
    });

    it('thin slice (≤ 1.25 mm) where the item requires it: missing, unverified', () => {
      // 浙江 BB24ZBZZZ-00 肺高分辨率平扫 (high_resolution)
      const thick = [lung({ SliceThickness: 5 }), mediastinum({ SliceThickness: 5 })];
      const missing = checkItemRequirements(input({ series: thick, mappedItems: [item('BB24ZBZZZ-00')] }));
      expect(missing).toEqual([expect.objectContaining({ code: 'QC-ITEM-CT-THIN-SLICE-MISSING', severity: 'fail' })]);
      expect(missing[0].message.en).toMatch(/thinnest series is 5 mm/);
      const unknown = [lung({ SliceThickness: undefined }), mediastinum({ SliceThickness: 5 })];
      expect(codes(checkItemRequirements(input({ series: unknown, mappedItems: [item('BB24ZBZZZ-00')] })))).toEqual(['QC-ITEM-CT-THIN-SLICE-UNVERIFIED']);
      expect(checkItemRequirements(input({ series: [lung({ SliceThickness: 1.25 }), mediastinum()], mappedItems: [item('BB24ZBZZZ-00')] }))).toEqual([]);
    });

    it('QC-ITEM-CT-COVERAGE-SHORT (warn) when the chest scan covers too little', () => {
      const short = [ctStack('Lung', 10, { ConvolutionKernel: 'B70f' }), ctStack('Mediastinum', 10)];
      const findings = checkItemRequirements(input({ series: short, mappedItems: [item('XJHRYX-CT0603')] }));
      expect(findings).toEqual([expect.objectContaining({ code: 'QC-ITEM-CT-COVERAGE-SHORT', severity: 'warn' })]);
    });

    it('QC-ITEM-CT-3D-MISSING (warn) for items with 3D reconstruction and no reformatted images', () => {
      // 浙江 BQ28ZUZZZ-00 左膝关节平扫 (thin_slice, 3d_reconstruction)
      const thin = ctStack('Knee 0.625', 60, { SliceThickness: 0.625, ConvolutionKernel: 'BONE', ImageLaterality: 'L' }, 0.625);
      expect(codes(checkItemRequirements(input({ series: [thin], mappedItems: [item('BQ28ZUZZZ-00')] })))).toEqual(['QC-ITEM-CT-3D-MISSING']);
      const vr = ctStack('VR 3D', 1, { ImageType: ['DERIVED', 'SECONDARY', 'VOLUME'] });
      expect(checkItemRequirements(input({ series: [thin, vr], mappedItems: [item('BQ28ZUZZZ-00')] }))).toEqual([]);
    });
  });
});
