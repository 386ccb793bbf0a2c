import { checkCatalogs } from '../../../catalogs/check';
import { CATALOG_SOURCES } from '../../../catalogs/index';
import type { Catalog } from '../../../catalogs/schema';

/** A deep copy of the bundled sources that a test may break. */
const sources = () => structuredClone(CATALOG_SOURCES) as Record<string, Catalog>;
const errorsOf = (s: Record<string, unknown>) => checkCatalogs(s).errors;

describe('catalogs:check', () => {
  it('passes on the bundled catalogs and reports their figures', () => {
    const { reports, errors } = checkCatalogs();
    expect(errors).toEqual([]);
    expect(reports.map((r) => [r.id, r.items, r.reasons])).toEqual([
      ['chuanyu-2025', 141, 0],
      ['xinjiang', 298, 9],
      ['zhejiang-2021', 180, 10],
    ]);
    expect(reports.map((r) => r.byModality)).toEqual([
      { DR: 63, MG: 3, CT: 49, MR: 26 },
      { DR: 97, MG: 1, CT: 110, MR: 90 },
      { DR: 67, MG: 3, CT: 70, MR: 40 },
    ]);
  });

  it('reports a schema failure with its path instead of throwing', () => {
    const s = sources();
    Reflect.deleteProperty(s.xinjiang.items[3], 'nameEn');
    expect(errorsOf(s)).toEqual(['xinjiang: schema: items.3.nameEn: Invalid input: expected string, received undefined']);
  });

  it('catches count, sequence, code and format errors', () => {
    const s = sources();
    const cy = s['chuanyu-2025'];
    cy.items.pop(); // 140 items, seq still 1..140
    cy.items[9].seq = 11; // gap
    cy.items[20].code = cy.items[21].code; // duplicate
    cy.items[30].code = 'CY25-031'; // wrong format
    s.xinjiang.itemCount = 297;
    expect(errorsOf(s)).toEqual([
      'chuanyu-2025: 140 items transcribed, itemCount says 141',
      'chuanyu-2025: item 10 (CY2025-010) has seq 11: 序号 must run 1..N without gaps',
      'chuanyu-2025: code CY2025-022 used by more than one item',
      'chuanyu-2025: CY25-031: does not match codeFormat ^CY2025-\\d{3}$',
      'xinjiang: itemCount 297, but the document lists 298 items',
      'xinjiang: 298 items transcribed, itemCount says 297',
    ]);
  });

  it('catches unstructured or contradictory items', () => {
    const s = sources();
    const zj = s['zhejiang-2021'].items;
    zj[0].targets = ['abdomen', 'belly'];
    zj[1].views = [];
    zj[2].contrast = 'plain';
    zj[70].views = ['ap'];
    zj[70].contrast = 'none';
    zj[71].techniques = ['mrcp'];
    zj[4].laterality = 'left'; // 右髋关节正侧位
    zj[78].contrast = 'plain'; // 盆腔增强
    zj[11].flags[0].code = zj[11].code;
    expect(errorsOf(s)).toEqual([
      'zhejiang-2021: BW00ZZZ80-00: target "belly" is not a key of TARGETS',
      'zhejiang-2021: BW00ZZZ00-00: DR item has no view',
      'zhejiang-2021: BR0DZZZ00-00: contrast "plain" on a DR item',
      'zhejiang-2021: BQ00ZZZ0B-00: name 右髋关节正侧位 but laterality "left"',
      'zhejiang-2021: BR0LZZZRB-00: flag code "BR0LZZZRB-00" is not a snake_case kind (e.g. part_code_mismatch)',
      'zhejiang-2021: BW21ZYZZZ-00: CT item has views ap',
      'zhejiang-2021: BW21ZYZZZ-00: contrast "none" on a CT item',
      'zhejiang-2021: BW21ZYZZZ-00: name 全腹部CT平扫 says 平扫 but contrast is "none"',
      'zhejiang-2021: BW2110ZZZ-00: technique mrcp does not apply to CT',
      'zhejiang-2021: BW2G10ZZZ-00: name 盆腔增强 says 增强 but contrast is "plain"',
    ]);
  });

  it('checks corrections against the published and corrected text', () => {
    const s = sources();
    s.xinjiang.corrections.push({ item: 'XJHRYX-XX0000', field: 'name', from: 'a', to: 'b', why: 'test' });
    s.xinjiang.corrections[1].from = '头颅正侧位DR'; // not what was published
    s['zhejiang-2021'].corrections[0].to = '髋髂关节正位'; // not what nameZh says
    expect(errorsOf(s)).toEqual([
      'xinjiang: XJHRYX-DR0104: correction "头颅正侧位DR" not found in published name',
      'xinjiang: correction refers to unknown item XJHRYX-XX0000',
      'zhejiang-2021: BR0DZZZ00-00: corrected name does not contain "髋髂关节正位"',
    ]);
  });

  it('checks reason counts, rule codes and codes across catalogs', () => {
    const s = sources();
    s.xinjiang.nonRecognitionReasons.pop();
    s['zhejiang-2021'].scopeRules[1].code = s['zhejiang-2021'].scopeRules[0].code;
    s['zhejiang-2021'].items[0].code = 'CY2025-001';
    s['zhejiang-2021'].codeFormat = '.*';
    expect(errorsOf(s)).toEqual([
      'xinjiang: 8 non-recognition reasons, the document lists 9',
      'zhejiang-2021: scope rule code ZJ-SCOPE-01 used twice',
      'zhejiang-2021: CY2025-001: code also used by catalog chuanyu-2025',
    ]);
  });

  it('catches crosswalk decisions orphaned by a catalog edit', () => {
    const s = sources();
    s['zhejiang-2021'].items.find((i) => i.code === 'BW2110ZZZ-00')!.code = 'BW2110ZZZ-01';
    expect(errorsOf(s)).toEqual([
      ['crosswalk: crosswalk-overrides.json:', '  add CY2025-108 ↔ BW2110ZZZ-00: unknown code', '  add XJHRYX-CT0705 ↔ BW2110ZZZ-00: unknown code'].join('\n'),
    ]);
  });
});
