import { CY, XJ, ZJ, classify, codes, series, textOnly } from './helpers';

describe('laterality must agree exactly', () => {
  it('maps a left knee MR to the left item and never to the right one', () => {
    for (const [catalog, left, right] of [
      [CY, 'CY2025-122', 'CY2025-123'],
      [XJ, 'XJHRYX-MR0515', 'XJHRYX-MR0508'],
      [ZJ, 'BQ38ZYZZZ-00', 'BQ37ZYZZZ-00'],
    ] as const) {
      const r = classify(textOnly('MR', '左膝关节MRI平扫'), catalog);
      expect(r.status).toBe('mapped');
      expect(codes(r)).toEqual([left]);
      expect(r.items[0].runnersUp.find((u) => u.code === right)?.confidence ?? 0).toBeLessThan(0.1);
    }
  });

  it('takes the side from Laterality tags when the text has none', () => {
    const r = classify(series(3, 1, { Modality: 'MR', StudyDescription: 'MR KNEE', SeriesDescription: 'pd_tse_fs_sag', Laterality: 'L' }), XJ);
    expect(codes(r)).toEqual(['XJHRYX-MR0515']);
    expect(r.items[0].evidence).toContainEqual({ tag: 'Laterality', value: 'L ×3', used_for: 'laterality' });
  });

  it('sends a sided examination without a side to review, with both sides as candidates', () => {
    const r = classify(textOnly('MR', '膝关节MRI平扫'), CY);
    expect(r.status).toBe('needs_review');
    expect(r.items).toEqual([]);
    expect(r.candidates.map((c) => c.code).sort()).toEqual(['CY2025-122', 'CY2025-123']);
  });

  it('sends text and tags that disagree on the side to review', () => {
    const r = classify(
      series(2, 1, { Modality: 'DX', StudyDescription: '左腕关节正侧位', ImageLaterality: 'R' }, (i) => ({ ViewPosition: ['PA', 'LAT'][i] })),
      ZJ,
    );
    expect(r.status).toBe('needs_review');
    expect(r.items).toEqual([]);
    expect(r.reasons.join()).toMatch(/left wrist, the images are tagged right/);
  });

  it('maps both sides of a bilateral study to the bilateral item, else to each side', () => {
    expect(codes(classify(textOnly('DX', '双腕关节正侧位'), XJ))).toEqual(['XJHRYX-DR0404']);
    expect(codes(classify(textOnly('DX', '双腕关节正侧位'), CY))).toEqual(['CY2025-008', 'CY2025-009']);
  });

  it('maps any side to an item that does not state one (川渝 髋关节正位) — and says so in the confidence', () => {
    const r = classify(textOnly('DX', '左髋关节正位'), CY);
    expect(codes(r)).toEqual(['CY2025-012']);
    expect(r.items[0].confidence).toBeLessThan(0.85);
  });
});

describe('contrast must agree', () => {
  it('never maps a plain CT to a contrast item', () => {
    expect(codes(classify(textOnly('CT', '胸部CT平扫'), CY))).toEqual(['CY2025-094']);
    expect(codes(classify(textOnly('CT', 'CT CHEST W/O IV CONTRAST'), XJ))).toEqual(['XJHRYX-CT0603']);
    // A catalog with only the enhanced item: nothing to map.
    const r = classify(textOnly('CT', '肾上腺CT平扫'), CY);
    expect(r.status).toBe('not_applicable');
    expect(r.items).toEqual([]);
  });

  it('sends an enhanced study to review when the catalog lists only the plain exam', () => {
    const r = classify(textOnly('MR', '左膝关节MRI增强'), XJ);
    expect(r.status).toBe('needs_review');
    expect(r.candidates.map((c) => c.code)).toEqual(['XJHRYX-MR0515']);
  });

  it('treats a description that says plain while the series carry a contrast agent as a conflict', () => {
    const r = classify(
      series(2, 1, { Modality: 'CT', StudyDescription: '胸部CT平扫', SeriesDescription: 'Thorax 5.0 B31f', ContrastBolusAgent: 'Omnipaque' }),
      CY,
    );
    expect(r.status).toBe('needs_review');
    expect(r.items).toEqual([]);
  });

  it('takes a study with no contrast word, agent or phase anywhere as plain, with lower confidence', () => {
    const r = classify(textOnly('CT', '胸部CT'), CY);
    expect(codes(r)).toEqual(['CY2025-094']);
    expect(r.items[0].confidence).toBeLessThan(classify(textOnly('CT', '胸部CT平扫'), CY).items[0].confidence);
  });

  it('does not assume plain when the examination usually includes contrast', () => {
    expect(classify(textOnly('MR', 'MRI PROSTATE MULTIPARAMETRIC'), XJ).status).toBe('needs_review');
  });
});

describe('浙江 增强 (= 平扫加增强) needs the plain phase shown', () => {
  it('maps 平扫+增强 and W/WO', () => {
    expect(codes(classify(textOnly('CT', '上腹部CT平扫+增强'), ZJ))).toEqual(['BW2610ZZZ-00']);
    expect(codes(classify(textOnly('CT', 'CT CHEST W/WO'), ZJ))).toEqual(['BW2310ZZZ-00']);
  });

  it('sends a description saying only 增强 to review, offering the 增强 item', () => {
    const r = classify(textOnly('CT', '上腹部CT增强'), ZJ);
    expect(r.status).toBe('needs_review');
    expect(r.items).toEqual([]);
    expect(r.candidates.map((c) => c.code)).toContain('BW2610ZZZ-00');
    // 川渝 and 新疆 list 增强 as contrast: the same study maps there.
    expect(codes(classify(textOnly('CT', '上腹部CT增强'), CY))).toEqual(['CY2025-105']);
  });

  it('maps 增强 when the series show the plain phase', () => {
    const ct = [
      ...series(2, 1, { Modality: 'CT', StudyDescription: '上腹部CT增强', SeriesDescription: 'Abdomen 5.0 B30f' }),
      ...series(2, 2, { Modality: 'CT', StudyDescription: '上腹部CT增强', SeriesDescription: 'Abdomen 5.0 B30f', ContrastBolusAgent: 'Iohexol' }),
    ];
    expect(codes(classify(ct, ZJ))).toEqual(['BW2610ZZZ-00']);
    const mr = [
      ...series(2, 1, { Modality: 'MR', StudyDescription: '头颅MRI增强', SeriesDescription: 't2_tse_tra' }),
      ...series(2, 2, { Modality: 'MR', StudyDescription: '头颅MRI增强', SeriesDescription: 't1_se_tra +C' }),
    ];
    expect(codes(classify(mr, ZJ))).toEqual(['B03050ZZZ-00']);
  });

  it('does not map 增强 when every series is post-contrast', () => {
    const ct = [
      ...series(2, 1, { Modality: 'CT', StudyDescription: '上腹部CT增强', SeriesDescription: 'Arterial' }),
      ...series(2, 2, { Modality: 'CT', StudyDescription: '上腹部CT增强', SeriesDescription: 'Portal Venous' }),
    ];
    expect(classify(ct, ZJ).status).toBe('needs_review');
  });
});
