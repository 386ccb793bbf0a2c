import { createTestDb, type TestDb } from '../support/services';

describe('migrations', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb();
  });
  afterAll(() => t.drop());

  it('create the index tables in the run’s own schema', async () => {
    const rows = await t.db('information_schema.tables').select('table_name').where({ table_schema: t.schema });
    expect(rows.map((r) => r.table_name).sort()).toEqual(expect.arrayContaining(['instance', 'instance_version', 'patient', 'series', 'study', 'upload']));
  });

  it('roll back cleanly', async () => {
    await t.db.migrate.rollback({ schemaName: t.schema, directory: 'migrations', loadExtensions: ['.ts'] }, true);
    const rows = await t.db('information_schema.tables').where({ table_schema: t.schema, table_name: 'study' });
    expect(rows).toHaveLength(0);
  });
});
