import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CSV_COLUMNS, parseInstitutionsCsv, serializeInstitutionsCsv } from '../../../core/recognition/institutions-csv';
import type { StoredInstitution } from '../../../core/recognition/institution-schema';

const HEADER = CSV_COLUMNS.join(',');
const csv = (...lines: string[]) => [HEADER, ...lines].join('\n');

describe('parseInstitutionsCsv', () => {
  it('reads Chinese labels, lists, groups and accreditations', () => {
    const { rows, errors } = parseInstitutionsCsv(
      csv(
        'ZJ001,浙江省人民医院,浙江,三级甲等,医院,是,浙江省人民医院；Zhejiang Provincial People’s Hospital,ZJPH_CT;ZJPH_MR,ZJPH,YLT-HZ-1|杭州市第一医联体|医联体,zhejiang-2021|ct|2025-01-01|2027-12-31|浙江省放射影像质控中心;zhejiang-2021|MR|2025-01-01',
      ),
    );
    expect(errors).toEqual([]);
    expect(rows).toEqual([
      {
        row: 2,
        institution: {
          code: 'ZJ001',
          name: '浙江省人民医院',
          region: 'ZJ',
          level: 'L3A',
          kind: 'hospital',
          isPublic: true,
          aliases: {
            institutionNames: ['浙江省人民医院', 'zhejiang provincial people’s hospital'],
            aeTitles: ['ZJPH_CT', 'ZJPH_MR'],
            issuersOfPatientId: ['ZJPH'],
          },
          groups: [{ code: 'YLT-HZ-1', name: '杭州市第一医联体', kind: 'medical_alliance' }],
          accreditations: [
            { catalogId: 'zhejiang-2021', modality: 'CT', validFrom: '2025-01-01', validUntil: '2027-12-31', issuer: '浙江省放射影像质控中心' },
            { catalogId: 'zhejiang-2021', modality: 'MR', validFrom: '2025-01-01' },
          ],
        },
      },
    ]);
  });

  it('strips a byte order mark and accepts only the required columns', () => {
    const { rows, errors } = parseInstitutionsCsv('\uFEFFcode,name,region,level\r\nCY1,四川省人民医院,CY,L3A\r\n');
    expect(errors).toEqual([]);
    expect(rows[0].institution).toMatchObject({ code: 'CY1', region: 'CY', isPublic: true, aliases: { institutionNames: [] } });
  });

  it('reports every invalid row with its line number and column, and returns no partial import', () => {
    const { errors } = parseInstitutionsCsv(
      csv(
        'OK1,好医院,ZJ,L3A,,,,,,,',
        'BAD 2,坏医院,ZJ,L3A,,,,,,,', // code with a space
        'B3,医院三,火星,L3A,,,,,,,', // unknown region
        'B4,医院四,ZJ,三甲,,也许,,,,,', // is_public neither yes nor no
        'B5,医院五,ZJ,L2A,,,,,,G1|组|不知道,', // unknown group kind
        'B6,医院六,ZJ,L2A,,,,,,,zhejiang-2021|CT|2025-02-30', // impossible date
        'B7,医院七,ZJ,L2A,,,,,,,zhejiang-2021|CT|2026-01-01|2025-01-01', // until before from
        'B8,医院八,ZJ', // too few cells
        'OK1,重复,ZJ,L1,,,,,,,', // duplicate code
      ),
    );
    const where = errors.map((e) => [e.row, e.column]);
    expect(where).toEqual([
      [3, 'code'],
      [4, 'region'],
      [5, 'is_public'],
      [6, 'groups #1 (kind)'],
      [7, 'accreditations #1 (validFrom)'],
      [8, 'accreditations #1 (validUntil)'],
      [9, undefined],
      [10, 'code'],
    ]);
    for (const e of errors) expect(e.message).toMatch(/[\u4e00-\u9fff].*\/ [A-Za-z]/);
    expect(errors[1].message).toContain('CY');
  });

  it('refuses the same alias on two rows, and one group defined two ways', () => {
    const { errors } = parseInstitutionsCsv(csv('A,甲医院,ZJ,L3A,,,甲医院,,,G|集团|医疗集团,', 'B,乙医院,ZJ,L3A,,,ＡＢＣ;甲医院 ,,,G|另一个名字|医疗集团,'));
    expect(errors.map((e) => [e.row, e.column])).toEqual([
      [3, 'institution_names'],
      [3, 'groups'],
    ]);
  });

  it('reports header problems on line 1', () => {
    expect(parseInstitutionsCsv('code,name,level,colour\nA,B,L1,red').errors.map((e) => e.row)).toEqual([1, 1]);
    expect(parseInstitutionsCsv('').errors).toEqual([{ row: 1, message: expect.stringContaining('empty') }]);
    expect(parseInstitutionsCsv(`${HEADER}\n`).errors).toEqual([{ row: 1, message: expect.stringContaining('no institutions') }]);
  });

  it('reports malformed CSV (an unclosed quote) with a line number', () => {
    const { rows, errors } = parseInstitutionsCsv(csv('A,甲医院,ZJ,L3A,,,,,,,', 'B,"乙医院,ZJ,L3A,,,,,,,'));
    expect(rows).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0].row).toBeGreaterThanOrEqual(3);
    expect(errors[0].message).toMatch(/Malformed CSV/);
  });
});

describe('serializeInstitutionsCsv', () => {
  const stored: StoredInstitution = {
    code: 'XJ9',
    name: '新疆医科大学第一附属医院, 本部',
    region: 'XJ',
    level: 'L3A',
    kind: 'hospital',
    isPublic: true,
    aliases: { institutionNames: ['新疆医科大学第一附属医院'], aeTitles: ['XJMU1'], issuersOfPatientId: [] },
    groups: [{ code: 'G1', name: '乌鲁木齐医联体', kind: 'medical_alliance' }],
    accreditations: [{ catalogId: 'xinjiang', modality: 'DR', validFrom: '2024-01-01', issuer: '新疆放射质控中心' }],
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
  };

  it('writes a BOM for Excel, quotes where needed, and round-trips through the parser', () => {
    const text = serializeInstitutionsCsv([stored]);
    expect(text.startsWith(`\uFEFF${HEADER}\r\n`)).toBe(true);
    expect(text).toContain('"新疆医科大学第一附属医院, 本部"');
    expect(text).toContain('xinjiang|DR|2024-01-01||新疆放射质控中心');
    const { rows, errors } = parseInstitutionsCsv(text);
    expect(errors).toEqual([]);
    const { createdAt: _c, updatedAt: _u, ...institution } = stored;
    expect(rows[0].institution).toEqual(institution);
  });
});

describe('docs/samples/institutions.csv', () => {
  it('is a valid import', () => {
    const text = readFileSync(path.join(__dirname, '../../../docs/samples/institutions.csv'), 'utf8');
    const { rows, errors } = parseInstitutionsCsv(text);
    expect(errors).toEqual([]);
    expect(rows.length).toBeGreaterThanOrEqual(3);
  });
});
