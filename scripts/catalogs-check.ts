import { checkCatalogs } from '../catalogs/check';
import { formatTable } from '../catalogs/table';

/** `npm run catalogs:check` (also in CI): validates the bundled catalogs; exit 1 on any error. */
const { reports, errors } = checkCatalogs();

for (const r of reports) {
  const m = r.byModality;
  const status = r.errors.length ? `${r.errors.length} error(s) / 个错误` : 'OK';
  console.log(`\n${r.id} (version ${r.version}): ${status}`);
  console.log(
    formatTable(
      ['检查项 Check', '结果 Result'],
      [
        ['条目数 Items / itemCount', `${r.items} / ${r.itemCount}`],
        ['DR / MG / CT / MR', `${m.DR} / ${m.MG} / ${m.CT} / ${m.MR}`],
        ['OCR 更正 Corrections', r.corrections],
        ['不予互认情形 Non-recognition reasons', r.reasons],
        ['互认范围规则 Scope rules', r.scopeRules],
        ['标记条目 Flagged items', r.flaggedItems],
      ],
    ),
  );
}

if (errors.length) {
  console.error(`\n${errors.length} error(s) / 个错误:`);
  for (const e of errors) console.error(`  ✗ ${e}`);
  process.exit(1);
}
console.log('\nAll catalogs valid / 全部目录校验通过');
