import overrides from '../../../catalogs/crosswalk-overrides.json';
import { buildCrosswalk, crosswalk } from '../../../catalogs/crosswalk';
import { findItem, loadCatalogs } from '../../../catalogs/index';

const cw = crosswalk();
const item = (code: string) => findItem(code)!.item;
const allPairs = loadCatalogs().flatMap((c) => c.items.flatMap((i) => cw.equivalents(i.code).map((e) => [i.code, e])));

describe('crosswalk: known equivalences', () => {
  it.each([
    // [川渝, 新疆, 浙江] — null where a catalog has no such item
    ['颈椎正侧位', 'CY2025-019', 'XJHRYX-DR0208', 'BR00ZZZ8B-00'],
    ['头颅正侧位 (DR: skull)', 'CY2025-036', 'XJHRYX-DR0104', 'BN00ZZZ1B-00'],
    ['头颅 CT 平扫 (brain)', 'CY2025-092', 'XJHRYX-CT0123', 'B020ZYZZZ-00'],
    ['胸腰段 junction', 'CY2025-043', 'XJHRYX-DR0211', 'BR08ZZZ0B-00'],
    ['眼眶 CT: unstated side = both orbits', 'CY2025-072', 'XJHRYX-CT0125', 'BN23ZYZZZ-00'],
    ['颞骨 CT: 高分辨 is reconstruction', 'CY2025-070', 'XJHRYX-CT0118', 'BN2FZBZZZ-00'],
    ['右肱骨 CT: 薄层+3D is reconstruction', 'CY2025-075', 'XJHRYX-CT0404', 'BP2EZUZZZ-00'],
    ['头颅 CT 增强 (override: 平扫加增强)', 'CY2025-103', 'XJHRYX-CT0124', 'B02010ZZZ-00'],
    ['胸部正位 (override: PA)', 'CY2025-001', 'XJHRYX-DR0529', 'BW03ZZZZ1-00'],
    ['左膝 MRI 平扫', 'CY2025-122', 'XJHRYX-MR0515', 'BQ38ZYZZZ-00'],
    ['双乳轴斜位 (浙江 has CC+MLO only)', 'CY2025-062', 'XJHRYX-DR0542', null],
    ['腰骶段 (新疆 has none)', 'CY2025-044', null, 'BR0BZZZ0B-00'],
    ['全腹部 = 腹盆腔 (override)', null, 'XJHRYX-CT0704', 'BW21ZYZZZ-00'],
    ['骨龄', null, 'XJHRYX-DR0417', 'BP0PZPZZ1-00'],
  ])('%s', (_name, cy, xj, zj) => {
    const codes = [cy, xj, zj].filter((c): c is string => c !== null);
    for (const code of codes) expect(cw.equivalents(code)).toEqual(codes.filter((c) => c !== code));
  });

  it('keeps unstated sides, extra sequences and combined regions apart', () => {
    expect(cw.equivalents('CY2025-012')).toEqual([]); // 髋关节正位摄影, side not stated
    expect(cw.equivalents('CY2025-098')).toEqual([]); // 髋关节CT平扫, side not stated
    expect(cw.equivalents('XJHRYX-MR0119')).toEqual(['B030ZMZZZ-00']); // 含DWI only with +DWI
    expect(cw.equivalents('XJHRYX-CT0120')).toEqual([]); // 头颈部 (brain + neck)
  });

  it('pairs a left lateral chest film with the left one only', () => {
    expect(cw.equivalents('XJHRYX-DR0530')).toEqual(['BW03ZZZZ8-00']); // 胸部左侧位
    expect(cw.equivalents('XJHRYX-DR0527')).toEqual(['BW03ZZZZ9-00']); // 胸部右侧位
  });

  it('头颅 means the skull on DR and the brain on CT/MR in all three catalogs', () => {
    for (const c of loadCatalogs()) {
      for (const i of c.items.filter((x) => x.targets.includes('skull'))) expect(i.modality).toBe('DR');
    }
  });
});

describe('crosswalk: invariants', () => {
  it('is symmetric, across catalogs, within one modality', () => {
    for (const [a, b] of allPairs) {
      expect(cw.equivalents(b)).toContain(a);
      expect(findItem(a)!.catalog.id).not.toBe(findItem(b)!.catalog.id);
      expect(item(a).modality).toBe(item(b).modality);
    }
  });

  it('never pairs left with right, or one side with both', () => {
    for (const [a, b] of allPairs) {
      const sides = [item(a).laterality, item(b).laterality].sort().join('/');
      expect(['bilateral/left', 'bilateral/right', 'left/right']).not.toContain(sides);
      expect(/左/.test(item(a).nameZh) && /右/.test(item(b).nameZh)).toBe(false);
    }
  });

  it('never pairs a plain item with a contrast item', () => {
    for (const [a, b] of allPairs) expect(item(a).contrast === 'plain').toBe(item(b).contrast === 'plain');
  });

  it('leaves no near miss without a recorded decision', () => {
    expect(cw.unreviewed()).toEqual([]);
  });

  it('has the coverage documented in docs/catalogs.md', () => {
    expect(cw.coverage().map((r) => `${r.from}→${r.to} ${r.withEquivalent}/${r.items}`)).toEqual([
      'chuanyu-2025→xinjiang 113/141',
      'chuanyu-2025→zhejiang-2021 106/141',
      'xinjiang→chuanyu-2025 113/298',
      'xinjiang→zhejiang-2021 146/298',
      'zhejiang-2021→chuanyu-2025 106/180',
      'zhejiang-2021→xinjiang 146/180',
    ]);
  });
});

describe('crosswalk: override validation', () => {
  const build = (decision: string, pairs: [string, string][]) =>
    buildCrosswalk(loadCatalogs(), { decisions: [...overrides.decisions, { decision, reason: 'test', pairs }] });

  it.each([
    ['add', ['CY2025-004', 'XJHRYX-DR0303'], 'left and right are never equivalent'], // 左肩 vs 右肩正位
    ['add', ['CY2025-055', 'XJHRYX-DR0408'], 'one side and both sides are never equivalent'], // 双手 vs 右手正位
    ['add', ['CY2025-092', 'XJHRYX-CT0124'], 'a plain item is never equivalent to a contrast item'],
    ['add', ['CY2025-092', 'XJHRYX-MR0118'], 'different modalities'],
    ['add', ['CY2025-019', 'XJHRYX-DR0208'], 'already equivalent by attributes: drop the override'],
    ['distinct', ['CY2025-019', 'XJHRYX-DR0208'], 'already equivalent by attributes: use "remove"'],
    ['remove', ['CY2025-019', 'XJHRYX-DR0209'], 'not equivalent by attributes: nothing to remove'],
    ['add', ['CY2025-019', 'CY2025-020'], 'both items are in the same catalog'],
    ['add', ['CY2025-999', 'XJHRYX-DR0208'], 'unknown code'],
    ['distinct', ['CY2025-012', 'XJHRYX-DR0535'], 'pair decided twice'],
  ])('%s %j: %s', (decision, pair, message) => {
    expect(() => build(decision, [pair as [string, string]])).toThrow(message);
  });
});
