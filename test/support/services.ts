import { randomBytes } from 'node:crypto';
import { createDb, migrateLatest, type Db } from '../../core/db';

/**
 * Real PostgreSQL and Redis for integration tests (127.0.0.1, as on every dev and CI machine).
 * Each test file gets its own schema and Redis key prefix so runs never collide.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

export interface TestDb {
  db: Db;
  schema: string;
  drop(): Promise<void>;
}

export async function createTestDb(): Promise<TestDb> {
  const schema = uniqueName('huren_t');
  const db = createDb({ url: TEST_DATABASE_URL, schema, poolMax: 10 });
  await migrateLatest(db, schema);
  return {
    db,
    schema,
    async drop() {
      await db.raw('DROP SCHEMA IF EXISTS ?? CASCADE', [schema]);
      await db.destroy();
    },
  };
}
