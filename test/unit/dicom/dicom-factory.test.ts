import { parseDicom } from 'dicom-parser';
import iconv from 'iconv-lite';
import { readPart10Header } from '../../../core/dicom/part10-header';
import { isUid } from '../../../core/dicom/uid';
import { framePixels, makeInstance, randomUid, TS } from '../../support/dicom-factory';

/** makeInstance's output read back by dicom-parser, which shares no code with dcmjs. */
describe('makeInstance, checked with dicom-parser', () => {
  it('writes every option where DICOM puts it', () => {
    const buf = makeInstance({
      studyInstanceUid: '1.2.3.1',
      seriesInstanceUid: '1.2.3.2',
      sopInstanceUid: '1.2.3.3',
      modality: 'MR',
      patientId: 'P-42',
      patientName: 'Doe^Jane',
      studyDate: '20231231',
      studyDescription: 'BRAIN',
      seriesNumber: 7,
      instanceNumber: 9,
      rows: 10,
      columns: 12,
      bitsAllocated: 8,
      numberOfFrames: 2,
      bodyPartExamined: 'HEAD',
      extra: { Manufacturer: 'HUREN' },
    });
    const ds = parseDicom(buf);
    expect(ds.string('x00020010')).toBe(TS.explicitLittleEndian);
    expect(ds.string('x00020002')).toBe('1.2.840.10008.5.1.4.1.1.4'); // MR Image Storage
    expect(ds.string('x00020003')).toBe('1.2.3.3');
    expect(ds.string('x00080016')).toBe('1.2.840.10008.5.1.4.1.1.4');
    expect(ds.string('x00080018')).toBe('1.2.3.3');
    expect(ds.string('x0020000d')).toBe('1.2.3.1');
    expect(ds.string('x0020000e')).toBe('1.2.3.2');
    expect(ds.string('x00080060')).toBe('MR');
    expect(ds.string('x00100020')).toBe('P-42');
    expect(ds.string('x00100010')).toBe('Doe^Jane');
    expect(ds.string('x00080020')).toBe('20231231');
    expect(ds.string('x00081030')).toBe('BRAIN');
    expect(ds.intString('x00200011')).toBe(7);
    expect(ds.intString('x00200013')).toBe(9);
    expect(ds.string('x00180015')).toBe('HEAD');
    expect(ds.string('x00080070')).toBe('HUREN');
    expect(ds.uint16('x00280010')).toBe(10);
    expect(ds.uint16('x00280011')).toBe(12);
    expect(ds.uint16('x00280100')).toBe(8);
    expect(ds.intString('x00280008')).toBe(2);
    expect(ds.string('x00080005')).toBeUndefined(); // all ASCII: no SpecificCharacterSet
    const pixels = ds.elements.x7fe00010;
    expect(buf.subarray(pixels.dataOffset, pixels.dataOffset + pixels.length)).toEqual(Buffer.concat([framePixels(10, 12, 8, 0), framePixels(10, 12, 8, 1)]));
  });

  it('has usable defaults and fresh 2.25 UIDs', () => {
    const a = parseDicom(makeInstance());
    const b = parseDicom(makeInstance());
    for (const tag of ['x0020000d', 'x0020000e', 'x00080018']) {
      expect(a.string(tag)).toMatch(/^2\.25\.[1-9][0-9]*$/);
      expect(isUid(a.string(tag)!)).toBe(true);
      expect(a.string(tag)).not.toBe(b.string(tag));
    }
    expect(a.string('x00080060')).toBe('CT');
    expect(a.string('x00080016')).toBe('1.2.840.10008.5.1.4.1.1.2');
    expect(a.uint16('x00280010')).toBe(64);
    expect(a.uint16('x00280100')).toBe(16);
    expect(a.elements.x7fe00010.length).toBe(64 * 64 * 2);
    expect(a.elements.x00280008).toBeUndefined();
  });

  it('encodes text in the requested character set', () => {
    const ds = parseDicom(makeInstance({ charset: 'GB18030', patientName: '张三^三', studyDescription: '胸部正侧位' }));
    expect(ds.string('x00080005')).toBe('GB18030');
    const raw = (tag: string) => Buffer.from(ds.byteArray.subarray(ds.elements[tag].dataOffset, ds.elements[tag].dataOffset + ds.elements[tag].length));
    expect(raw('x00100010')).toEqual(Buffer.concat([iconv.encode('张三^三', 'gb18030'), Buffer.from(' ')]));
    expect(raw('x00081030')).toEqual(iconv.encode('胸部正侧位', 'gb18030'));
    expect(parseDicom(makeInstance({ patientName: '张三' })).string('x00080005')).toBe('ISO_IR 192');
  });

  it.each([TS.implicitLittleEndian, TS.explicitLittleEndian, TS.deflated, TS.encapsulatedUncompressed])('writes %s', (ts) => {
    const buf = makeInstance({ transferSyntaxUid: ts, numberOfFrames: 2 });
    const ds = parseDicom(buf.subarray(0)); // dicom-parser inflates deflated files itself
    expect(ds.string('x00020010')).toBe(ts);
    expect(readPart10Header(buf)).toMatchObject({ transferSyntaxUid: ts });
  });

  it('randomUid gives valid, distinct UIDs', () => {
    const all = new Set(Array.from({ length: 100 }, randomUid));
    expect(all.size).toBe(100);
    for (const uid of all) expect(isUid(uid)).toBe(true);
  });
});
