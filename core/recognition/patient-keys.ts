/**
 * The two patient-identity keys (docs/patient-identity.md): where they come from.
 * Configured keys always win. Without them, HUREN_DEV_KEYS=true (and `npm start`, which
 * sets the variables itself) uses dev keys kept under HUREN_DATA_DIR/secrets; otherwise
 * there are no keys and national IDs are neither stored nor accepted.
 */
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';

export interface PatientIdKeys {
  /** HMAC-SHA256 key of the lookup hash. */
  hashKey: Buffer;
  /** AES-256-GCM key of the ciphertext. */
  encryptionKey: Buffer;
}

/** The same keys as environment values (base64), as the config expects them. */
export interface PatientIdKeyEnv {
  HUREN_PATIENT_ID_HASH_KEY: string;
  HUREN_PATIENT_ID_ENCRYPTION_KEY: string;
}

const DEV_KEYS_FILE = 'patient-id-keys.json';

export function patientIdKeys(config: Config): PatientIdKeys | null {
  if (config.HUREN_PATIENT_ID_HASH_KEY && config.HUREN_PATIENT_ID_ENCRYPTION_KEY) {
    return decodeKeys({
      HUREN_PATIENT_ID_HASH_KEY: config.HUREN_PATIENT_ID_HASH_KEY,
      HUREN_PATIENT_ID_ENCRYPTION_KEY: config.HUREN_PATIENT_ID_ENCRYPTION_KEY,
    });
  }
  if (config.HUREN_DEV_KEYS) return decodeKeys(loadOrCreateDevKeys(path.resolve(config.HUREN_DATA_DIR, 'secrets')));
  return null;
}

export function decodeKeys(env: PatientIdKeyEnv): PatientIdKeys {
  return { hashKey: Buffer.from(env.HUREN_PATIENT_ID_HASH_KEY, 'base64'), encryptionKey: Buffer.from(env.HUREN_PATIENT_ID_ENCRYPTION_KEY, 'base64') };
}

/**
 * Dev keys in `dir`, created on first use. Gateway and worker may start at the same moment:
 * the file is written aside and linked into place (link fails if it exists), so both end up
 * with the one set that won, never with two different ones or a half-written file.
 */
export function loadOrCreateDevKeys(dir: string): PatientIdKeyEnv {
  const file = path.join(dir, DEV_KEYS_FILE);
  const existing = readKeysFile(file);
  if (existing) return existing;
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keys: PatientIdKeyEnv = {
    HUREN_PATIENT_ID_HASH_KEY: randomBytes(32).toString('base64'),
    HUREN_PATIENT_ID_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  };
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(temp, JSON.stringify(keys, null, 2), { mode: 0o600 });
  try {
    linkSync(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    rmSync(temp, { force: true });
  }
  const stored = readKeysFile(file);
  if (!stored) throw new Error(`${file} holds no valid keys / 密钥文件无效`);
  return stored;
}

function readKeysFile(file: string): PatientIdKeyEnv | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  const keys = JSON.parse(text) as Partial<PatientIdKeyEnv>;
  const ok = (k: unknown) => typeof k === 'string' && Buffer.from(k, 'base64').length === 32;
  if (!ok(keys.HUREN_PATIENT_ID_HASH_KEY) || !ok(keys.HUREN_PATIENT_ID_ENCRYPTION_KEY)) throw new Error(`${file} holds no valid keys / 密钥文件无效`);
  return keys as PatientIdKeyEnv;
}
