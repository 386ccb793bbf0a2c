import { canonicalJson, diffCatalogs } from '../../../catalogs/diff';
import { findItem, getCatalog, loadCatalogs } from '../../../catalogs/index';
import { searchItems } from '../../../catalogs/search';
import { displayWidth, formatTable } from '../../../catalogs/table';

const codes = (query: string) => searchItems(query).map((r) => r.item.code);

describe('loadCatalogs / getCatalog / findItem', () => {
  it('parses the three catalogs once', () => {
    expect(loadCatalogs()).toBe(loadCatalogs());
    expect(loadCatalogs().map((c) => [c.id, c.items.length])).toEqual([
      ['chuanyu-2025', 141],
      ['xinjiang', 298],
      ['zhejiang-2021', 180],
    ]);
  });

  it('finds catalogs by id and items by code', () => {
    expect(getCatalog('xinjiang')?.validity).toMatchObject({ unit: 'days', value: 30 });
    expect(getCatalog('XJ')).toBeUndefined();
    const found = findItem('BR00ZZZ8B-00');
    expect([found?.catalog.id, found?.item.nameZh]).toEqual(['zhejiang-2021', '颈椎正侧位']);
    expect(findItem('br00zzz8b-00')).toBeUndefined();
  });
});

describe('searchItems', () => {
  it('finds Chinese names in every catalog', () => {
    expect(codes('颈椎正侧位')).toEqual(['CY2025-019', 'XJHRYX-DR0208', 'BR00ZZZ8B-00']);
  });

  it('ignores case and full-width forms, and needs every word', () => {
    expect(codes('ＣＴ　腰椎间盘')).toEqual(['XJHRYX-CT0211', 'BR23ZYZZZ-00']);
    expect(codes('LUMBAR DISC')).toEqual(codes('lumbar disc'));
    expect(codes('lumbar disc')).toEqual(['XJHRYX-CT0211', 'BR23ZYZZZ-00']);
  });

  it('matches codes, target names and published (uncorrected) text', () => {
    expect(codes('cy2025-14')).toEqual(['CY2025-140', 'CY2025-141']);
    expect(codes('sacroiliac mr')).toEqual(['CY2025-141', 'XJHRYX-MR0801', 'XJHRYX-MR0802', 'BR3DZYZZZ-00']);
    expect(codes('头顺正侧位')).toEqual(['XJHRYX-DR0104']); // OCR text as published
    expect(codes('   ')).toEqual([]);
  });
});

describe('diffCatalogs', () => {
  it('reports added, removed and changed items and header fields', () => {
    const a = getCatalog('chuanyu-2025')!;
    const b = structuredClone(a);
    b.version = '2026';
    b.validity = { ...b.validity, value: 2 };
    b.items = b.items.filter((i) => i.code !== 'CY2025-002');
    b.items[0].laterality = 'bilateral';
    b.items.push({ ...b.items[1], code: 'CY2025-142', seq: 142 });
    const d = diffCatalogs(a, b);
    expect(d.header).toEqual([{ field: 'validity', from: a.validity, to: b.validity }]);
    expect(d.added.map((i) => i.code)).toEqual(['CY2025-142']);
    expect(d.removed.map((i) => i.code)).toEqual(['CY2025-002']);
    expect(d.changed).toEqual([{ code: 'CY2025-001', changes: [{ field: 'laterality', from: 'none', to: 'bilateral' }] }]);
    expect(diffCatalogs(a, structuredClone(a))).toEqual({ header: [], added: [], removed: [], changed: [] });
  });

  it('compares JSON without regard to key order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: 3 } })).toBe('{"a":{"c":3,"d":[2,{"e":0,"f":1}]},"b":1}');
  });
});

describe('formatTable', () => {
  it('pads by display width: Chinese characters take two columns', () => {
    expect(displayWidth('颈椎CT')).toBe(6);
    expect(
      formatTable(
        ['代码 Code', 'x'],
        [
          ['颈椎', 1],
          ['ab', 22],
        ],
      ),
    ).toBe(['代码 Code  x', '---------  --', '颈椎       1', 'ab         22'].join('\n'));
  });
});
