import { readPart10Header } from '../../../core/dicom/part10-header';
import { makeDataset, makeInstance, TS, writePart10 } from '../../support/dicom-factory';

/** SourceApplicationEntityTitle (0002,0016) attributes a sender; it lives in the file meta only. */
describe('source AE title from the Part 10 file meta', () => {
  const withMeta = (meta: Record<string, unknown>, transferSyntaxUid: string = TS.explicitLittleEndian) => {
    const { dataset } = makeDataset({ rows: 2, columns: 2 });
    dataset.PixelData = new Uint16Array(4).buffer;
    dataset._vrMap = { PixelData: 'OW' };
    return writePart10({ dataset, transferSyntaxUid, meta });
  };

  it('is read, trimmed, for native and deflated files', () => {
    expect(readPart10Header(withMeta({ SourceApplicationEntityTitle: 'ZJPH_CT ' }))).toMatchObject({ sourceApplicationEntityTitle: 'ZJPH_CT' });
    expect(readPart10Header(withMeta({ SourceApplicationEntityTitle: 'PACS1' }, TS.deflated))).toMatchObject({ sourceApplicationEntityTitle: 'PACS1' });
  });

  it('is absent when the meta has none', () => {
    const header = readPart10Header(makeInstance());
    expect(header).not.toBe('incomplete');
    expect(header).not.toHaveProperty('sourceApplicationEntityTitle');
  });
});
