import catalog from '../../catalogs/data/zhejiang-2021.json';
import { Catalog, type CatalogItem } from '../../catalogs/schema';
import { isTargetKey } from '../../catalogs/targets';

/**
 * 浙卫发〔2021〕33号, 附件2 浙江省临床放射检查资料互认项目清单 (180 imaging items).
 * Expectations below are read off the seed document by hand.
 */
const parsed = Catalog.parse(catalog);
const byCode = new Map(parsed.items.map((i) => [i.code, i]));
const item = (code: string): CatalogItem => {
  const it = byCode.get(code);
  if (!it) throw new Error(`missing ${code}`);
  return it;
};

describe('zhejiang-2021 catalog: header', () => {
  it('parses with the Catalog schema and carries the document metadata', () => {
    expect(parsed.id).toBe('zhejiang-2021');
    expect(parsed.region).toEqual({ code: 'ZJ', zh: '浙江省', en: 'Zhejiang' });
    expect(parsed.document.number).toBe('浙卫发〔2021〕33号');
    expect(parsed.effectiveDate).toBe('2021-10-14');
    expect(parsed.validity.unit).toBe('days');
    expect(parsed.validity.value).toBe(30);
    expect(parsed.validity.source).toContain('30天内规范完整的检验、检查报告和相应影像资料');
  });

  it('has 180 items in 序号 order with unique codes matching codeFormat', () => {
    expect(parsed.itemCount).toBe(180);
    expect(parsed.items).toHaveLength(180);
    expect(parsed.items.map((i) => i.seq)).toEqual(Array.from({ length: 180 }, (_, k) => k + 1));
    const re = new RegExp(parsed.codeFormat);
    for (const i of parsed.items) {
      expect(i.code).toMatch(re);
      expect(i.codeAssignedBy).toBe('publisher');
      for (const t of i.targets) expect(isTargetKey(t)).toBe(true);
    }
    expect(new Set(parsed.items.map((i) => i.code)).size).toBe(180);
  });

  it('counts by modality (mammography normalised to MG)', () => {
    const n = (m: string) => parsed.items.filter((i) => i.modality === m).length;
    expect([n('DR'), n('MG'), n('CT'), n('MR')]).toEqual([67, 3, 70, 40]);
    expect(parsed.items.filter((i) => i.published.modality === 'DR')).toHaveLength(70);
  });
});

type Exp = Partial<
  Pick<CatalogItem, 'seq' | 'nameZh' | 'modality' | 'laterality' | 'contrast' | 'views' | 'techniques' | 'targets' | 'region' | 'patientGroup'>
>;
const cases: Array<[string, Exp]> = [
  ['BW00ZZZ80-00', { seq: 1, nameZh: '立位腹部平片', modality: 'DR', laterality: 'none', contrast: 'none', views: ['ap', 'standing'], targets: ['abdomen'] }],
  ['BW00ZZZ00-00', { seq: 2, nameZh: '卧位腹部平片', views: ['ap', 'supine', 'decubitus'], targets: ['abdomen'] }],
  ['BR0DZZZ00-00', { seq: 3, nameZh: '骶髂关节正位', modality: 'DR', laterality: 'bilateral', views: ['ap'], targets: ['sacroiliac_joint'], region: 'pelvis' }],
  ['BQ00ZZZ0B-00', { seq: 5, nameZh: '右髋关节正侧位', laterality: 'right', views: ['ap', 'lateral'], targets: ['hip'], region: 'lower_limb' }],
  ['BQ01ZZZ00-00', { seq: 8, nameZh: '左髋关节正位', laterality: 'left', views: ['ap'], targets: ['hip'] }],
  ['BR0FZZZ0B-00', { seq: 9, nameZh: '骶尾椎正侧位', views: ['ap', 'lateral'], targets: ['sacrococcygeal_spine'], region: 'spine' }],
  ['BR00ZZZEA-00', { seq: 10, nameZh: '颈椎过伸过屈位', views: ['flexion_extension'], targets: ['cervical_spine'] }],
  ['BR00ZZZ8F-00', { seq: 11, nameZh: '颈椎双斜位', views: ['bilateral_oblique'] }],
  ['BR0LZZZRB-00', { seq: 12, nameZh: '颈椎张口位', views: ['open_mouth'], targets: ['cervical_spine'] }],
  ['BR0BZZZ0B-00', { seq: 17, nameZh: '腰骶椎正侧位', targets: ['lumbosacral_spine'] }],
  ['BH02ZZZZG-00', { seq: 27, nameZh: '双侧乳腺', modality: 'MG', laterality: 'bilateral', contrast: 'none', targets: ['breast'] }],
  ['BH01ZZZZG-00', { seq: 29, modality: 'MG', laterality: 'left' }],
  ['BP0PZPZZ1-00', { seq: 30, nameZh: '骨龄', patientGroup: 'bone_age', laterality: 'left', views: ['ap'], targets: ['hand', 'wrist'] }],
  ['BP0JZZZZB-00', { seq: 32, nameZh: '右尺桡骨正侧位', laterality: 'right', targets: ['forearm'] }],
  ['BP0NZZZZE-00', { seq: 34, nameZh: '右手正斜位', views: ['ap', 'oblique'], targets: ['hand'] }],
  ['BQ09ZZZ8B-00', { seq: 46, nameZh: '双膝关节站立正侧位', laterality: 'bilateral', views: ['ap', 'lateral', 'standing'], targets: ['knee'] }],
  ['BQ0VZZZ12-00', { seq: 48, nameZh: '右髌骨轴位', laterality: 'right', views: ['axial'], targets: ['patella'] }],
  ['BQ0KZZZ0B-00', { seq: 56, nameZh: '左跟骨轴侧位', laterality: 'left', views: ['axial', 'lateral'], targets: ['calcaneus'] }],
  ['BW03ZZZZ1-00', { seq: 67, nameZh: '胸部正位', views: ['pa'], targets: ['chest'] }],
  ['BP02ZZZZ1-00', { seq: 70, nameZh: '胸锁关节正位', laterality: 'bilateral', views: ['pa'], targets: ['sternoclavicular_joint'] }],
  ['BW21ZYZZZ-00', { seq: 71, nameZh: '全腹部CT平扫', modality: 'CT', contrast: 'plain', views: [], targets: ['abdomen'] }],
  ['BW2110ZZZ-00', { seq: 72, nameZh: '全腹部CT增强', contrast: 'plain_and_contrast', techniques: [] }],
  ['BT241CZZZ-00', { seq: 73, nameZh: 'CT尿路成像', contrast: 'contrast', techniques: ['ctu'], targets: ['urinary_tract'] }],
  ['BR2DZYZZZ-00', { seq: 89, nameZh: '骶髂关节平扫', modality: 'CT', contrast: 'plain', targets: ['sacroiliac_joint'] }],
  ['BR23ZYZZZ-00', { seq: 93, nameZh: '腰椎间盘平扫', targets: ['lumbar_disc'] }],
  [
    'BP2KZUZZZ-00',
    { seq: 101, nameZh: '左尺桡骨平扫', laterality: 'left', contrast: 'plain', techniques: ['thin_slice', '3d_reconstruction'], targets: ['forearm'] },
  ],
  ['BN2FZBZZZ-00', { seq: 115, nameZh: '颞骨平扫', techniques: ['high_resolution'], targets: ['temporal_bone'] }],
  ['BN26ZUZZZ-00', { seq: 121, nameZh: '下颌骨平扫', targets: ['mandible'] }],
  ['BQ22ZYZZZ-00', { seq: 123, nameZh: '双髋关节平扫', laterality: 'bilateral', contrast: 'plain', targets: ['hip'] }],
  ['BB24ZDZZZ-00', { seq: 134, nameZh: '肺低剂量平扫', techniques: ['low_dose'], targets: ['lung'] }],
  [
    'B2211WZZZ-00',
    { seq: 139, nameZh: '冠脉CTA增强', modality: 'CT', contrast: 'contrast', techniques: ['cta'], targets: ['coronary_arteries'], region: 'vascular' },
  ],
  ['B32R1WZZZ-00', { seq: 140, nameZh: '头颅CTA增强', contrast: 'contrast', techniques: ['cta'], targets: ['intracranial_arteries'] }],
  ['BF34ZLZZZ-00', { seq: 141, nameZh: 'MRCP', modality: 'MR', contrast: 'plain', techniques: ['mrcp'], targets: ['biliary'] }],
  ['BR3FZYZZZ-00', { seq: 145, nameZh: '骶尾椎平扫', modality: 'MR', targets: ['sacrococcygeal_spine'] }],
  ['BR3MZYZZZ-00', { seq: 146, nameZh: '颈胸段脊柱平扫', targets: ['cervicothoracic_spine'] }],
  ['BR3DZYZZZ-00', { seq: 151, nameZh: '骶髂关节平扫', modality: 'MR', targets: ['sacroiliac_joint'] }],
  ['BR3CZYZZZ-00', { seq: 152, nameZh: '骨盆平扫', targets: ['bony_pelvis', 'hip'] }],
  ['B33RZWZZZ-00', { seq: 162, nameZh: '头颅MRA', contrast: 'plain', techniques: ['mra'], targets: ['intracranial_arteries'] }],
  ['B030ZMZZZ-00', { seq: 164, nameZh: '头颅平扫+DWI', contrast: 'plain', techniques: ['dwi'], targets: ['brain'] }],
  ['B0395NZZZ-00', { seq: 168, nameZh: '垂体动态增强', contrast: 'plain_and_contrast', techniques: ['dynamic'], targets: ['sella'] }],
  ['B03C50ZZZ-00', { seq: 169, nameZh: '内听道增强', contrast: 'plain_and_contrast', targets: ['internal_auditory_canal'] }],
  ['B835ZYZZZ-00', { seq: 170, nameZh: '右眼眶平扫', modality: 'MR', laterality: 'right', contrast: 'plain', targets: ['orbit'] }],
  ['BQ31ZYZZZ-00', { seq: 178, nameZh: '左髋平扫', laterality: 'left', targets: ['hip'] }],
  [
    'BH325NZ1Z-00',
    { seq: 180, nameZh: '乳腺动态增强', modality: 'MR', laterality: 'bilateral', contrast: 'plain_and_contrast', techniques: ['dynamic'], targets: ['breast'] },
  ],
];

describe('zhejiang-2021 catalog: hand-picked items', () => {
  it.each(cases)('%s', (code, exp) => {
    expect(item(code)).toMatchObject(exp);
  });

  it('DR/MG items have contrast none and views; CT/MR items have no views', () => {
    for (const i of parsed.items) {
      if (i.modality === 'DR' || i.modality === 'MG') {
        expect(i.contrast).toBe('none');
        expect(i.views.length).toBeGreaterThan(0);
      } else {
        expect(i.views).toEqual([]);
        expect(i.contrast).not.toBe('none');
      }
    }
  });

  it('浙江 增强 (defined in 项目释义 as 平扫加增强) is plain_and_contrast', () => {
    const enh = parsed.items.filter((i) => /增强/.test(i.nameZh) && !/CTA/.test(i.nameZh));
    expect(enh.length).toBe(28);
    for (const i of enh) {
      expect(i.descriptionZh).toMatch(/平扫加/);
      expect(i.contrast).toBe('plain_and_contrast');
    }
  });

  it('keeps the published columns verbatim', () => {
    expect(item('BR0DZZZ00-00').published).toEqual({
      modality: 'DR',
      part: '骨盆',
      name: '髄骼关节正位',
      description: 'X线髄骼关节前后位，包括双侧懺骼关节',
    });
    expect(item('BH02ZZZZG-00').published.modality).toBe('DR');
    expect(item('BN2FZBZZZ-00').published.description).toBe('CTM骨高分辨率扫描（平扫）');
    expect(item('BQ00ZZZ00-00').published.description).toBe('右髓关节正位');
  });
});

describe('zhejiang-2021 catalog: OCR corrections', () => {
  const corr = (code: string, field: string) => parsed.corrections.find((c) => c.item === code && c.field === field);

  it('髄/髓 is 髋 for hip codes (BQ, 4th char 0/1/2)', () => {
    for (const code of ['BQ00ZZZ0B-00', 'BQ00ZZZ00-00', 'BQ01ZZZ0B-00', 'BQ01ZZZ00-00', 'BQ22ZYZZZ-00', 'BQ30ZYZZZ-00', 'BQ31ZYZZZ-00']) {
      const c = corr(code, 'name');
      expect(c).toBeDefined();
      expect(c!.from).toMatch(/[髄髓]/);
      expect(c!.to).toMatch(/髋/);
      expect(item(code).nameZh).toMatch(/髋/);
      expect(item(code).targets).toContain('hip');
    }
    expect(corr('BR3CZYZZZ-00', 'description')).toMatchObject({ from: '骨盆MRI平扫，包括双侧髓关节', to: '骨盆MRI平扫，包括双侧髋关节' });
  });

  it('髄骼/懺骼 is 骶髂 and 髄尾椎/甑尾椎/能尾椎 is 骶尾椎 for axial-skeleton codes (BR, 4th char D/F)', () => {
    expect(corr('BR0DZZZ00-00', 'description')).toMatchObject({ to: 'X线骶髂关节前后位，包括双侧骶髂关节' });
    expect(corr('BR2DZYZZZ-00', 'name')).toMatchObject({ from: '髄骼关节平扫', to: '骶髂关节平扫' });
    expect(corr('BR3DZYZZZ-00', 'name')).toMatchObject({ from: '懺骼关节平扫', to: '骶髂关节平扫' });
    expect(corr('BR3DZYZZZ-00', 'description')).toMatchObject({ from: '髄骼关节MRI普通扫描', to: '骶髂关节MRI普通扫描' });
    expect(corr('BR0FZZZ0B-00', 'description')).toMatchObject({ from: '能尾椎正侧位', to: '骶尾椎正侧位' });
    expect(corr('BR2FZYZZZ-00', 'description')).toMatchObject({ from: '髄尾椎CT普通扫描', to: '骶尾椎CT普通扫描' });
    expect(corr('BR0BZZZ0B-00', 'name')).toMatchObject({ from: '腰甑椎正侧位', to: '腰骶椎正侧位' });
    expect(corr('BR2DZYZZZ-00', 'name')!.why).toMatch(/BR2D/);
  });

  it('橈→桡, 髏→髌, 撷/M→颞, T→下', () => {
    expect(corr('BP0JZZZZB-00', 'name')).toMatchObject({ from: '右尺橈骨正侧位', to: '右尺桡骨正侧位' });
    expect(corr('BQ0WZZZ12-00', 'name')).toMatchObject({ from: '左髏骨轴位', to: '左髌骨轴位' });
    expect(corr('BN2FZBZZZ-00', 'name')).toMatchObject({ from: '撷骨平扫', to: '颞骨平扫' });
    expect(corr('BN2FZBZZZ-00', 'description')).toMatchObject({ to: 'CT颞骨高分辨率扫描（平扫）' });
    expect(corr('BN26ZUZZZ-00', 'description')).toMatchObject({ from: 'CTT颌骨薄层扫描（3D处理）', to: 'CT下颌骨薄层扫描（3D处理）' });
  });

  it('every correction matches its item and no OCR residue remains in corrected fields', () => {
    expect(parsed.corrections).toHaveLength(45);
    for (const c of parsed.corrections) {
      const i = item(c.item);
      if (c.field === 'name') {
        expect(i.published.name).toBe(c.from);
        expect(i.nameZh).toBe(c.to);
      } else {
        expect(c.field).toBe('description');
        expect(i.published.description).toBe(c.from);
        expect(i.descriptionZh).toBe(c.to);
      }
    }
    for (const i of parsed.items) expect(i.nameZh + (i.descriptionZh ?? '')).not.toMatch(/[髄髓甑懺撷橈髏]|能尾|CTM|CTT/);
  });

  it('flags the inconsistent published columns', () => {
    expect(parsed.items.filter((i) => i.flags.length).map((i) => i.seq)).toEqual([12, 168, 180]);
    expect(item('B0395NZZZ-00').flags[0].note).toMatch(/五官/);
    // flag codes name the kind of inconsistency (as in the other catalogs), not the item
    expect(item('BR0LZZZRB-00').flags.map((f) => f.code)).toEqual(['name_code_mismatch']);
    expect(item('B0395NZZZ-00').flags.map((f) => f.code)).toEqual(['part_code_mismatch']);
    expect(item('BH325NZ1Z-00').flags.map((f) => f.code)).toEqual(['part_code_mismatch']);
  });
});

describe('zhejiang-2021 catalog: rules', () => {
  it('lists the 10 situations that may be excluded from recognition', () => {
    expect(parsed.nonRecognitionReasons.map((r) => r.code)).toEqual(Array.from({ length: 10 }, (_, k) => `ZJ-NR-${String(k + 1).padStart(2, '0')}`));
    const zh = parsed.nonRecognitionReasons.map((r) => r.zh);
    expect(zh[0]).toBe('因病情变化，已有的检验、检查结果难以反映病人当前实际病情的项目；');
    expect(zh[2]).toBe('检查、检验项目意义重大的，如手术、输血等重大医疗措施前的检查检验等；');
    expect(zh[5]).toBe('图像质量和方法不能满足诊断要求的医学影像学检查；');
    expect(zh[6]).toBe('急诊、急救等抢救生命的紧急状态下；');
    expect(zh[8]).toBe('司法、伤残及病退等鉴定所需的；');
    expect(zh[9]).toBe('其他符合诊疗需要，确需进行复查的情形。');
    for (const r of parsed.nonRecognitionReasons) expect(r.en.length).toBeGreaterThan(10);
  });

  it('encodes the institution scope rules of 二、(二)(三)', () => {
    const rule = (code: string) => parsed.scopeRules.find((r) => r.code === code)!;
    const hi = ['L3A', 'L3B', 'L2A'];
    const lo = ['L2B', 'L1', 'other'];
    expect(parsed.scopeRules.map((r) => r.code)).toEqual(['ZJ-SCOPE-01', 'ZJ-SCOPE-02', 'ZJ-SCOPE-03', 'ZJ-SCOPE-04']);
    expect(rule('ZJ-SCOPE-01')).toMatchObject({
      relation: 'any',
      strength: 'should',
      receiver: { levels: hi, kinds: ['hospital', 'independent_imaging_centre'] },
      sender: { levels: hi, kinds: ['hospital', 'independent_imaging_centre'] },
    });
    expect(rule('ZJ-SCOPE-01').source).toContain('全省二级甲等及以上医疗机构、独立第三方医学检测机构间');
    expect(rule('ZJ-SCOPE-01').en).toMatch(/laboratory tests only/);
    expect(rule('ZJ-SCOPE-02')).toMatchObject({ relation: 'any', strength: 'should', receiver: { levels: lo }, sender: { levels: lo } });
    expect(rule('ZJ-SCOPE-03')).toMatchObject({
      relation: 'any',
      strength: 'should',
      receiver: { levels: lo, kinds: ['hospital'] },
      sender: { levels: hi, kinds: ['hospital', 'independent_imaging_centre'] },
    });
    expect(rule('ZJ-SCOPE-03').source).toContain('并对二级甲等及以上医疗机构、独立第三方医学检测机构医学影像检查资料');
    expect(rule('ZJ-SCOPE-04')).toMatchObject({ relation: 'same_group', strength: 'should' });
    expect(rule('ZJ-SCOPE-04').source).toContain('城市医联体、县域医共体');
  });

  it('lists the requirements of 三(二) and 四(一)(二)', () => {
    const zh = parsed.requirements.map((r) => r.zh).join('');
    for (const s of ['检查过程规范', '序列完整', '图像清晰', '达到诊断要求', '患者基本信息和检查日期准确', '30天内', '机构名称、检查日期、档案号']) {
      expect(zh).toContain(s);
    }
    expect(parsed.requirements[0].code).toBe('ZJ-REQ-01');
  });
});
