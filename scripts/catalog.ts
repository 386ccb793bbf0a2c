import { loadConfig } from '../core/config';
import { createDb } from '../core/db';
import { crosswalk } from '../catalogs/crosswalk';
import { diffCatalogs, type FieldChange } from '../catalogs/diff';
import { findItem, loadCatalogs } from '../catalogs/index';
import { listCatalogVersions, readCatalogVersion } from '../catalogs/load-db';
import type { Catalog, CatalogItem } from '../catalogs/schema';
import { fold, searchItems } from '../catalogs/search';
import { formatTable } from '../catalogs/table';
import { TARGETS, isTargetKey } from '../catalogs/targets';

/** Operator CLI: `npm run catalog -- list|search|show|diff|crosswalk …` (docs/catalogs.md). */

const USAGE = `用法 Usage: npm run catalog -- <command>
  list [catalog]                         目录或其条目 catalogs, or the items of one
  search <text>                          按中文/英文名称、部位、代码查找 search names, targets, codes
  show <code>                            条目详情及等同项目 one item with its equivalents
  diff <catalog> <versionA> <versionB>   比较数据库中的两个版本 compare two loaded versions
  crosswalk [--review]                   跨目录等同统计 / 待复核 equivalence counts / open review
catalog = chuanyu-2025 | xinjiang | zhejiang-2021, or the region code CY | XJ | ZJ`;

class UsageError extends Error {}

function resolveCatalog(arg: string | undefined): Catalog {
  const key = fold(arg ?? '');
  const catalog = loadCatalogs().find((c) => c.id === key || fold(c.region.code) === key);
  if (!catalog) throw new UsageError(`未知目录 Unknown catalog "${arg ?? ''}"`);
  return catalog;
}

const ITEM_HEADERS = ['代码 Code', '名称 Name', 'English name', '模态 Mod.', '部位 Targets', '侧别 Side', '对比 Contrast'];
const itemRow = (i: CatalogItem) => [i.code, i.nameZh, i.nameEn, i.modality, i.targets.join('+'), i.laterality, i.contrast];
const targetText = (t: string) => (isTargetKey(t) ? `${t} (${TARGETS[t].join(' / ')})` : t);
const json = (v: unknown) => (v === undefined ? '—' : JSON.stringify(v));
const validityText = ({ unit, value }: Catalog['validity']) => (unit === 'days' ? `${value} 天 days` : `${value} 个月 month(s)`);

function list(arg: string | undefined): void {
  if (arg) {
    const catalog = resolveCatalog(arg);
    console.log(
      formatTable(
        ['序号 Seq', ...ITEM_HEADERS],
        catalog.items.map((i) => [i.seq, ...itemRow(i)]),
      ),
    );
    return;
  }
  const rows = loadCatalogs().map((c) => [c.id, `${c.region.zh} ${c.region.en}`, c.version, c.items.length, validityText(c.validity), c.document.title]);
  console.log(formatTable(['目录 Catalog', '地区 Region', '版本 Version', '条目 Items', '时限 Validity', '文件 Document'], rows));
}

function search(text: string): void {
  const hits = searchItems(text);
  if (hits.length === 0) return console.log(`无结果 No match for "${text}"`);
  console.log(
    formatTable(
      ['目录 Catalog', ...ITEM_HEADERS],
      hits.map(({ catalog, item }) => [catalog.id, ...itemRow(item)]),
    ),
  );
  console.log(`\n${hits.length} 条 items`);
}

function show(code: string): void {
  const found = findItem(code.normalize('NFKC').trim().toUpperCase());
  if (!found) throw new UsageError(`未知代码 Unknown code "${code}" (try: npm run catalog -- search ${code})`);
  const { catalog, item } = found;
  const equivalents = crosswalk()
    .equivalents(item.code)
    .map((c) => `${c} ${findItem(c)!.item.nameZh} (${findItem(c)!.catalog.id})`);
  const rows: [string, string][] = [
    ['代码 Code', `${item.code} (${item.codeAssignedBy === 'huren' ? '由 huren 编制 assigned by huren' : '公布 published'})`],
    ['目录 Catalog', `${catalog.id} ${catalog.region.zh} (version ${catalog.version})`],
    ['序号 Seq', String(item.seq)],
    ['名称 Name', `${item.nameZh} / ${item.nameEn}`],
    ['公布 Published', [item.published.modality, item.published.part, item.published.name].join(' | ')],
    ...(item.descriptionZh ? [['释义 Description', item.descriptionZh] as [string, string]] : []),
    ['模态 Modality', item.modality],
    ['部位 Targets', item.targets.map(targetText).join('; ')],
    ['侧别 Laterality', item.laterality],
    ['对比 Contrast', item.contrast],
    ['技术 Techniques', item.techniques.join(', ') || '—'],
    ['体位 Views', item.views.join(', ') || '—'],
    ['人群 Patient group', item.patientGroup ?? '—'],
    ['时限 Validity', `${validityText(catalog.validity)}: ${catalog.validity.source} (docs/validity.md)`],
    ...item.flags.map((f): [string, string] => ['标记 Flag', `${f.code}: ${f.note}`]),
    ...catalog.corrections
      .filter((c) => c.item === item.code)
      .map((c): [string, string] => ['OCR 更正 Correction', `${c.field}: ${c.from} → ${c.to} (${c.why})`]),
    ['等同项目 Equivalents', equivalents.join('; ') || '—'],
  ];
  console.log(formatTable(['字段 Field', '值 Value'], rows));
}

async function diff(catalogArg: string, a: string, b: string): Promise<void> {
  const catalog = resolveCatalog(catalogArg);
  const config = loadConfig();
  if (!config.DATABASE_URL) throw new UsageError('DATABASE_URL 未设置 is not set: diff reads the versions loaded in PostgreSQL');
  const db = createDb({ url: config.DATABASE_URL, schema: config.HUREN_DB_SCHEMA, poolMax: 2 });
  try {
    const [from, to] = await Promise.all([readCatalogVersion(db, catalog.id, a), readCatalogVersion(db, catalog.id, b)]);
    if (!from || !to) {
      const loaded = (await listCatalogVersions(db, catalog.id)).map((v) => `"${v.version}"`).join(', ') || 'none';
      throw new UsageError(`版本未载入 Version "${from ? b : a}" of ${catalog.id} is not loaded (loaded: ${loaded})`);
    }
    const d = diffCatalogs(from, to);
    const changeRows = (code: string, changes: FieldChange[]) => changes.map((c) => [code, c.field, json(c.from), json(c.to)]);
    console.log(`${catalog.id}: "${a}" → "${b}"`);
    console.log(`  新增 added ${d.added.length}, 删除 removed ${d.removed.length}, 修改 changed ${d.changed.length}, 目录级 header ${d.header.length}\n`);
    if (d.header.length)
      console.log(
        formatTable(
          ['目录级字段 Header field', '原 From', '新 To'],
          d.header.map((c) => [c.field, json(c.from), json(c.to)]),
        ),
        '\n',
      );
    if (d.added.length) console.log('新增 Added\n' + formatTable(ITEM_HEADERS, d.added.map(itemRow)), '\n');
    if (d.removed.length) console.log('删除 Removed\n' + formatTable(ITEM_HEADERS, d.removed.map(itemRow)), '\n');
    if (d.changed.length) {
      const rows = d.changed.flatMap((c) => changeRows(c.code, c.changes));
      console.log('修改 Changed\n' + formatTable(['代码 Code', '字段 Field', '原 From', '新 To'], rows));
    }
  } finally {
    await db.destroy();
  }
}

function crosswalkCommand(review: boolean): void {
  const cw = crosswalk();
  if (review) {
    const open = cw.unreviewed();
    const name = (code: string) => `${code} ${findItem(code)!.item.nameZh}`;
    if (open.length === 0) return console.log('无待复核 Nothing to review: every near miss has a decision in catalogs/crosswalk-overrides.json');
    console.log(
      formatTable(
        ['项目 A', '项目 B', '差异 Differs in'],
        open.map((m) => [name(m.a), name(m.b), m.difference]),
      ),
    );
    return;
  }
  const catalogs = loadCatalogs();
  const coverage = cw.coverage();
  const rows = catalogs.map((from) => [
    `${from.id} (${from.items.length})`,
    ...catalogs.map((to) => {
      const row = coverage.find((r) => r.from === from.id && r.to === to.id);
      return row ? `${row.withEquivalent} (${Math.round((100 * row.withEquivalent) / row.items)}%)` : '—';
    }),
  ]);
  console.log('有至少一个等同项目的条目数 Items with at least one equivalent in …');
  console.log(formatTable(['目录 Catalog (items)', ...catalogs.map((c) => `→ ${c.id}`)], rows));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...args] = argv;
  if (command === 'list' && args.length <= 1) return list(args[0]);
  if (command === 'search' && args.length >= 1) return search(args.join(' '));
  if (command === 'show' && args.length === 1) return show(args[0]);
  if (command === 'diff' && args.length === 3) return diff(args[0], args[1], args[2]);
  if (command === 'crosswalk' && (args.length === 0 || (args.length === 1 && args[0] === '--review'))) {
    return crosswalkCommand(args.length === 1);
  }
  throw new UsageError(USAGE);
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof UsageError ? e.message : e);
  process.exit(e instanceof UsageError ? 2 : 1);
});
