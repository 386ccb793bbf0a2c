import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../../core/config';
import { nationalIdInDataset, nationalIdIssuers, withoutNationalIds } from '../../../core/recognition/national-id-dicom';
import { decryptNationalId, encryptNationalId, hashNationalId, keyId } from '../../../core/recognition/patient-identity';
import { loadOrCreateDevKeys, patientIdKeys } from '../../../core/recognition/patient-keys';

const ID = '11010519491231002X';
const keys = { hashKey: randomBytes(32), encryptionKey: randomBytes(32) };

describe('keyed hash and encryption of a national ID', () => {
  it('hashes deterministically under one key, differently under another, and names the key', () => {
    const h = hashNationalId(keys, ID);
    expect(h).toMatch(new RegExp(`^h1:${keyId(keys.hashKey)}:[0-9a-f]{64}$`));
    expect(hashNationalId(keys, ID)).toBe(h);
    expect(hashNationalId({ ...keys, hashKey: randomBytes(32) }, ID)).not.toBe(h);
    expect(h).not.toContain(ID);
  });

  it('encrypts with a fresh IV each time and decrypts only for the same patient row and key', () => {
    const a = encryptNationalId(keys, ID, 7);
    const b = encryptNationalId(keys, ID, 7);
    expect(a).not.toBe(b);
    expect(a).toMatch(/^g1:[0-9a-f]{8}:/);
    expect(a).not.toContain(ID);
    expect(decryptNationalId(keys, a, 7)).toBe(ID);
    expect(() => decryptNationalId(keys, a, 8)).toThrow();
    expect(() => decryptNationalId({ ...keys, encryptionKey: randomBytes(32) }, a, 7)).toThrow(/encrypted under key/);
    const parts = a.split(':');
    const ciphertext = Buffer.from(parts[3], 'base64url');
    ciphertext[0] ^= 1;
    parts[3] = ciphertext.toString('base64url');
    expect(() => decryptNationalId(keys, parts.join(':'), 7)).toThrow();
  });
});

describe('national ID in a DICOM data set', () => {
  const issuers = nationalIdIssuers('RESIDENT_ID,MY_REGISTER');
  const item = (id: string, issuer: string) => ({ '00100020': { vr: 'LO', Value: [id] }, '00100021': { vr: 'LO', Value: [issuer] } });
  const dataset = (items: object[], extra: Record<string, unknown> = {}) => ({
    '00100020': { vr: 'LO', Value: ['HOSP-123'] },
    '00100021': { vr: 'LO', Value: ['HOSP'] },
    '00101002': { vr: 'SQ', Value: items },
    ...extra,
  });

  it('finds the item of a configured issuer or a common spelling, case- and width-insensitively', () => {
    expect(nationalIdInDataset(dataset([item('MRN-9', 'OTHER'), item(ID, 'resident_id')]), issuers)).toBe(ID);
    expect(nationalIdInDataset(dataset([item(ID, '居民身份证号')]), issuers)).toBe(ID);
    expect(nationalIdInDataset(dataset([item(ID, 'ＭＹ_ＲＥＧＩＳＴＥＲ')]), issuers)).toBe(ID);
    expect(nationalIdInDataset(dataset([item(ID, 'SOMETHING_ELSE')]), issuers)).toBeUndefined();
    expect(nationalIdInDataset({}, issuers)).toBeUndefined();
  });

  it('takes the primary PatientID when its own issuer is the resident ID register', () => {
    expect(nationalIdInDataset({ '00100020': { vr: 'LO', Value: [ID] }, '00100021': { vr: 'LO', Value: ['身份证'] } }, issuers)).toBe(ID);
  });

  it('removes the national-ID items (and the same number among OtherPatientIDs) from what is stored', () => {
    const ds = dataset([item('MRN-9', 'OTHER'), item(ID, 'RESIDENT_ID')], { '00101000': { vr: 'LO', Value: ['MRN-9', ID.toLowerCase()] } });
    const stored = withoutNationalIds(ds, issuers);
    expect(JSON.stringify(stored)).not.toMatch(new RegExp(ID, 'i'));
    expect(stored['00101002']).toEqual({ vr: 'SQ', Value: [item('MRN-9', 'OTHER')] });
    expect(stored['00101000']).toEqual({ vr: 'LO', Value: ['MRN-9'] });
    expect(stored['00100020']).toEqual({ vr: 'LO', Value: ['HOSP-123'] }); // the sender's own ID, untouched
    expect(JSON.stringify(ds)).toContain(ID); // the input is not modified

    const only = withoutNationalIds(dataset([item(ID, 'RESIDENT_ID')]), issuers);
    expect(only['00101002']).toBeUndefined();
    const none = dataset([item('MRN-9', 'OTHER')]);
    expect(withoutNationalIds(none, issuers)).toBe(none);
  });
});

describe('patient-identity keys from the configuration', () => {
  const key = () => randomBytes(32).toString('base64');
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'huren-keys-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('uses configured keys, else dev keys when allowed, else none', () => {
    const hash = key();
    const enc = key();
    const configured = patientIdKeys(loadConfig({ HUREN_PATIENT_ID_HASH_KEY: hash, HUREN_PATIENT_ID_ENCRYPTION_KEY: enc }));
    expect(configured?.hashKey.toString('base64')).toBe(hash);
    expect(configured?.encryptionKey.toString('base64')).toBe(enc);
    expect(patientIdKeys(loadConfig({}))).toBeNull();
    const dev = patientIdKeys(loadConfig({ HUREN_DEV_KEYS: 'true', HUREN_DATA_DIR: dir }));
    expect(dev?.hashKey).toHaveLength(32);
  });

  it('creates dev keys once, readable by the owner only, and returns the same ones afterwards', () => {
    const first = loadOrCreateDevKeys(path.join(dir, 'secrets'));
    const again = loadOrCreateDevKeys(path.join(dir, 'secrets'));
    expect(again).toEqual(first);
    const file = path.join(dir, 'secrets', 'patient-id-keys.json');
    expect(statSync(file).mode & 0o077).toBe(0);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(first);
  });

  it('refuses to start a production build without keys unless HUREN_DEV_KEYS=true', () => {
    expect(() => loadConfig({}, { production: true })).toThrow(/HUREN_PATIENT_ID_HASH_KEY.*required in production/);
    expect(() => loadConfig({ HUREN_DEV_KEYS: 'true' }, { production: true })).not.toThrow();
    expect(() => loadConfig({ HUREN_PATIENT_ID_HASH_KEY: key(), HUREN_PATIENT_ID_ENCRYPTION_KEY: key() }, { production: true })).not.toThrow();
    expect(() => loadConfig({})).not.toThrow(); // tests and tsx run the sources
  });

  it('refuses one key without the other, and keys that are not 32 bytes of base64', () => {
    expect(() => loadConfig({ HUREN_PATIENT_ID_HASH_KEY: key() })).toThrow(/set both or neither/);
    expect(() => loadConfig({ HUREN_PATIENT_ID_HASH_KEY: 'secret', HUREN_PATIENT_ID_ENCRYPTION_KEY: key() })).toThrow(/32 random bytes/);
    expect(() => loadConfig({ HUREN_PATIENT_ID_HASH_KEY: randomBytes(16).toString('base64'), HUREN_PATIENT_ID_ENCRYPTION_KEY: key() })).toThrow(
      /32 random bytes/,
    );
  });
});
