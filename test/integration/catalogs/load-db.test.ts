import { canonicalJson } from '../../../catalogs/diff';
import { loadCatalogs } from '../../../catalogs/index';
import { listCatalogVersions, readCatalogVersion, syncCatalogs } from '../../../catalogs/load-db';
import type { Catalog } from '../../../catalogs/schema';
import { createTestDb, type TestDb } from '../../support/services';

/** A copy of a bundled catalog with a changed item name, optionally under a new version. */
function edited(id: string, version?: string): Catalog {
  const c = structuredClone(loadCatalogs().find((x) => x.id === id)!);
  c.items[0].nameEn = `${c.items[0].nameEn} (revised)`;
  if (version) c.version = version;
  return c;
}

describe('syncCatalogs (PostgreSQL)', () => {
  let t: TestDb;
  beforeAll(async () => {
    t = await createTestDb();
  });
  afterAll(() => t.drop());

  const counts = async () =>
    (await t.db('catalog_item').select('catalog_id', 'version').count('* as n').groupBy('catalog_id', 'version').orderBy('catalog_id')).map(
      (r) => `${r.catalog_id}@${r.version}:${r.n}`,
    );

  it('loads every bundled catalog, then does nothing on the next call', async () => {
    expect(await syncCatalogs(t.db)).toEqual([
      { catalogId: 'chuanyu-2025', version: '2025', status: 'inserted' },
      { catalogId: 'xinjiang', version: '试行 (trial)', status: 'inserted' },
      { catalogId: 'zhejiang-2021', version: '2021', status: 'inserted' },
    ]);
    const loadedAt = (await listCatalogVersions(t.db)).map((v) => v.loadedAt.toISOString());
    expect((await syncCatalogs(t.db)).map((r) => r.status)).toEqual(['present', 'present', 'present']);
    expect((await listCatalogVersions(t.db)).map((v) => v.loadedAt.toISOString())).toEqual(loadedAt);
    expect(await counts()).toEqual(['chuanyu-2025@2025:141', 'xinjiang@试行 (trial):298', 'zhejiang-2021@2021:180']);
  });

  it('reads a loaded version back unchanged', async () => {
    const original = loadCatalogs().find((c) => c.id === 'xinjiang')!;
    const loaded = await readCatalogVersion(t.db, 'xinjiang', '试行 (trial)');
    expect(canonicalJson(loaded)).toBe(canonicalJson(original));
    expect(await readCatalogVersion(t.db, 'xinjiang', 'no-such-version')).toBeUndefined();
    const row = await t.db('catalog_item').where({ code: 'XJHRYX-DR0208' }).first();
    expect(row.attributes.nameZh).toBe('颈椎正侧位DR');
  });

  it('adds a new version next to the old one', async () => {
    const [, xinjiang, zhejiang] = loadCatalogs();
    const next = edited('chuanyu-2025', '2025.1');
    expect((await syncCatalogs(t.db, [next, xinjiang, zhejiang])).map((r) => r.status)).toEqual(['inserted', 'present', 'present']);
    expect((await listCatalogVersions(t.db, 'chuanyu-2025')).map((v) => v.version)).toEqual(['2025', '2025.1']);
    expect((await readCatalogVersion(t.db, 'chuanyu-2025', '2025'))!.items[0].nameEn).toBe('Chest PA radiograph (standing)');
    expect((await readCatalogVersion(t.db, 'chuanyu-2025', '2025.1'))!.items[0].nameEn).toBe('Chest PA radiograph (standing) (revised)');
  });

  it('refuses changed content under a loaded version id and inserts nothing', async () => {
    const before = await counts();
    const fresh = edited('zhejiang-2021', '2021-b'); // would be inserted, but the batch fails
    await expect(syncCatalogs(t.db, [fresh, edited('xinjiang')])).rejects.toThrow(
      /Catalog xinjiang version "试行 \(trial\)" is already loaded with different content .* give the changed catalog a new "version"/,
    );
    expect(await counts()).toEqual(before);
  });

  it('never lets a loaded version be changed or deleted', async () => {
    await expect(t.db('catalog_item').where({ code: 'CY2025-001' }).del()).rejects.toThrow(/never changed or erased/);
    await expect(t.db('catalog_version').where({ catalog_id: 'xinjiang' }).update({ rules: {} })).rejects.toThrow(/never changed or erased/);
  });
});
