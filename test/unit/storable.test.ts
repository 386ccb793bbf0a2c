import { withoutNulCharacters } from '../../core/index-store/storable';

describe('withoutNulCharacters', () => {
  it('removes NUL from strings inside arrays and plain objects, leaving other values alone', () => {
    const binary = new Uint8Array([0, 1, 0]);
    const input = { a: 'x\u0000y', b: ['\u0000', 'ok', 3, null], c: { d: 'e\u0000' }, binary, n: 1, t: true };
    const out = withoutNulCharacters(input);
    expect(out).toEqual({ a: 'xy', b: ['', 'ok', 3, null], c: { d: 'e' }, binary, n: 1, t: true });
    expect(out.binary).toBe(binary);
    expect(input.a).toBe('x\u0000y');
  });

  it('returns what holds no NUL as it is, and copies only the parts that change', () => {
    const clean = { a: 'x', b: ['y', { c: 'z' }], n: [1, 2] };
    expect(withoutNulCharacters(clean)).toBe(clean);
    const input = { a: 'x', b: ['y\u0000', { c: 'z' }], n: [1, 2] };
    const out = withoutNulCharacters(input);
    expect(out).toEqual({ a: 'x', b: ['y', { c: 'z' }], n: [1, 2] });
    expect(out.n).toBe(input.n);
    expect(out.b[1]).toBe(input.b[1]);
    expect(input.b[0]).toBe('y\u0000');
  });
});
