import { HurenError } from '../../../core/errors';
import { parseQidoQuery, type Match, type QidoLevel, type QidoQuery, type QidoScope } from '../../../gateway/dicomweb/qido-query';

const limits = { defaultLimit: 100, maxLimit: 1000 };
const parse = (query: Record<string, string | string[]>, level: QidoLevel = 'study', scope?: QidoScope) => parseQidoQuery(level, query, limits, scope);
const matchOf = (q: QidoQuery, keyword: string): Match | undefined => q.filters.find((f) => f.key.keyword === keyword)?.match;

function expect400(fn: () => unknown, message: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(HurenError);
  expect((caught as HurenError).status).toBe(400);
  expect((caught as HurenError).message).toMatch(message);
}

/** PN matches are PostgreSQL regexes over upper(name); JS regexes agree on the constructs used. */
const pnMatches = (q: QidoQuery, keyword: string, stored: string): boolean => {
  const m = matchOf(q, keyword);
  if (m?.type !== 'pn') throw new Error(`no PN match for ${keyword}`);
  const subject = m.fuzzy ? stored.toUpperCase().replace(/[ ^,]/g, '') : stored.toUpperCase();
  return new RegExp(m.regex.toUpperCase()).test(subject);
};

describe('parseQidoQuery: paging and control parameters', () => {
  it('defaults limit and offset from the configured limits', () => {
    const q = parse({});
    expect(q).toMatchObject({ level: 'study', limit: 100, offset: 0, fuzzy: false, filters: [], include: { all: false, tags: [] }, warnings: [] });
  });

  it('reads limit and offset, lowering a limit above the maximum', () => {
    expect(parse({ limit: '101', offset: '202' })).toMatchObject({ limit: 101, offset: 202 });
    expect(parse({ limit: '5000' }).limit).toBe(1000);
  });

  it.each([
    ['limit', '-1'],
    ['limit', 'NaN'],
    ['limit', ''],
    ['limit', '1.5'],
    ['limit', '0'],
    ['offset', '-10'],
    ['offset', 'abc'],
    ['offset', '1e3'],
  ])('%s=%s → 400 naming the parameter', (name, value) => expect400(() => parse({ [name]: value }), new RegExp(`^${name}:`)));

  it('rejects a repeated limit', () => expect400(() => parse({ limit: ['1', '2'] }), /limit: given more than once/));

  it('reads fuzzymatching true/false in any case; anything else → 400', () => {
    expect(parse({ fuzzymatching: 'true' }).fuzzy).toBe(true);
    expect(parse({ fuzzymatching: 'FALSE' }).fuzzy).toBe(false);
    expect400(() => parse({ fuzzymatching: 'yes' }), /fuzzymatching: "yes" is not true or false/);
  });

  it('warns (does not fail) for emptyvaluematching / multiplevaluematching=true', () => {
    expect(parse({ emptyvaluematching: 'false', multiplevaluematching: 'false' }).warnings).toEqual([]);
    const q = parse({ emptyvaluematching: 'true', multiplevaluematching: 'true' });
    expect(q.warnings).toEqual([
      expect.stringMatching(/emptyvaluematching parameter is not supported/),
      expect.stringMatching(/multiplevaluematching parameter is not supported/),
    ]);
  });

  it('ignores the content negotiation parameters accept and charset', () => {
    expect(parse({ accept: 'application/dicom+json', charset: 'utf-8' }).filters).toEqual([]);
  });

  it('rejects an unknown parameter by name', () => {
    expect400(() => parse({ foo: 'bar' }), /Unknown query parameter "foo"/);
    expect400(() => parse({ patientid: '1' }), /Unknown query parameter "patientid"/);
  });

  it('rejects non-string values (nested query objects)', () => {
    expect400(() => parseQidoQuery('study', { PatientID: { a: '1' } }, limits), /PatientID: expected a plain text value/);
  });
});

describe('parseQidoQuery: includefield', () => {
  it('accepts keywords and tags, comma separated and repeated', () => {
    const q = parse({ includefield: ['00081030,00080060', 'PatientAge', '0008103e'] });
    expect(q.include).toEqual({ all: false, tags: ['00081030', '00080060', '00101010', '0008103E'] });
  });

  it('accepts all, and includeField spelt with capitals', () => {
    expect(parse({ includefield: 'all' }).include.all).toBe(true);
    expect(parse({ includeField: 'StudyDescription' }).include.tags).toEqual(['00081030']);
  });

  it('includes the top-level sequence of a nested path', () => {
    expect(parse({ includefield: '00400275.00400009' }, 'series').include.tags).toEqual(['00400275']);
  });

  it('rejects an unknown keyword', () => expect400(() => parse({ includefield: 'StudyDescripton' }), /includefield: "StudyDescripton" is not a DICOM keyword/));

  it('returns matching keys too', () => {
    expect(parse({ PatientID: '123', includefield: '00081030' }).include.tags).toEqual(['00081030', '00100020']);
  });
});

describe('parseQidoQuery: matching keys', () => {
  it('accepts a keyword or an 8-hex-digit tag', () => {
    expect(matchOf(parse({ PatientID: 'P1' }), 'PatientID')).toEqual({ type: 'in', values: ['P1'] });
    expect(matchOf(parse({ '00100020': 'P1' }), 'PatientID')).toEqual({ type: 'in', values: ['P1'] });
  });

  it('treats an empty value or a lone * as universal matching: no filter, attribute returned', () => {
    const q = parse({ PatientID: '', AccessionNumber: '*', StudyDate: '' });
    expect(q.filters).toEqual([]);
    expect(q.include.tags).toEqual(['00100020', '00080050', '00080020']);
  });

  it('turns text wildcards into LIKE patterns, escaping LIKE characters', () => {
    expect(matchOf(parse({ PatientID: '*12?4*' }), 'PatientID')).toEqual({ type: 'like', pattern: '%12_4%' });
    expect(matchOf(parse({ AccessionNumber: 'A_1%*' }), 'AccessionNumber')).toEqual({ type: 'like', pattern: 'A\\_1\\%%' });
    expect(matchOf(parse({ StudyDescription: '*chest*' }), 'StudyDescription')).toEqual({ type: 'like', pattern: '%chest%' });
  });

  it('rejects the same attribute twice, by keyword and tag', () => {
    expect400(() => parse({ PatientID: '1', '00100020': '2' }), /PatientID given more than once/);
    expect400(() => parse({ PatientID: '', '00100020': '2' }), /PatientID given more than once/);
  });

  it('rejects attributes not supported for matching, listing the supported ones', () => {
    expect400(() => parse({ PatientAge: '030Y' }), /PatientAge cannot be used for matching in a search for all studies; supported: StudyDate/);
    expect400(() => parse({ Modality: 'CT' }), /Modality cannot be used for matching/);
    expect400(() => parse({ '00400275.00400009': 'X' }, 'series'), /sequence matching is not supported/);
  });

  it('allows parent-level keys only when the parent is not fixed by the path', () => {
    expect(parse({ PatientID: '1', Modality: 'CT' }, 'series').filters).toHaveLength(2);
    expect400(
      () => parse({ PatientID: '1' }, 'series', { studyInstanceUid: '1.2.3' }),
      /PatientID cannot be used for matching in a search for series of one study/,
    );
    expect(parse({ PatientID: '1', Modality: 'CT', SOPClassUID: '1.2.840.10008.5.1.4.1.1.2' }, 'instance').filters).toHaveLength(3);
    expect(parse({ Modality: 'CT' }, 'instance', { studyInstanceUid: '1.2.3' }).filters).toHaveLength(1);
    expect400(() => parse({ Modality: 'CT' }, 'instance', { studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4' }), /Modality cannot be used/);
    expect400(() => parse({ SOPInstanceUID: '1.2' }, 'series'), /SOPInstanceUID cannot be used/);
  });

  it('validates path UIDs', () => {
    expect400(() => parse({}, 'series', { studyInstanceUid: '1.2.abc' }), /Not a valid StudyInstanceUID in the path/);
    expect400(() => parse({}, 'instance', { studyInstanceUid: '1.2', seriesInstanceUid: '../etc' }), /Not a valid SeriesInstanceUID/);
  });
});

describe('parseQidoQuery: dates and times', () => {
  it.each([
    ['20240115', { from: '2024-01-15', to: '2024-01-15' }],
    ['20240101-20240131', { from: '2024-01-01', to: '2024-01-31' }],
    ['-20240131', { to: '2024-01-31' }],
    ['20240101-', { from: '2024-01-01' }],
  ])('StudyDate=%s', (value, range) => {
    expect(matchOf(parse({ StudyDate: value }), 'StudyDate')).toEqual({ type: 'range', ...range });
  });

  it('keeps PatientBirthDate as YYYYMMDD text (its column is text)', () => {
    expect(matchOf(parse({ PatientBirthDate: '19800101-19891231' }), 'PatientBirthDate')).toEqual({ type: 'range', from: '19800101', to: '19891231' });
  });

  it.each(['2024-01-01', '20240230', '2024013', '-', '20240101-20240131-', '2024010120240131', '20240201-20240101', 'today'])('StudyDate=%s → 400', (value) =>
    expect400(() => parse({ StudyDate: value }), /^StudyDate:/),
  );

  it('reads TM values and ranges; an upper bound covers its whole precision', () => {
    expect(matchOf(parse({ StudyTime: '1430' }), 'StudyTime')).toEqual({ type: 'range', from: '1430', to: '143059.999999' });
    expect(matchOf(parse({ StudyTime: '08-1500' }), 'StudyTime')).toEqual({ type: 'range', from: '08', to: '150059.999999' });
    expect(matchOf(parse({ StudyTime: '08-15' }), 'StudyTime')).toEqual({ type: 'range', from: '08', to: '155959.999999' });
    expect(matchOf(parse({ StudyTime: '-120000.5' }), 'StudyTime')).toEqual({ type: 'range', to: '120000.599999' });
    expect(matchOf(parse({ PerformedProcedureStepStartTime: '0800-' }, 'series'), 'PerformedProcedureStepStartTime')).toEqual({ type: 'range', from: '0800' });
  });

  it.each(['25', '1260', '14:30', '14.5', '-', 'noon'])('StudyTime=%s → 400', (value) => expect400(() => parse({ StudyTime: value }), /^StudyTime:/));
});

describe('parseQidoQuery: UIDs, codes, numbers', () => {
  it('reads UID lists separated by backslash or comma (OHIF turns separators into "\\")', () => {
    expect(matchOf(parse({ StudyInstanceUID: '1.2.3\\1.2.4,1.2.5' }), 'StudyInstanceUID')).toEqual({ type: 'in', values: ['1.2.3', '1.2.4', '1.2.5'] });
    expect(matchOf(parse({ StudyInstanceUID: '1.2.3\\' }), 'StudyInstanceUID')).toEqual({ type: 'in', values: ['1.2.3'] });
  });

  it.each(['1.2.abc', '1.2.*', '01.2', '1.2.3\\x'])('StudyInstanceUID=%s → 400', (value) =>
    expect400(() => parse({ StudyInstanceUID: value }), /StudyInstanceUID: ".*" is not a UID/),
  );

  it('reads code lists, upper-cased, and single code wildcards', () => {
    expect(matchOf(parse({ ModalitiesInStudy: 'CT,mr' }), 'ModalitiesInStudy')).toEqual({ type: 'in', values: ['CT', 'MR'] });
    expect(matchOf(parse({ ModalitiesInStudy: 'CT\\DX' }), 'ModalitiesInStudy')).toEqual({ type: 'in', values: ['CT', 'DX'] });
    expect(matchOf(parse({ Modality: 'M*' }, 'series'), 'Modality')).toEqual({ type: 'like', pattern: 'M%' });
    expect(matchOf(parse({ PatientSex: 'f' }), 'PatientSex')).toEqual({ type: 'in', values: ['F'] });
    expect400(() => parse({ ModalitiesInStudy: 'CT;MR' }), /ModalitiesInStudy: "CT;MR" is not a code string/);
  });

  it('reads integers; anything else → 400', () => {
    expect(matchOf(parse({ SeriesNumber: '3' }, 'series'), 'SeriesNumber')).toEqual({ type: 'in', values: [3] });
    expect400(() => parse({ InstanceNumber: 'one' }, 'instance'), /InstanceNumber: "one" is not an integer/);
    expect400(() => parse({ InstanceNumber: '99999999999' }, 'instance'), /is not an integer/);
  });
});

describe('parseQidoQuery: person names', () => {
  const name = 'Zhang^San=张^三=zhang^san';

  it('matches any component group, case-insensitively', () => {
    expect(pnMatches(parse({ PatientName: 'zhang^san' }), 'PatientName', name)).toBe(true);
    expect(pnMatches(parse({ PatientName: '张^三' }), 'PatientName', name)).toBe(true);
    expect(pnMatches(parse({ PatientName: '张*' }), 'PatientName', name)).toBe(true);
    expect(pnMatches(parse({ PatientName: '*SAN' }), 'PatientName', name)).toBe(true);
    expect(pnMatches(parse({ PatientName: 'zhang' }), 'PatientName', name)).toBe(false);
    expect(pnMatches(parse({ PatientName: '李*' }), 'PatientName', name)).toBe(false);
  });

  it('*x* finds x inside any group, never across the group delimiter', () => {
    expect(pnMatches(parse({ PatientName: '*li*' }), 'PatientName', 'Li^Lei')).toBe(true);
    expect(pnMatches(parse({ PatientName: '*li*' }), 'PatientName', 'Wang^Wu=王^丽')).toBe(false);
    expect(pnMatches(parse({ PatientName: 'san*zh' }), 'PatientName', 'Zhang^San=Zh')).toBe(false);
    expect(pnMatches(parse({ PatientName: 'Z?ang*' }), 'PatientName', name)).toBe(true);
  });

  it('ignores trailing empty components and treats regex characters literally', () => {
    expect(pnMatches(parse({ PatientName: 'Zhang^San' }), 'PatientName', 'ZHANG^SAN^^^')).toBe(true);
    expect(pnMatches(parse({ PatientName: 'Zhang^San^' }), 'PatientName', 'ZHANG^SAN')).toBe(true);
    expect(pnMatches(parse({ PatientName: 'O.Brien' }), 'PatientName', 'OXBrien')).toBe(false);
    expect(pnMatches(parse({ PatientName: '(a|b)' }), 'PatientName', 'A')).toBe(false);
  });

  it('matches a value with "=" group by group', () => {
    expect(pnMatches(parse({ PatientName: 'Zhang^San=张^三' }), 'PatientName', name)).toBe(true);
    expect(pnMatches(parse({ PatientName: '=张*' }), 'PatientName', name)).toBe(true);
    expect(pnMatches(parse({ PatientName: '张^三=Zhang^San' }), 'PatientName', name)).toBe(false);
  });

  it('fuzzymatching=true ignores separators and matches the start of a group', () => {
    const fuzzy = (value: string, stored: string) => pnMatches(parse({ PatientName: value, fuzzymatching: 'true' }), 'PatientName', stored);
    expect(fuzzy('zhangsan', name)).toBe(true);
    expect(fuzzy('Zhang San', name)).toBe(true);
    expect(fuzzy('zhang', name)).toBe(true);
    expect(fuzzy('张三', name)).toBe(true);
    expect(fuzzy('张三', '张三')).toBe(true);
    expect(fuzzy('san', name)).toBe(false);
  });

  it('fuzzymatching applies to PN attributes only', () => {
    expect(matchOf(parse({ PatientID: 'abc', fuzzymatching: 'true' }), 'PatientID')).toEqual({ type: 'in', values: ['abc'] });
  });
});
