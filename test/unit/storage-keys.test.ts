import { assertSafeKey, instanceObjectKey } from '../../core/storage/keys';

const STUDY = '1.2.840.113619.2.55.3.604688119.969.1268071029.320';
const SERIES = '1.2.840.113619.2.55.3.604688119.969.1268071029.321';
const SOP = '1.2.840.113619.2.55.3.604688119.969.1268071029.322';
const UPLOAD = '3f2b8c1e-9a4d-4e6f-8b7a-0c1d2e3f4a5b';

describe('instanceObjectKey', () => {
  it('lays out study/series/instance/upload', () => {
    expect(instanceObjectKey(STUDY, SERIES, SOP, UPLOAD)).toBe(`studies/${STUDY}/series/${SERIES}/instances/${SOP}/${UPLOAD}.dcm`);
  });

  it('produces keys the drivers accept', () => {
    expect(() => assertSafeKey(instanceObjectKey(STUDY, SERIES, SOP, UPLOAD))).not.toThrow();
  });

  it.each([
    ['study', ['../etc', SERIES, SOP]],
    ['study', ['', SERIES, SOP]],
    ['series', [STUDY, '1.2/../3', SOP]],
    ['series', [STUDY, '01.2', SOP]],
    ['sop', [STUDY, SERIES, '1.2.3 ']],
    ['sop', [STUDY, SERIES, `1.${'2'.repeat(70)}`]],
  ])('rejects an invalid %s UID', (_which, [study, series, sop]) => {
    expect(() => instanceObjectKey(study!, series!, sop!, UPLOAD)).toThrow(/not a valid DICOM UID/);
  });

  it.each(['3F2B8C1E-9A4D-4E6F-8B7A-0C1D2E3F4A5B', 'not-a-uuid', '', `${UPLOAD}/..`, `../${UPLOAD}`])('rejects upload id %j', (id) => {
    expect(() => instanceObjectKey(STUDY, SERIES, SOP, id)).toThrow(/not a lowercase UUID/);
  });
});

describe('assertSafeKey', () => {
  it.each(['a', 'studies/1.2.3/x.dcm', 'A-Z_a.z/0-9', 'a/b.c/d'])('accepts %j', (key) => {
    expect(() => assertSafeKey(key)).not.toThrow();
  });

  it.each([
    ['empty', ''],
    ['absolute', '/etc/passwd'],
    ['parent segment', '../x'],
    ['parent segment inside', 'a/../../x'],
    ['trailing parent', 'a/..'],
    ['dot segment', 'a/./b'],
    ['hidden / temp-file name', 'a/.b.1234.part'],
    ['backslash', 'a\\b'],
    ['windows traversal', '..\\x'],
    ['NUL', 'a\0b'],
    ['double slash', 'a//b'],
    ['trailing slash', 'a/'],
    ['space', 'a b'],
    ['non-ASCII', 'studies/é'],
    ['percent-encoding', 'a/%2e%2e/b'],
    ['too long', 'a'.repeat(1025)],
  ])('rejects %s', (_why, key) => {
    expect(() => assertSafeKey(key)).toThrow(/Unsafe object key/);
  });
});
