import catalog from '../../catalogs/data/xinjiang.json';
import { Catalog, type CatalogItem } from '../../catalogs/schema';
import { isTargetKey } from '../../catalogs/targets';

/**
 * Hand-checked against 自治区医疗机构间影像检查互认标准（试行）(seed 001_b32f97255e3060c8.txt):
 * 新疆 catalog of 298 items coded XJHRYX-<DR|CT|MR><part><nn>.
 */
const parsed = Catalog.parse(catalog);
const byCode = new Map(parsed.items.map((i) => [i.code, i]));
const item = (code: string): CatalogItem => {
  const it = byCode.get(code);
  if (!it) throw new Error(`missing ${code}`);
  return it;
};

describe('xinjiang catalog: structure', () => {
  it('parses with the Catalog schema and has 298 items with unique published codes', () => {
    expect(parsed.id).toBe('xinjiang');
    expect(parsed.region).toEqual({
      code: 'XJ',
      zh: '新疆维吾尔自治区',
      en: 'Xinjiang',
    });
    expect(parsed.itemCount).toBe(298);
    expect(parsed.items).toHaveLength(298);
    expect(byCode.size).toBe(298);
    const re = new RegExp(parsed.codeFormat);
    for (const it of parsed.items) {
      expect(it.code).toMatch(re);
      expect(it.codeAssignedBy).toBe('publisher');
      for (const t of it.targets) expect(isTargetKey(t)).toBe(true);
    }
    expect(parsed.items.map((i) => i.seq)).toEqual(Array.from({ length: 298 }, (_, i) => i + 1));
  });

  it('counts by normalised modality', () => {
    const n = (m: string) => parsed.items.filter((i) => i.modality === m).length;
    expect([n('DR'), n('MG'), n('CT'), n('MR')]).toEqual([97, 1, 110, 90]);
  });

  it('has a 30-day validity quoted from the document', () => {
    expect(parsed.validity).toEqual({
      unit: 'days',
      value: 30,
      source: '检查结果互认时限为30日',
    });
  });

  it('DR/MG items have views and no contrast; CT/MR items have no views', () => {
    for (const it of parsed.items) {
      if (it.modality === 'DR' || it.modality === 'MG') {
        expect(it.views.length).toBeGreaterThan(0);
        expect(it.contrast).toBe('none');
      } else {
        expect(it.views).toEqual([]);
        expect(it.contrast).not.toBe('none');
      }
    }
  });
});

type Expect = Partial<Omit<CatalogItem, 'published' | 'flags'>> & {
  flags?: string[];
};
const cases: Record<string, Expect> = {
  'XJHRYX-DR0101': {
    seq: 1,
    nameZh: '鼻骨侧位DR',
    modality: 'DR',
    targets: ['nasal_bone'],
    views: ['lateral'],
    laterality: 'none',
  },
  'XJHRYX-DR0104': {
    seq: 4,
    nameZh: '头颅正侧位DR',
    targets: ['skull'],
    views: ['ap', 'lateral'],
  },
  'XJHRYX-DR0205': {
    nameZh: '颈椎过伸过展位DR',
    views: ['flexion_extension'],
    flags: ['nonstandard_wording'],
  },
  'XJHRYX-DR0206': {
    nameZh: '颈椎双斜位DR',
    views: ['bilateral_oblique'],
    targets: ['cervical_spine'],
  },
  'XJHRYX-DR0207': { nameZh: '颈椎张口位DR', views: ['open_mouth'] },
  'XJHRYX-DR0217': {
    nameZh: '腰椎过伸过屈位DR',
    views: ['flexion_extension'],
    targets: ['lumbar_spine'],
    flags: [],
  },
  'XJHRYX-DR0302': {
    nameZh: '右肩正侧位DR',
    nameEn: 'Right shoulder AP and lateral radiograph',
    laterality: 'right',
    targets: ['shoulder'],
    views: ['ap', 'lateral'],
  },
  'XJHRYX-DR0403': {
    nameZh: '双手正斜位DR',
    laterality: 'bilateral',
    views: ['ap', 'oblique'],
    targets: ['hand'],
  },
  'XJHRYX-DR0417': {
    seq: 48,
    nameZh: '左手腕正位DR（骨龄）',
    laterality: 'left',
    patientGroup: 'bone_age',
    targets: ['hand', 'wrist'],
    views: ['ap'],
  },
  'XJHRYX-DR0419': {
    seq: 50,
    nameZh: '左手正位DR',
    region: 'upper_limb',
    laterality: 'left',
  },
  'XJHRYX-DR0509': {
    nameZh: '右髌骨轴位DR',
    targets: ['patella'],
    views: ['axial'],
    laterality: 'right',
  },
  'XJHRYX-DR0513': {
    nameZh: '右跟骨轴侧位DR',
    targets: ['calcaneus'],
    views: ['lateral', 'axial'],
  },
  'XJHRYX-DR0518': {
    nameZh: '左胫骨正侧位DR',
    targets: ['tibia_fibula'],
    flags: ['possible_omission'],
  },
  'XJHRYX-DR0527': {
    seq: 83,
    nameZh: '胸部右侧位DR',
    region: 'chest',
    targets: ['chest'],
    laterality: 'none',
    views: ['lateral'],
    flags: ['part_code_mismatch'],
  },
  'XJHRYX-DR0533': {
    nameZh: '腹部站立正位DR',
    views: ['standing', 'ap'],
    flags: ['part_code_mismatch'],
  },
  'XJHRYX-DR0535': {
    nameZh: '双髋正位DR',
    targets: ['hip'],
    laterality: 'bilateral',
    flags: ['part_code_mismatch'],
  },
  'XJHRYX-DR0542': {
    seq: 98,
    nameZh: '双乳轴斜位钼靶',
    modality: 'MG',
    region: 'breast',
    laterality: 'bilateral',
    views: ['mlo'],
    flags: ['part_code_mismatch', 'modality_normalised'],
  },
  'XJHRYX-CT0101': {
    seq: 99,
    nameZh: '鞍区CT平扫',
    modality: 'CT',
    targets: ['sella'],
    contrast: 'plain',
    techniques: [],
  },
  'XJHRYX-CT0107': {
    nameZh: '鼻咽CT增强',
    contrast: 'contrast',
    targets: ['nasopharynx'],
  },
  'XJHRYX-CT0122': {
    nameZh: '头颅CT灌注',
    techniques: ['ct_perfusion'],
    targets: ['brain'],
  },
  'XJHRYX-CT0205': {
    nameZh: '胸腰段脊柱CT平扫（T11-L2）',
    targets: ['thoracolumbar_spine'],
    contrast: 'plain',
  },
  'XJHRYX-CT0211': { nameZh: '腰椎间盘CT平扫', targets: ['lumbar_disc'] },
  'XJHRYX-CT0405': {
    nameZh: '右肩CT平扫',
    laterality: 'right',
    targets: ['shoulder'],
    flags: ['part_code_mismatch'],
  },
  'XJHRYX-CT0601': {
    nameZh: '肺低剂量CT平扫',
    techniques: ['low_dose'],
    targets: ['lung'],
    contrast: 'plain',
  },
  'XJHRYX-CT0703': {
    nameZh: '尿路CT成像（CTU）',
    techniques: ['ctu'],
    contrast: 'contrast',
    targets: ['urinary_tract'],
  },
  'XJHRYX-CT0801': {
    seq: 172,
    nameZh: '骶髂关节CT平扫',
    targets: ['sacroiliac_joint'],
    region: 'pelvis',
  },
  'XJHRYX-CT0521': {
    seq: 196,
    nameZh: '左踝CT平扫',
    laterality: 'left',
    targets: ['ankle'],
    contrast: 'plain',
  },
  'XJHRYX-CT0501': {
    seq: 176,
    nameZh: '双大腿CT平扫',
    laterality: 'bilateral',
    targets: ['thigh'],
  },
  'XJHRYX-CT0903': {
    nameZh: '冠脉CTA',
    techniques: ['cta'],
    contrast: 'contrast',
    targets: ['coronary_arteries'],
    region: 'vascular',
  },
  'XJHRYX-CT0904': {
    nameZh: '门静脉系CTV',
    techniques: ['ctv'],
    contrast: 'contrast',
    targets: ['portal_vein'],
  },
  'XJHRYX-CT0906': {
    nameZh: '双下肢动脉CTA',
    laterality: 'bilateral',
    targets: ['lower_limb_arteries'],
  },
  'XJHRYX-CT0908': {
    seq: 208,
    nameZh: '胸腹主动脉CTA',
    targets: ['thoracic_aorta', 'abdominal_aorta'],
  },
  'XJHRYX-MR0112': {
    nameZh: '颈部TOFMRA',
    modality: 'MR',
    techniques: ['mra_tof'],
    contrast: 'plain',
    targets: ['carotid_arteries'],
  },
  'XJHRYX-MR0113': {
    nameZh: '内耳MRI平扫（含水成像）',
    techniques: ['mr_hydrography'],
    targets: ['inner_ear'],
  },
  'XJHRYX-MR0117': {
    nameZh: '头颅MRI灌注（ASL法）',
    techniques: ['mr_perfusion'],
    contrast: 'plain',
  },
  'XJHRYX-MR0119': {
    nameZh: '头颅MRI平扫（含DWI）',
    techniques: ['dwi'],
    contrast: 'plain',
    targets: ['brain'],
  },
  'XJHRYX-MR0121': { nameZh: '头颅SWI', techniques: ['swi'] },
  'XJHRYX-MR0123': {
    nameZh: '头颅静脉MRV',
    techniques: ['mrv'],
    targets: ['intracranial_veins'],
  },
  'XJHRYX-MR1001': {
    seq: 262,
    nameZh: '乳腺动态MRI增强',
    modality: 'MR',
    region: 'breast',
    techniques: ['dynamic'],
    contrast: 'contrast',
  },
  'XJHRYX-MR0707': {
    nameZh: '胰胆管MRI水成像（MRCP）',
    techniques: ['mrcp'],
    targets: ['biliary', 'pancreas'],
  },
  'XJHRYX-MR0403': {
    nameZh: '右上臂MRI平扫',
    targets: ['upper_arm'],
    laterality: 'right',
  },
  'XJHRYX-MR0517': {
    seq: 298,
    nameZh: '左小腿MRI增强',
    laterality: 'left',
    contrast: 'contrast',
    targets: ['lower_leg'],
  },
};

describe('xinjiang catalog: hand-picked items', () => {
  it.each(Object.entries(cases))('%s', (code, exp) => {
    const it = item(code);
    const { flags, ...rest } = exp;
    expect(it).toMatchObject(rest);
    if (flags) expect(it.flags.map((f) => f.code)).toEqual(flags);
  });

  it('keeps published columns verbatim, OCR errors included', () => {
    expect(item('XJHRYX-DR0104').published).toEqual({
      modality: 'DR',
      part: '头颅',
      name: '头顺正侧位DR',
    });
    expect(item('XJHRYX-DR0419').published.part).toBe('上胶');
    expect(item('XJHRYX-CT0521').published.name).toBe('左髁CT平扫');
    expect(item('XJHRYX-DR0102').published.name).toBe('鼻咽侧位 DR');
    expect(item('XJHRYX-DR0542').published).toEqual({
      modality: 'DR',
      part: '乳腺',
      name: '双乳轴斜位钼靶',
    });
    expect(item('XJHRYX-DR0534').published.part).toBe('骨盆');
    expect(item('XJHRYX-CT0123').published.part).toBe('头颈');
  });

  it('flags the chest/abdomen/pelvis/breast items published under part 05', () => {
    const mism = parsed.items.filter((i) => i.flags.some((f) => f.code === 'part_code_mismatch')).map((i) => i.code);
    for (let n = 27; n <= 42; n++) expect(mism).toContain(`XJHRYX-DR05${n}`);
    expect(mism).not.toContain('XJHRYX-DR0526');
  });
});

describe('xinjiang catalog: OCR corrections', () => {
  const corr = new Map(parsed.corrections.map((c) => [`${c.item}:${c.field}`, c]));
  it('records each substantive correction', () => {
    expect(corr.get('XJHRYX-DR0104:name')).toMatchObject({
      from: '头顺正侧位DR',
      to: '头颅正侧位DR',
    });
    expect(corr.get('XJHRYX-DR0419:part')).toMatchObject({
      from: '上胶',
      to: '上肢',
    });
    expect(corr.get('XJHRYX-CT0521:name')).toMatchObject({
      from: '左髁CT平扫',
      to: '左踝CT平扫',
    });
  });
  it('records stray-space removals', () => {
    const spacing = parsed.corrections.filter((c) => c.why.startsWith('OCR spacing'));
    expect(spacing.map((c) => c.item).sort()).toEqual(
      ['DR0102', 'DR0213', 'CT0107', 'CT0115', 'CT0209', 'CT0211', 'CT0408', 'CT0410', 'CT0414', 'CT0718', 'MR0123'].map((s) => `XJHRYX-${s}`).sort(),
    );
    for (const c of spacing) expect(c.to).toBe(c.from.replace(/ /g, ''));
  });
  it('every name correction maps the published name to nameZh', () => {
    for (const c of parsed.corrections.filter((x) => x.field === 'name')) {
      expect(item(c.item).published.name).toBe(c.from);
      expect(item(c.item).nameZh).toBe(c.to);
    }
    expect(parsed.corrections).toHaveLength(14);
  });
  it('leaves uncorrected names equal to the published name', () => {
    const corrected = new Set(parsed.corrections.filter((x) => x.field === 'name').map((c) => c.item));
    for (const it of parsed.items) if (!corrected.has(it.code)) expect(it.nameZh).toBe(it.published.name);
  });
});

describe('xinjiang catalog: rules', () => {
  it('lists the 9 non-recognition situations', () => {
    const r = parsed.nonRecognitionReasons;
    expect(r.map((x) => x.code)).toEqual(Array.from({ length: 9 }, (_, i) => `XJ-NR-0${i + 1}`));
    expect(r[0].zh).toBe('因病情变化，影像检查结果难以提供参考依据');
    expect(r[3].zh).toBe('影像检查项目意义重大（如手术等重大医疗措施前）等');
    expect(r[4].zh).toBe('急诊、急救等抢救生命的紧急状态');
    expect(r[6].zh).toContain('征兵体检');
    expect(r[7].zh).toBe('办理临床医学评定、劳动能力评定和司法精神病学鉴定的');
    expect(r[8].zh).toBe('其他符合诊疗需要的不可预测情形');
    for (const x of r) expect(x.en.length).toBeGreaterThan(20);
  });

  it('encodes the scope rules', () => {
    const s = new Map(parsed.scopeRules.map((x) => [x.code, x]));
    expect(s.size).toBe(4);
    expect(s.get('XJ-SCOPE-SAME-TIER')).toMatchObject({
      relation: 'same_tier',
      strength: 'may',
      receiver: { publicOnly: true },
      sender: { publicOnly: true },
      source: '同级公立医疗机构之间互认项目的影像检查结果，可予以认可。',
    });
    expect(s.get('XJ-SCOPE-CROSS-TIER-UP')).toMatchObject({
      relation: 'sender_higher_tier',
      strength: 'should',
      receiver: { levels: ['L2A', 'L2B', 'L1'], publicOnly: true },
    });
    expect(s.get('XJ-SCOPE-CROSS-TIER-UP')!.source).toContain('原则上应予认可');
    expect(s.get('XJ-SCOPE-CROSS-TIER-L3-FROM-L2')).toMatchObject({
      strength: 'may',
      receiver: { levels: ['L3A', 'L3B'], publicOnly: true },
      sender: {
        levels: ['L2A', 'L2B'],
        publicOnly: true,
        requiresAccreditation: true,
      },
    });
    expect(s.get('XJ-SCOPE-CROSS-TIER-L3-FROM-L2')!.source).toContain('具备能力的二级公立医疗机构');
    expect(s.get('XJ-SCOPE-SAME-GROUP')).toMatchObject({
      relation: 'same_group',
      strength: 'may',
    });
    expect(s.get('XJ-SCOPE-SAME-GROUP')!.source).toContain('紧密型城市医疗集团和县域医疗共同体');
  });

  it('lists the requirements (report + images, DICOM, quality-control assessment)', () => {
    const zh = parsed.requirements.map((r) => r.zh).join('\n');
    expect(zh).toContain('完整、清晰的文字报告及相关影像图片资料');
    expect(zh).toContain('符合DICOM标准的原始医学影像数据');
    expect(zh).toContain('经自治区、市相关质控中心考核评定');
    expect(zh).toContain('拍摄部位正确完整、影片图像清晰');
    expect(parsed.requirements.every((r, i) => r.code === `XJ-REQ-${String(i + 1).padStart(2, '0')}`)).toBe(true);
  });
});
