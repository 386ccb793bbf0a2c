import catalog from '../../catalogs/data/chuanyu-2025.json';
import { Catalog, type CatalogItem } from '../../catalogs/schema';
import { TARGETS } from '../../catalogs/targets';

const parsed = Catalog.parse(catalog);
const byCode = new Map(parsed.items.map((i) => [i.code, i]));
const get = (code: string): CatalogItem => {
  const it = byCode.get(code);
  if (!it) throw new Error(`missing ${code}`);
  return it;
};

describe('chuanyu-2025 catalog', () => {
  it('parses and has 141 items with huren-assigned codes CY2025-001..141', () => {
    expect(parsed.id).toBe('chuanyu-2025');
    expect(parsed.region).toEqual({ code: 'CY', zh: '川渝', en: 'Sichuan–Chongqing' });
    expect(parsed.itemCount).toBe(141);
    expect(parsed.items).toHaveLength(141);
    const re = new RegExp(parsed.codeFormat);
    parsed.items.forEach((it, i) => {
      expect(it.seq).toBe(i + 1);
      expect(it.code).toBe(`CY2025-${String(i + 1).padStart(3, '0')}`);
      expect(it.code).toMatch(re);
      expect(it.codeAssignedBy).toBe('huren');
      for (const t of it.targets) expect(Object.hasOwn(TARGETS, t)).toBe(true);
    });
  });

  it('validity is the document sentence: 1 month', () => {
    expect(parsed.validity).toEqual({ unit: 'months', value: 1, source: '川渝医学影像检查结果互认参考时限为1个月' });
  });

  it('states no rules the document does not contain', () => {
    expect(parsed.nonRecognitionReasons).toEqual([]);
    expect(parsed.scopeRules).toEqual([]);
    expect(parsed.requirements).toEqual([]);
  });

  // [code, published modality, published part, published name, modality, laterality, contrast, views, targets]
  const cases: [string, string, string, string, string, string, string, string[], string[]][] = [
    ['CY2025-001', 'DR', '胸部', '胸部站立后前位摄影', 'DR', 'none', 'none', ['pa', 'standing'], ['chest']],
    ['CY2025-002', 'DR', '胸部', '胸部站立后前位及侧位摄影', 'DR', 'none', 'none', ['pa', 'lateral', 'standing'], ['chest']],
    ['CY2025-004', 'DR', '肌骨', '左侧肩关节正位摄影', 'DR', 'left', 'none', ['ap'], ['shoulder']],
    ['CY2025-011', 'DR', '上肢', '右手正斜位摄影', 'DR', 'right', 'none', ['ap', 'oblique'], ['hand']],
    ['CY2025-012', 'DR', '肌骨', '髋关节正位摄影', 'DR', 'none', 'none', ['ap'], ['hip']],
    ['CY2025-022', 'DR', '脊柱', '骶尾椎正侧位摄影', 'DR', 'none', 'none', ['ap', 'lateral'], ['sacrococcygeal_spine']],
    ['CY2025-024', 'DR', '腹部', '立位腹部平片', 'DR', 'none', 'none', ['standing'], ['abdomen']],
    ['CY2025-025', 'DR', '腹部', '卧位腹部平片', 'DR', 'none', 'none', ['supine'], ['abdomen']],
    ['CY2025-026', 'DR', '脊柱', '颈椎双斜位', 'DR', 'none', 'none', ['bilateral_oblique'], ['cervical_spine']],
    ['CY2025-027', 'DR', '脊柱', '颈椎张口位', 'DR', 'none', 'none', ['open_mouth'], ['cervical_spine']],
    ['CY2025-028', 'DR', '脊柱', '腰椎过伸过屈位', 'DR', 'none', 'none', ['flexion_extension'], ['lumbar_spine']],
    ['CY2025-042', 'DR', '脊柱', '颈胸段脊柱正侧位', 'DR', 'none', 'none', ['ap', 'lateral'], ['cervicothoracic_spine']],
    ['CY2025-049', 'DR', '上肢', '右尺桡骨正侧位', 'DR', 'right', 'none', ['ap', 'lateral'], ['forearm']],
    ['CY2025-056', 'DR', '上肢', '双手正斜位', 'DR', 'bilateral', 'none', ['ap', 'oblique'], ['hand']],
    ['CY2025-057', 'DR', '下肢', '右髌骨侧轴位', 'DR', 'right', 'none', ['lateral', 'axial'], ['patella']],
    ['CY2025-060', 'DR', '下肢', '左跟骨轴侧位', 'DR', 'left', 'none', ['lateral', 'axial'], ['calcaneus']],
    ['CY2025-061', 'DR', '肌骨', '肋骨正斜位', 'DR', 'none', 'none', ['ap', 'oblique'], ['ribs']],
    ['CY2025-062', 'DR', '乳腺', '双乳轴斜位钼靶', 'MG', 'bilateral', 'none', ['mlo'], ['breast']],
    ['CY2025-064', 'DR', '乳腺', '右乳轴斜位钼靶', 'MG', 'right', 'none', ['mlo'], ['breast']],
    ['CY2025-066', 'DR', '肌骨', '左髋正侧位', 'DR', 'left', 'none', ['ap', 'lateral'], ['hip']],
    ['CY2025-070', 'CT', '头', '颞骨CT平扫', 'CT', 'none', 'plain', [], ['temporal_bone']],
    ['CY2025-082', 'CT', '肌骨', '胸锁关节CT平扫', 'CT', 'none', 'plain', [], ['sternoclavicular_joint']],
    ['CY2025-086', 'CT', '盆腔', '盆腔CT平扫', 'CT', 'none', 'plain', [], ['pelvic_cavity']],
    ['CY2025-087', 'CT', '肌骨', '双髋CT平扫', 'CT', 'bilateral', 'plain', [], ['hip']],
    ['CY2025-093', 'CT', '鼻部', '鼻部CT平扫', 'CT', 'none', 'plain', [], ['nose']],
    ['CY2025-100', 'CT', '下肢', '右侧足部CT平扫', 'CT', 'right', 'plain', [], ['foot']],
    ['CY2025-106', 'CT', '腹部', '盆腔CT增强扫描', 'CT', 'none', 'contrast', [], ['pelvic_cavity']],
    ['CY2025-108', 'CT', '腹部', '全腹部CT增强扫描', 'CT', 'none', 'contrast', [], ['abdomen']],
    ['CY2025-109', 'CT', '腹部', '肾上腺CT增强扫描', 'CT', 'none', 'contrast', [], ['adrenal']],
    ['CY2025-117', 'MR', '鞍区', '鞍区MRI平扫', 'MR', 'none', 'plain', [], ['sella']],
    ['CY2025-120', 'MR', '脊柱', '腰椎MR平扫', 'MR', 'none', 'plain', [], ['lumbar_spine']],
    ['CY2025-121', 'MR', '髋关节', '双侧髋关节MRI平扫', 'MR', 'bilateral', 'plain', [], ['hip']],
    ['CY2025-133', 'MR', '下肢', '左侧踝关节MRI增强扫描', 'MR', 'left', 'contrast', [], ['ankle']],
    ['CY2025-138', 'MR', '上肢', '右侧肩关节MRI增强扫描', 'MR', 'right', 'contrast', [], ['shoulder']],
    ['CY2025-139', 'MRI', '颈', '颈部MRI平扫', 'MR', 'none', 'plain', [], ['neck']],
    ['CY2025-141', 'MRI', '肌骨', '骶髂关节MRI平扫', 'MR', 'none', 'plain', [], ['sacroiliac_joint']],
  ];

  it.each(cases)('%s %s/%s/%s', (code, pMod, pPart, pName, modality, laterality, contrast, views, targets) => {
    const it = get(code);
    expect(it.published).toEqual({ modality: pMod, part: pPart, name: pName });
    expect(it.nameZh).toBe(pName); // the seed text has no OCR errors in names
    expect(it.modality).toBe(modality);
    expect(it.laterality).toBe(laterality);
    expect(it.contrast).toBe(contrast);
    expect([...it.views].sort()).toEqual([...views].sort());
    expect(it.targets).toEqual(targets);
    expect(it.techniques).toEqual([]);
  });

  it('patient group and English names', () => {
    expect(get('CY2025-003').patientGroup).toBe('infant');
    expect(get('CY2025-003').published.name).toBe('胸部（婴幼儿）正位摄影');
    expect(get('CY2025-004').nameEn).toBe('Left shoulder joint AP radiograph');
    expect(parsed.items.filter((i) => i.patientGroup)).toHaveLength(1);
  });

  it('modality counts', () => {
    const n = (m: string) => parsed.items.filter((i) => i.modality === m).length;
    expect([n('DR'), n('MG'), n('CT'), n('MR')]).toEqual([63, 3, 49, 26]);
  });

  it('OCR: the seed has no character or spacing errors, so no corrections are recorded', () => {
    expect(parsed.corrections).toEqual([]);
    for (const it of parsed.items) {
      expect(it.nameZh).toBe(it.published.name);
      expect(it.nameZh).not.toMatch(/\s|[甑橈髏撷顺胶髄懺]/);
    }
    // characters that OCR elsewhere garbles are correct in this text
    expect(get('CY2025-022').nameZh).toContain('骶');
    expect(get('CY2025-049').nameZh).toContain('桡');
    expect(get('CY2025-059').nameZh).toBe('左髌骨侧轴位');
    expect(get('CY2025-070').nameZh).toContain('颞');
    expect(get('CY2025-141').nameZh).toBe('骶髂关节MRI平扫');
  });

  it('flags inconsistent published columns', () => {
    expect(get('CY2025-106').flags.map((f) => f.code)).toEqual(['part_mismatch']);
    for (const c of ['CY2025-139', 'CY2025-140', 'CY2025-141']) expect(get(c).flags.map((f) => f.code)).toEqual(['modality_label_variant']);
    expect(get('CY2025-012').flags.map((f) => f.code)).toEqual(['laterality_unstated']);
    expect(get('CY2025-098').flags.map((f) => f.code)).toEqual(['laterality_unstated', 'overlap']);
    expect(parsed.items.filter((i) => i.flags.length)).toHaveLength(6);
  });
});
