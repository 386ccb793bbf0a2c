import { loadCatalogs } from '../../../catalogs/index';
import { classifyStudyAll } from '../../../core/recognition/classify';
import { studyEvidence } from '../../../core/recognition/evidence';
import { CY, XJ, ZJ, classify, codes, series, textOnly } from './helpers';

describe('text-only RIS evidence', () => {
  it.each([
    ['CT', '右股骨CT平扫+三维', ['CY2025-088'], ['XJHRYX-CT0513'], ['BQ23ZUZZZ-00']],
    ['DX', '胸部正侧位', ['CY2025-002'], ['XJHRYX-DR0528'], ['BW03ZZZ8B-00']],
    ['MR', '头颅MRI平扫+DWI', ['CY2025-116'], ['XJHRYX-MR0119'], ['B030ZMZZZ-00']],
    ['MR', 'MR L-SPINE W/O', ['CY2025-120'], ['XJHRYX-MR0209'], ['BR39ZYZZZ-00']],
    ['CT', 'CTA HEAD/NECK', [], ['XJHRYX-CT0907'], ['B32R1WZZZ-00']],
    ['DX', '双膝关节正侧位', ['CY2025-013', 'CY2025-014'], ['XJHRYX-DR0507', 'XJHRYX-DR0520'], ['BQ07ZZZ0B-00', 'BQ08ZZZ0B-00']],
  ])('%s %s', (modality, description, cy, xj, zj) => {
    const results = classifyStudyAll(studyEvidence(textOnly(modality, description)), loadCatalogs());
    expect(results.map(codes)).toEqual([cy, xj, zj]);
    for (const r of results.filter((x) => x.items.length)) {
      expect(r.items[0].evidence).toContainEqual(expect.objectContaining({ tag: 'StudyDescription', value: description, used_for: 'target' }));
    }
  });

  it('maps 腰椎间盘CT where the catalog lists it, and offers the lumbar CT for review where it does not', () => {
    expect(codes(classify(textOnly('CT', '腰椎间盘CT'), XJ))).toEqual(['XJHRYX-CT0211']);
    const r = classify(textOnly('CT', '腰椎间盘CT'), CY);
    expect(r.status).toBe('needs_review');
    expect(r.candidates.map((c) => c.code)).toEqual(['CY2025-097']);
  });
});

describe('multi-region studies', () => {
  it('maps a CT chest + abdomen study to 胸部 and 上腹部', () => {
    for (const d of ['胸部+上腹部CT平扫', '胸腹部CT平扫', 'CT CHEST/ABDOMEN W/O']) {
      expect(codes(classify(textOnly('CT', d), CY))).toEqual(['CY2025-083', 'CY2025-094']);
      expect(codes(classify(textOnly('CT', d), ZJ))).toEqual(['BW23ZYZZZ-00', 'BW26ZYZZZ-00']);
    }
  });

  it('prefers a combined item to its parts, and maps the parts where no combined item exists', () => {
    expect(codes(classify(textOnly('CT', '上下腹部CT平扫'), XJ))).toEqual(['XJHRYX-CT0708']);
    expect(codes(classify(textOnly('CT', '全腹部CT平扫'), CY))).toEqual(['CY2025-083', 'CY2025-084', 'CY2025-086']);
    expect(codes(classify(textOnly('CT', '全腹部CT平扫'), XJ))).toEqual(['XJHRYX-CT0704']);
  });

  it('keeps the recognised part of a study whose other part needs review', () => {
    const r = classify(textOnly('CT', '胸部CT平扫+上腹部CT增强'), ZJ);
    expect(r.status).toBe('needs_review');
    expect(codes(r)).toEqual(['BW23ZYZZZ-00']);
    expect(r.candidates.map((c) => c.code)).toContain('BW2610ZZZ-00');
  });

  it('maps routine and added MR components (DWI refines, SWI and TOF are items of their own)', () => {
    const mr = [
      ...series(2, 1, { Modality: 'MR', StudyDescription: 'MR HEAD W/O', SeriesDescription: 't2_tse_tra' }),
      ...series(2, 2, { Modality: 'MR', StudyDescription: 'MR HEAD W/O', SeriesDescription: 'ep2d_diff_3scan_trace', DiffusionBValue: 1000 }),
      ...series(2, 3, { Modality: 'MR', StudyDescription: 'MR HEAD W/O', SeriesDescription: 't2_swi_tra' }),
      ...series(2, 4, { Modality: 'MR', StudyDescription: 'MR HEAD W/O', SeriesDescription: 'tof_fl3d_tra' }),
    ];
    expect(codes(classify(mr, XJ))).toEqual(['XJHRYX-MR0119', 'XJHRYX-MR0121', 'XJHRYX-MR0122']);
    expect(codes(classify(mr, ZJ))).toEqual(['B030ZMZZZ-00', 'B33RZWZZZ-00']);
  });
});

describe('DR projections', () => {
  const dx = (description: string | undefined, views: string[], extra: Record<string, unknown> = {}) =>
    series(views.length, 1, { Modality: 'DX', ...(description ? { StudyDescription: description } : {}), ...extra }, (i) => ({ ViewPosition: views[i] }));

  it('needs both projections for a 正侧位 item; tagged images decide over the text', () => {
    expect(codes(classify(dx('右膝关节正侧位', ['AP', 'LAT'], { ImageLaterality: 'R' }), XJ))).toEqual(['XJHRYX-DR0507']);
    // The order says 正侧位 but only the AP image came: the 正位 item, not the 正侧位 one.
    expect(codes(classify(dx('右膝关节正侧位', ['AP'], { ImageLaterality: 'R' }), XJ))).toEqual(['XJHRYX-DR0508']);
    expect(classify(dx('右膝关节正侧位', ['AP'], { ImageLaterality: 'R' }), CY).status).toBe('not_applicable');
  });

  it('uses the text when only text is present, and sends unstated projections to review', () => {
    expect(codes(classify(textOnly('DX', '颈椎张口位'), CY))).toEqual(['CY2025-027']);
    expect(classify(textOnly('DX', 'XR KNEE RT 2V'), CY).status).toBe('needs_review');
  });

  it('maps several DR items from one study when their projections differ', () => {
    expect(codes(classify(dx('XR C-SPINE 4V', ['AP', 'LL', 'RAO', 'LAO']), CY))).toEqual(['CY2025-019', 'CY2025-026']);
    expect(codes(classify(dx('颈椎过伸过屈位', ['LL', 'LL']), ZJ))).toEqual(['BR00ZZZEA-00']);
  });

  it('requires a stated posture where the item has one (立位 / 卧位 abdomen)', () => {
    expect(codes(classify(textOnly('DX', '立位腹部平片'), CY))).toEqual(['CY2025-024']);
    expect(classify(dx('XR ABDOMEN', ['AP']), CY).status).toBe('needs_review');
  });
});

describe('not applicable', () => {
  it.each([
    ['US', '腹部彩超'],
    ['PT', 'PET/CT WHOLE BODY'],
    ['RF', '上消化道钡餐造影'],
    ['DX', '骨密度测定'],
    ['DX', '静脉肾盂造影'],
    ['CT', 'CT引导下肺穿刺活检'],
    ['OT', '腹部B超'],
  ])('%s %s', (modality, description) => {
    for (const r of classifyStudyAll(studyEvidence(textOnly(modality, description)), loadCatalogs())) {
      expect(r.status).toBe('not_applicable');
      expect(r.items).toEqual([]);
      expect(r.reasons.length).toBeGreaterThan(0);
    }
  });

  it('reads 造影 as contrast on CT, not as a fluoroscopic study', () => {
    expect(codes(classify(textOnly('CT', '颅脑CT血管造影'), ZJ))).toEqual(['B32R1WZZZ-00']);
  });

  it('sends a study without a recognisable body part to review', () => {
    for (const input of [textOnly('CT', 'CT检查'), series(2, 1, { Modality: 'CT' })]) {
      const r = classify(input, CY);
      expect(r.status).toBe('needs_review');
      expect(r.reasons).toContain('no examined body part recognised');
    }
  });
});

describe('local mapping', () => {
  const study = {
    Modality: 'CT',
    StudyDescription: '胸部CT',
    ProcedureCodeSequence: [{ CodeValue: 'CT9', CodingSchemeDesignator: '99HOSP', CodeMeaning: '胸部CT' }],
  };

  it('overrides the classifier and is recorded as the evidence', () => {
    const r = classify(study, CY, { localMapping: (q) => (q.procedureCodes.some((c) => c.value === 'CT9') ? ['CY2025-107'] : undefined) });
    expect(r.status).toBe('mapped');
    expect(codes(r)).toEqual(['CY2025-107']);
    expect(r.items[0].confidence).toBe(1);
    expect(r.items[0].evidence[0]).toEqual({ tag: 'LocalMapping', value: 'chuanyu-2025: CY2025-107', used_for: 'local_mapping' });
    expect(r.items[0].evidence).toContainEqual({ tag: 'ProcedureCodeSequence', value: 'CT9 (99HOSP) 胸部CT', used_for: 'local_mapping_key' });
    expect(r.reasons).toContain('classifier alone: mapped (CY2025-094)');
  });

  it('falls back to the classifier without a hit, and maps nothing for an empty hit', () => {
    expect(codes(classify(study, CY, { localMapping: () => undefined }))).toEqual(['CY2025-094']);
    expect(classify(study, CY, { localMapping: () => [] }).status).toBe('not_applicable');
  });

  it('sends a mapping to an unknown code or another modality to review', () => {
    expect(classify(study, CY, { localMapping: () => ['CY2099-001'] }).status).toBe('needs_review');
    expect(classify(study, CY, { localMapping: () => ['CY2025-116'] }).status).toBe('needs_review');
  });
});
