import {
  groupUnmapped,
  guessesOf,
  MAPPING_CSV_COLUMNS,
  parseMappingsCsv,
  primaryProcedureKey,
  procedureKeys,
  serializeMappingsCsv,
  studyProcedure,
  unknownItemCodes,
  type ProcedureGroupRow,
  type StoredMapping,
} from '../../../core/recognition/mappings';
import { localMappingKey, mappingLookup } from '../../../core/recognition/local-mapping';

const HEADER = MAPPING_CSV_COLUMNS.join(',');
const csv = (...lines: string[]) => [HEADER, ...lines].join('\n');

/** Study-level DICOM JSON as study.attributes stores it. */
const lo = (value: string) => ({ vr: 'LO', Value: [value] });
const code = (value: string, meaning?: string, scheme = 'L') => ({
  '00080100': { vr: 'SH', Value: [value] },
  '00080102': { vr: 'SH', Value: [scheme] },
  ...(meaning && { '00080104': lo(meaning) }),
});
const attrs = (o: { requested?: ReturnType<typeof code>[]; performed?: ReturnType<typeof code>[]; rpd?: string; sd?: string }) => ({
  ...(o.requested && { '00321064': { vr: 'SQ', Value: o.requested } }),
  ...(o.performed && { '00081032': { vr: 'SQ', Value: o.performed } }),
  ...(o.rpd && { '00321060': lo(o.rpd) }),
  ...(o.sd && { '00081030': lo(o.sd) }),
  '00100010': { vr: 'PN', Value: [{ Alphabetic: 'NOT^USED' }] },
});

describe('unknownItemCodes', () => {
  it('accepts items of the catalog only', () => {
    expect(unknownItemCodes('zhejiang-2021', ['BQ37ZYZZZ-00', 'CY2025-123', 'NOPE'])).toEqual(['CY2025-123', 'NOPE']);
    expect(unknownItemCodes('chuanyu-2025', [])).toEqual([]);
  });
});

describe('parseMappingsCsv', () => {
  it('reads codes, names, ;-separated item codes (also ；), and an empty item list', () => {
    const { rows, errors } = parseMappingsCsv(
      '\uFEFF' +
        csv(
          'MR0412,右膝MR平扫,zhejiang-2021,BQ37ZYZZZ-00',
          ',院内套餐A,chuanyu-2025,CY2025-123；CY2025-122',
          ' ,骨密度（院内）,xinjiang,',
          '',
          'ct01,,xinjiang, XJHRYX-CT0517 ;',
        ),
    );
    expect(errors).toEqual([]);
    expect(rows).toEqual([
      { row: 2, mapping: { localCode: 'MR0412', localName: '右膝MR平扫', catalogId: 'zhejiang-2021', itemCodes: ['BQ37ZYZZZ-00'] } },
      { row: 3, mapping: { localCode: undefined, localName: '院内套餐A', catalogId: 'chuanyu-2025', itemCodes: ['CY2025-123', 'CY2025-122'] } },
      { row: 4, mapping: { localCode: undefined, localName: '骨密度（院内）', catalogId: 'xinjiang', itemCodes: [] } },
      { row: 6, mapping: { localCode: 'ct01', localName: undefined, catalogId: 'xinjiang', itemCodes: ['XJHRYX-CT0517'] } },
    ]);
  });

  it('reports every problem with its line and column, bilingual', () => {
    const { rows, errors } = parseMappingsCsv(
      csv(
        ',,zhejiang-2021,BQ37ZYZZZ-00', // neither code nor name
        'A1,,beijing,X', // unknown catalog
        'A2,,zhejiang-2021,BQ37ZYZZZ-00;CY2025-123;NOPE', // codes of another catalog / none
        'a1,,xinjiang,XJHRYX-MR0508',
        'A1,other spelling,xinjiang,XJHRYX-MR0515', // same key (codes are case-insensitive) and catalog as line 5
        'A3,too,many,cells,here',
      ),
    );
    expect(rows.map((r) => r.row)).toEqual([5]);
    expect(errors).toEqual([
      { row: 2, column: 'local_code', message: '须给出本院项目代码或名称 / localCode or localName is required' },
      { row: 3, column: 'catalog_id', message: expect.stringContaining('chuanyu-2025, xinjiang, zhejiang-2021') },
      {
        row: 4,
        column: 'item_codes',
        message:
          '目录 zhejiang-2021 中没有项目 CY2025-123、NOPE / Not items of catalog zhejiang-2021: CY2025-123, NOPE（属于其他目录 / in another catalog: CY2025-123 → chuanyu-2025）',
      },
      { row: 6, message: expect.stringMatching(/已在第 5 行映射 .* on line 5$/) },
      { row: 7, message: expect.stringContaining('The row has 5 cells, the header 4') },
    ]);
  });

  it('checks the header and empty files', () => {
    expect(parseMappingsCsv('local_code,catalog,item_codes\nA,zhejiang-2021,').errors.map((e) => e.message)).toEqual([
      expect.stringContaining('Unknown column(s) catalog'),
      expect.stringContaining('Missing required column(s) catalog_id'),
    ]);
    expect(parseMappingsCsv('catalog_id,item_codes\nzhejiang-2021,').errors[0].message).toContain('local_code or local_name column');
    expect(parseMappingsCsv('').errors).toEqual([{ row: 1, message: '文件为空 / The file is empty' }]);
    expect(parseMappingsCsv(HEADER + '\n\n').errors).toEqual([{ row: 1, message: '文件中没有映射 / The file lists no mappings' }]);
    expect(parseMappingsCsv(csv('"A,,x')).errors[0].message).toContain('Malformed CSV');
  });
});

describe('serializeMappingsCsv', () => {
  it('writes a BOM, CRLF and ;-joined codes, and reads back to the same mappings', () => {
    const stored: StoredMapping[] = [
      {
        id: 1,
        institutionCode: 'H1',
        localKey: 'code:MR0412',
        localCode: 'MR0412',
        localName: '右膝MR平扫, "增强"',
        catalogId: 'zhejiang-2021',
        itemCodes: ['BQ37ZYZZZ-00'],
        createdBy: null,
        updatedAt: '2026-01-01T00:00:00.000Z',
      },
      {
        id: 2,
        institutionCode: 'H1',
        localKey: 'name:院内套餐a',
        localCode: null,
        localName: '院内套餐A',
        catalogId: 'chuanyu-2025',
        itemCodes: ['CY2025-122', 'CY2025-123'],
        createdBy: 'x',
        updatedAt: '2026-01-01T00:00:00.000Z',
      },
      {
        id: 3,
        institutionCode: 'H1',
        localKey: 'name:x',
        localCode: null,
        localName: 'X',
        catalogId: 'xinjiang',
        itemCodes: [],
        createdBy: null,
        updatedAt: '',
      },
    ];
    const text = serializeMappingsCsv(stored);
    expect(text.startsWith('\uFEFFlocal_code,local_name,catalog_id,item_codes\r\n')).toBe(true);
    expect(text).toContain(',院内套餐A,chuanyu-2025,CY2025-122;CY2025-123\r\n');
    const { rows, errors } = parseMappingsCsv(text);
    expect(errors).toEqual([]);
    expect(rows.map((r) => r.mapping)).toEqual(
      stored.map((m) => ({ localCode: m.localCode ?? undefined, localName: m.localName ?? undefined, catalogId: m.catalogId, itemCodes: m.itemCodes })),
    );
  });
});

describe("a study's procedure", () => {
  const full = attrs({ requested: [code(' mr0412 ', '右膝MR平扫')], performed: [code('P9', '膝关节')], rpd: '右膝关节MRI平扫', sd: 'KNEE^RT' });

  it('reads codes and descriptions from study-level DICOM JSON', () => {
    expect(studyProcedure(full)).toEqual({
      codes: [
        { tag: 'RequestedProcedureCodeSequence', value: 'mr0412', scheme: 'L', meaning: '右膝MR平扫' },
        { tag: 'ProcedureCodeSequence', value: 'P9', scheme: 'L', meaning: '膝关节' },
      ],
      requestedProcedureDescription: '右膝关节MRI平扫',
      studyDescription: 'KNEE^RT',
    });
    expect(studyProcedure(null)).toEqual({ codes: [], requestedProcedureDescription: undefined, studyDescription: undefined });
  });

  it('has the keys the classifier looks mappings up by', () => {
    const p = studyProcedure(full);
    const keys = procedureKeys(p);
    expect(keys).toEqual(['code:MR0412', 'code:P9', 'name:右膝关节mri平扫', 'name:knee rt', 'name:右膝mr平扫', 'name:膝关节']);
    // Every key found here is one mappingLookup finds the study by.
    for (const key of keys) {
      const lookup = mappingLookup([{ local_key: key, catalog_id: 'c', item_codes: ['X'] }]);
      const hit = lookup({
        catalogId: 'c',
        catalogVersion: '1',
        modalities: ['MR'],
        procedureCodes: p.codes.map((c) => ({ ...c, tag: c.tag })),
        descriptions: [
          { tag: 'RequestedProcedureDescription', value: p.requestedProcedureDescription! },
          { tag: 'StudyDescription', value: p.studyDescription! },
          ...p.codes.map((c) => ({ tag: `${c.tag}.CodeMeaning`, value: c.meaning! })),
        ],
      });
      expect([key, hit]).toEqual([key, ['X']]);
    }
  });

  it('is mapped under the requested code, else the performed code, else RequestedProcedureDescription, else StudyDescription', () => {
    expect(primaryProcedureKey(studyProcedure(full))).toEqual({
      localKey: 'code:MR0412',
      localCode: 'mr0412',
      localName: '右膝MR平扫',
      codingScheme: 'L',
      source: 'RequestedProcedureCodeSequence',
    });
    expect(primaryProcedureKey(studyProcedure(attrs({ performed: [code('P9')], sd: '膝' })))).toMatchObject({
      localKey: 'code:P9',
      localName: '膝',
      source: 'ProcedureCodeSequence',
    });
    expect(primaryProcedureKey(studyProcedure(attrs({ rpd: ' 院内套餐A ', sd: 'X' })))).toEqual({
      localKey: localMappingKey({ localName: '院内套餐A' }),
      localName: '院内套餐A',
      source: 'RequestedProcedureDescription',
    });
    expect(primaryProcedureKey(studyProcedure(attrs({ sd: 'XR KNEE RT 2V' })))).toMatchObject({ localKey: 'name:xr knee rt 2v', source: 'StudyDescription' });
    expect(primaryProcedureKey(studyProcedure(attrs({})))).toBeUndefined();
  });
});

describe('groupUnmapped', () => {
  const row = (a: Parameters<typeof attrs>[0], studies: number, sample: string, lastStudyDate: string | null = '2026-01-01'): ProcedureGroupRow => ({
    procedure: studyProcedure(attrs(a)),
    studies,
    lastStudyDate,
    sampleStudyInstanceUid: sample,
  });

  it('groups by procedure key, most studies first, leaving out studies any of whose keys is mapped', () => {
    const rows = [
      row({ sd: '院内套餐A' }, 2, '1.1', '2026-01-02'),
      row({ sd: '院内套餐a ' }, 4, '1.2', '2025-12-01'),
      row({ requested: [code('MR0412', '右膝MR平扫')], sd: 'knee' }, 1, '1.3'),
      row({ requested: [code('MR0412', '右膝MR平扫')], sd: 'KNEE MRI' }, 4, '1.4'),
      row({ sd: 'XR KNEE RT 2V' }, 5, '1.5'),
      row({ rpd: 'covered by name', requested: [code('C1')] }, 7, '1.6'),
      row({}, 6, '1.7'),
    ];
    const { groups, studiesWithoutProcedure } = groupUnmapped(rows, new Set(['name:covered by name']));
    expect(studiesWithoutProcedure).toBe(6);
    expect(groups).toEqual([
      {
        key: { localKey: 'name:院内套餐a', localName: '院内套餐a', source: 'StudyDescription' },
        studies: 6,
        lastStudyDate: '2026-01-02',
        studyDescriptions: [],
        sampleStudyInstanceUid: '1.2',
      },
      // Equal counts: by key.
      expect.objectContaining({
        key: expect.objectContaining({ localKey: 'code:MR0412' }),
        studies: 5,
        studyDescriptions: ['KNEE MRI', 'knee'],
        sampleStudyInstanceUid: '1.4',
      }),
      expect.objectContaining({ key: expect.objectContaining({ localKey: 'name:xr knee rt 2v' }), studies: 5 }),
    ]);
    expect(groupUnmapped(rows, new Set(['code:MR0412', 'name:xr knee rt 2v', 'name:院内套餐a', 'name:covered by name'])).groups).toEqual([]);
  });
});

describe('guessesOf', () => {
  it('lists recognised items first, then candidates by confidence, with item names', () => {
    expect(
      guessesOf({
        items: [{ code: 'BQ37ZYZZZ-00', confidence: 0.9, evidence: [], runnersUp: [] }],
        candidates: [
          { code: 'BQ38ZYZZZ-00', confidence: 0.2, why: 'side' },
          { code: 'BQ07ZZZ0B-00', confidence: 0.3, why: 'projections not stated' },
          { code: 'BQ37ZYZZZ-00', confidence: 0.3, why: 'dup' },
        ],
      }),
    ).toEqual([
      { code: 'BQ37ZYZZZ-00', name: '右膝平扫', confidence: 0.9, kind: 'item' },
      { code: 'BQ07ZZZ0B-00', name: '右膝关节正侧位', confidence: 0.3, kind: 'candidate', why: 'projections not stated' },
      { code: 'BQ38ZYZZZ-00', name: '左膝平扫', confidence: 0.2, kind: 'candidate', why: 'side' },
    ]);
  });
});
