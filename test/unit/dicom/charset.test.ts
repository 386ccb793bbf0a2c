import { readFileSync } from 'fs';
import { join } from 'path';
import iconv from 'iconv-lite';
import { decodeText, decodeTextValues, normalizeCharset } from '../../../core/dicom/charset';
import { readInstance } from '../../../core/dicom/read-instance';
import { encodeText, makeInstance, TS } from '../../support/dicom-factory';

const fixture = (name: string) => readFileSync(join(__dirname, '../../fixtures', name));
const bulkDataUri = (tag: string) => `bulk/${tag}`;
const read = (buf: Buffer) => readInstance(buf, { bulkDataUri }).dicomJson;

describe('text decoding of the fixtures', () => {
  it.each([
    ['cr-gb18030-implicit.dcm', ['GB18030'], { Alphabetic: '张三^三' }, '胸部正侧位'],
    ['dx-gbk.dcm', ['GBK'], { Alphabetic: '李喆^喆' }, '腰椎正侧位'],
    ['mr-utf8.dcm', ['ISO_IR 192'], { Alphabetic: '王五^小明' }, '头颅平扫'],
    ['ct-iso2022-ir58.dcm', [null, 'ISO 2022 IR 58'], { Alphabetic: 'Zhang^San', Ideographic: '张^三' }, '胸部正侧位'],
  ])('%s', (name, charset, patientName, studyDescription) => {
    const json = read(fixture(name));
    expect(json['00080005']).toEqual({ vr: 'CS', Value: charset });
    expect(json['00100010']).toEqual({ vr: 'PN', Value: [patientName] });
    expect(json['00081030']).toEqual({ vr: 'LO', Value: [studyDescription] });
  });
});

describe('decodeTextValues', () => {
  it('splits GBK values only after decoding: 乗 ends in the byte 0x5C', () => {
    const bytes = iconv.encode('乗\\胸部', 'gbk');
    expect([...bytes.subarray(0, 2)]).toEqual([0x81, 0x5c]);
    expect(decodeTextValues(bytes, 'GBK', 'LO')).toEqual(['乗', '胸部']);
    expect(decodeTextValues(iconv.encode('乗^三', 'gb18030'), 'GB18030', 'PN')).toEqual(['乗^三']);
  });

  it('decodes four-byte GB18030 characters', () => {
    expect(decodeTextValues(iconv.encode('𠀀医院 ', 'gb18030'), 'GB18030', 'LO')).toEqual(['𠀀医院']);
  });

  it('follows ISO 2022 escapes and resets at PN delimiters', () => {
    const bytes = encodeText('Zhang^XiaoDong=张^小东=', '\\ISO 2022 IR 58', 'PN');
    // ESC $ ) A is repeated after '^', as in PS3.5 Annex K.
    expect(bytes.toString('latin1').split('\x1b$)A').length).toBe(3);
    expect(decodeTextValues(bytes, '\\ISO 2022 IR 58', 'PN')).toEqual(['Zhang^XiaoDong=张^小东=']);
  });

  it('handles ISO_IR 100 and plain ASCII', () => {
    expect(decodeTextValues(Buffer.from([0x4d, 0xfc, 0x6c, 0x6c, 0x65, 0x72]), 'ISO_IR 100', 'PN')).toEqual(['Müller']);
    expect(decodeTextValues(Buffer.from('A\\B '), undefined, 'CS')).toEqual(['A', 'B']);
  });

  it('removes padding per VR: leading spaces matter in LT, not in LO', () => {
    expect(decodeTextValues(Buffer.from('  text \0'), undefined, 'LO')).toEqual(['text']);
    expect(decodeTextValues(Buffer.from('  line 1\\2  '), undefined, 'LT')).toEqual(['  line 1\\2']);
  });

  it('maps non-standard terms seen from modalities', () => {
    expect(normalizeCharset('gb2312')).toBe('GB18030');
    expect(normalizeCharset('\\ISO 2022 IR 58 ')).toBe('\\ISO 2022 IR 58');
    expect(decodeText(iconv.encode('张三', 'gb2312'), 'GB2312', 'PN')).toBe('张三');
  });

  it('falls back to UTF-8, then ISO 8859-1, for unknown character sets', () => {
    expect(decodeText(Buffer.from('张三', 'utf8'), 'KLINGON', 'PN')).toBe('张三');
    expect(decodeText(Buffer.from([0xd5, 0xc5]), 'KLINGON', 'PN')).toBe('ÕÅ');
  });
});

describe('text decoding inside instances', () => {
  it('decodes sequence items, including with escapes, under the data set character set', () => {
    const json = read(
      makeInstance({
        charset: '\\ISO 2022 IR 58',
        patientName: '张三',
        extra: { ProcedureCodeSequence: [{ CodeValue: 'C1', CodingSchemeDesignator: 'L', CodeMeaning: '胸部正侧位' }] },
      }),
    );
    const item = (json['00081032'].Value as Record<string, { Value?: unknown[] }>[])[0];
    expect(item['00080104'].Value).toEqual(['胸部正侧位']);
    expect(json['00100010'].Value).toEqual([{ Alphabetic: '张三' }]);
  });

  it('decodes multi-valued text and implicit VR', () => {
    const json = read(
      makeInstance({ transferSyntaxUid: TS.implicitLittleEndian, charset: 'GB18030', extra: { OtherPatientNames: '张三\\李四', ImageComments: '左侧\\右侧' } }),
    );
    expect(json['00101001']).toEqual({ vr: 'PN', Value: [{ Alphabetic: '张三' }, { Alphabetic: '李四' }] });
    expect(json['00204000']).toEqual({ vr: 'LT', Value: ['左侧\\右侧'] });
  });

  it('decodes a deflated instance', () => {
    const json = read(makeInstance({ transferSyntaxUid: TS.deflated, charset: 'GBK', patientName: '李喆' }));
    expect(json['00100010'].Value).toEqual([{ Alphabetic: '李喆' }]);
  });
});
