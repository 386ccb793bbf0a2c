import net from 'node:net';
import { makeInstance, randomUid } from '../../support/dicom-factory';
import { multipartBody, startTestGateway, type TestGateway } from '../../support/gateway';

/**
 * Generated inputs against the real gateway (docs/security.md, "Input hardening"): QIDO query
 * strings, STOW Content-Type headers and multipart bodies, and raw malformed HTTP — 10,000+
 * inputs from a seeded PRNG (reproducible: FUZZ_SEED=<n>). Nothing may answer 5xx, and the
 * process must keep serving.
 */
const SEED = Number(process.env.FUZZ_SEED ?? 20261125);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);

/** mulberry32: small, fast, seeded. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick };
}

const NAMES = [
  'PatientName',
  'PatientID',
  'StudyDate',
  'StudyTime',
  'AccessionNumber',
  'ModalitiesInStudy',
  'StudyInstanceUID',
  'SeriesInstanceUID',
  'SOPInstanceUID',
  'Modality',
  'SeriesNumber',
  'InstanceNumber',
  'PatientBirthDate',
  'StudyDescription',
  'IssuerOfPatientID',
  'BodyPartExamined',
  '00100010',
  '0020000D',
  'includefield',
  'includeField',
  'limit',
  'offset',
  'fuzzymatching',
  'emptyvaluematching',
  'accept',
  'charset',
  'PatientNationalID',
  'reminder',
  'recognitionCode',
  'validAt',
  'recognizableFor',
  'PatientName.Alphabetic',
  '00081030.00080100',
  '__proto__',
  'constructor',
  'x',
  '',
  'ÄÖÜ',
  '患者',
];
const ATOMS = [
  '*',
  '?',
  '**',
  '%',
  '_',
  '\\',
  '^',
  '=',
  '-',
  ',',
  '.',
  '..',
  '/',
  "'",
  '"',
  ';',
  '--',
  'OR 1=1',
  "'; DROP TABLE study; --",
  '$1',
  '\u0000',
  '\u202e',
  '张*',
  '*张三*',
  'ZHANG^SAN',
  '=张^三',
  '1.2.3',
  '1.2.840.10008.5.1.4.1.1.2',
  '2.25.' + '9'.repeat(60),
  '20240101',
  '20240101-20241231',
  '-20240101',
  '20241301',
  '9999999999',
  '-1',
  '0',
  '1e9',
  'true',
  'false',
  'CT\\MR',
  'all',
  '00100010',
  '11010519491231002X',
  '1101*',
  'NaN',
  '{}',
  '[]',
  '%00',
  '%zz',
  '%E4%B8%AD',
  '🙂',
  'a'.repeat(300),
  '\r\n',
  '<script>',
  'application/dicom+json',
  'multipart/related',
];
const PATHS = [
  '/studies',
  '/series',
  '/instances',
  '/studies/1.2.3/series',
  '/studies/1.2.3/instances',
  '/studies/1.2.3/series/4.5/instances',
  '/studies/1.2.x/series',
];

function value(r: ReturnType<typeof prng>): string {
  const parts = Array.from({ length: 1 + r.int(3) }, () => (r.next() < 0.1 ? String.fromCharCode(r.int(0x3000)) : r.pick(ATOMS)));
  return parts.join('');
}

/** Percent-encodes most of the time; sometimes sends the raw (possibly invalid) text. */
const enc = (r: ReturnType<typeof prng>, s: string) =>
  r.next() < 0.8 ? encodeURIComponent(s) : s.replace(/[\s#]/g, '%20').replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));

function qidoInput(r: ReturnType<typeof prng>): string {
  const params = Array.from({ length: r.int(5) }, () => `${enc(r, r.pick(NAMES))}${r.next() < 0.95 ? '=' : ''}${enc(r, value(r))}`);
  return `${r.pick(PATHS)}${params.length ? '?' : ''}${params.join('&')}`;
}

const TYPES = [
  'multipart/related',
  'multipart/related; type="application/dicom"',
  'multipart/related; type=application/dicom',
  'multipart/form-data',
  'application/dicom',
  'text/plain',
  '',
  ';;;',
  'multipart/related; type="application/dicom+xml"',
];
function contentTypeInput(r: ReturnType<typeof prng>): string {
  let ct = r.pick(TYPES);
  const boundaries = ['b', 'x'.repeat(70), 'x'.repeat(71), '"quoted boundary"', '', '==', '--', '\u00e9', 'a b', '"unterminated', randomUid()];
  if (r.next() < 0.8) ct += `; boundary=${r.pick(boundaries)}`;
  if (r.next() < 0.2) ct += `; ${r.pick(['charset=utf-8', 'start=<x>', 'type=', 'boundary=again', 'x'.repeat(r.int(2000))])}`;
  return ct;
}

function multipartInput(r: ReturnType<typeof prng>, dicom: Buffer): { body: Buffer; contentType: string; kind: number } {
  const kind = r.int(7);
  return { ...multipartOf(r, dicom, kind), kind };
}

function multipartOf(r: ReturnType<typeof prng>, dicom: Buffer, kind: number): { body: Buffer; contentType: string } {
  const boundary = r.pick(['b', 'huren', 'x'.repeat(70)]);
  const valid = multipartBody([dicom], boundary);
  switch (kind) {
    case 0: // truncated anywhere
      return { body: valid.body.subarray(0, r.int(valid.body.length)), contentType: valid.contentType };
    case 1: // garbage
      return { body: Buffer.from(Array.from({ length: r.int(4096) }, () => r.int(256))), contentType: valid.contentType };
    case 2: {
      // huge or many part headers
      const headers =
        r.next() < 0.5 ? `X-Big: ${'h'.repeat(20_000 + r.int(50_000))}\r\n` : Array.from({ length: 60 + r.int(200) }, (_, i) => `X-${i}: v\r\n`).join('');
      return {
        body: Buffer.from(`--${boundary}\r\n${headers}Content-Type: application/dicom\r\n\r\nDICM\r\n--${boundary}--\r\n`),
        contentType: valid.contentType,
      };
    }
    case 3: {
      // a DICOM file cut inside its header or data set, in a well-framed part
      const cut = dicom.subarray(0, 128 + r.int(dicom.length - 128));
      return multipartBody([cut], boundary);
    }
    case 4: {
      // bytes flipped in a valid body
      const body = Buffer.from(valid.body);
      for (let i = 0; i < 1 + r.int(8); i++) body[r.int(body.length)] = r.int(256);
      return { body, contentType: valid.contentType };
    }
    case 5: // parts of other types, empty parts, no closing delimiter
      return {
        body: Buffer.from(`--${boundary}\r\nContent-Type: ${value(r).slice(0, 100)}\r\n\r\n${value(r)}\r\n--${boundary}\r\n\r\n\r\n--${boundary}`),
        contentType: valid.contentType,
      };
    default: // preamble/epilogue noise, LF-only line ends
      return {
        body: Buffer.from(`noise\n--${boundary}\nContent-Type: application/dicom\n\n${value(r)}\n--${boundary}--\nepilogue`),
        contentType: valid.contentType,
      };
  }
}

describe('generated inputs', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ workers: false, env: { HUREN_STOW_MAX_REQUEST_BYTES: '2000000', HUREN_STOW_MAX_PART_BYTES: '500000' } });
  });
  afterAll(() => gw.close());

  it('answer 10,000+ QIDO, STOW-header and multipart inputs without a 5xx, and the gateway keeps serving', async () => {
    const r = prng(SEED);
    const dicom = makeInstance({ rows: 16, columns: 16 });
    const started = Date.now();
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let inputs = 0;

    const send = async (label: string, url: string, init: RequestInit = {}) => {
      inputs++;
      let status: number;
      try {
        const res = await gw.fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
        await res.arrayBuffer();
        status = res.status;
      } catch (err) {
        // A connection the server closed on purpose (e.g. a malformed request) is not a failure; no answer at all is.
        status = (err as Error).name === 'TimeoutError' ? 504 : -1;
      }
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
      if (status >= 500) failures.push(`${status} ${label}`);
    };

    const jobs: Array<() => Promise<void>> = [];
    for (let i = 0; i < 5000 * SCALE; i++) {
      const input = qidoInput(r);
      jobs.push(() => send(`QIDO ${input}`, `${gw.dicomweb}${input}`, { headers: r.next() < 0.1 ? { Accept: value(r).replace(/[^\x20-\x7e]/g, '') } : {} }));
    }
    for (let i = 0; i < 2500 * SCALE; i++) {
      const ct = contentTypeInput(r);
      const body = r.next() < 0.5 ? multipartBody([dicom], 'b').body : Buffer.from(value(r));
      const path = r.next() < 0.2 ? `/studies/${r.pick(['1.2.3', '1.02', 'x', randomUid()])}` : '/studies';
      jobs.push(() =>
        send(`STOW Content-Type ${JSON.stringify(ct.slice(0, 200))}`, `${gw.dicomweb}${path}`, { method: 'POST', body, headers: { 'Content-Type': ct } }),
      );
    }
    for (let i = 0; i < 2600 * SCALE; i++) {
      const { body, contentType, kind } = multipartInput(r, dicom);
      jobs.push(() =>
        send(`STOW body #${i} kind ${kind} (${body.length} bytes): ${JSON.stringify(body.subarray(0, 300).toString('latin1'))}`, `${gw.dicomweb}/studies`, {
          method: 'POST',
          body,
          headers: { 'Content-Type': contentType },
        }),
      );
    }
    // Interleave kinds, run 16 at a time.
    for (let i = jobs.length - 1; i > 0; i--) {
      const j = r.int(i + 1);
      [jobs[i], jobs[j]] = [jobs[j], jobs[i]];
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next < jobs.length) await jobs[next++]();
      }),
    );

    // Raw, malformed HTTP on sockets: request lines, header syntax, lengths.
    const RAW = [
      'GET /dicomweb/studies?PatientName=%ZZ HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET /dicomweb/studies HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \u0001\r\n\r\n',
      'POST /dicomweb/studies HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
      'POST /dicomweb/studies HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'GET / HTTP/9.9\r\n\r\n',
      '\u0000\u0001\u0002garbage\r\n\r\n',
      `GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
      'GET /dicomweb/studies HTTP/1.1\r\nHost: x\r\nX: y\r\n z\r\n\r\n',
    ];
    for (let i = 0; i < 200; i++) {
      inputs++;
      await new Promise<void>((resolve) => {
        const socket = net.connect((new URL(gw.baseUrl).port as unknown as number) || 80, '127.0.0.1', () => socket.end(r.pick(RAW)));
        socket.on('data', (d) => {
          const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(d.toString('latin1'))?.[1] ?? 0);
          if (status >= 500) failures.push(`${status} raw`);
        });
        socket.on('error', () => resolve());
        socket.on('close', () => resolve());
        socket.setTimeout(2000, () => socket.destroy());
      });
    }

    expect(inputs).toBeGreaterThanOrEqual(10_000 * SCALE);
    expect(failures.slice(0, 20)).toEqual([]);
    console.log(`${inputs} inputs in ${Date.now() - started} ms`, Object.fromEntries(statuses));
    // The gateway is alive and still does real work.
    expect((await gw.fetch(`${gw.baseUrl}/healthz`)).status).toBe(200);
    expect((await gw.fetch(`${gw.dicomweb}/studies?limit=1`)).status).toBe(200);
    const { body, contentType } = multipartBody([makeInstance()]);
    expect((await gw.fetch(`${gw.dicomweb}/studies`, { method: 'POST', body, headers: { 'Content-Type': contentType } })).status).toBe(200);
    // A broad mix of answers, not one refusal for everything.
    expect([...statuses.keys()].filter((s) => s >= 200 && s < 500).length).toBeGreaterThanOrEqual(5);
  }, 300_000);
});
