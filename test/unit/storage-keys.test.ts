import { assertSafeKey, uploadObjectKey, uploadPrefix } from '../../core/storage/keys';

const SOP = '1.2.840.113619.2.55.3.604688119.969.1268071029.322';
const UPLOAD = '3f2b8c1e-9a4d-4e6f-8b7a-0c1d2e3f4a5b';

describe('uploadPrefix / uploadObjectKey', () => {
  const AT = new Date('2026-11-25T23:59:59Z');

  it('lays out objects/date/upload/position-SOP', () => {
    const prefix = uploadPrefix(UPLOAD, AT);
    expect(prefix).toBe(`objects/2026/11/25/${UPLOAD}/`);
    expect(uploadObjectKey(prefix, 7, SOP)).toBe(`objects/2026/11/25/${UPLOAD}/7-${SOP}.dcm`);
  });

  it('produces keys and prefixes the drivers accept', () => {
    const prefix = uploadPrefix(UPLOAD, AT);
    expect(() => assertSafeKey(uploadObjectKey(prefix, 1, SOP))).not.toThrow();
    expect(() => assertSafeKey(prefix.slice(0, -1))).not.toThrow();
  });

  it.each(['../etc', '', '1.2/../3', '01.2', '1.2.3 ', `1.${'2'.repeat(70)}`])('rejects SOP Instance UID %j', (sop) => {
    expect(() => uploadObjectKey(uploadPrefix(UPLOAD, AT), 1, sop)).toThrow(/not a valid DICOM UID/);
  });

  it.each([0, -1, 1.5, Number.NaN])('rejects position %d', (position) => {
    expect(() => uploadObjectKey(uploadPrefix(UPLOAD, AT), position, SOP)).toThrow(/not a positive integer/);
  });

  it.each(['3F2B8C1E-9A4D-4E6F-8B7A-0C1D2E3F4A5B', 'not-a-uuid', '', `${UPLOAD}/..`, `../${UPLOAD}`])('rejects upload id %j', (id) => {
    expect(() => uploadPrefix(id, AT)).toThrow(/not a lowercase UUID/);
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
