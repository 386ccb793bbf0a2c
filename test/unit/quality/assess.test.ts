import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadCatalogs } from '../../../catalogs/index';
import { isTargetKey } from '../../../catalogs/targets';
import { aggregate, assessQuality } from '../../../core/quality/assess';
import { CATALOG_RULES, CT_GROUPS, MR_GROUPS } from '../../../core/quality/requirements';
import type { Finding } from '../../../core/quality/types';
import { codes, ctStack, image, input, item, series, STUDY } from './fixtures';

const f = (severity: Finding['severity']): Finding => ({ code: 'QC-X', severity, message: { zh: 'x', en: 'x' } });

describe('quality: assessment', () => {
  it('aggregates: fail if any fail, warn if any warn, info does not count', () => {
    expect(aggregate([])).toBe('pass');
    expect(aggregate([f('info')])).toBe('pass');
    expect(aggregate([f('info'), f('warn')])).toBe('warn');
    expect(aggregate([f('warn'), f('fail'), f('info')])).toBe('fail');
  });

  it('passes a complete study, warns on a missing report when unmapped, fails it when mapped to 新疆', () => {
    expect(assessQuality(input())).toEqual({ result: 'pass', findings: [] });
    expect(assessQuality(input({ reports: [] }))).toMatchObject({ result: 'warn', findings: [expect.objectContaining({ code: 'QC-REPORT-MISSING' })] });
    const xj = assessQuality(
      input({ reports: [], series: [ctStack('Lung', 40, { ConvolutionKernel: 'B70f' }), ctStack('Mediastinum', 40)], mappedItems: [item('XJHRYX-CT0603')] }),
    );
    expect(xj.result).toBe('fail');
    expect(codes(xj.findings)).toEqual(['QC-REPORT-MISSING']);
  });

  it('lists findings of every group, patient/study first', () => {
    const dx = series('DX', null, [image('DX', { ViewPosition: undefined })]);
    const result = assessQuality(input({ study: { ...STUDY, AccessionNumber: undefined }, series: [dx], reports: [], mappedItems: [item('CY2025-019')] }));
    expect(codes(result.findings)).toEqual(['QC-STUDY-ACCESSION-MISSING', 'QC-ITEM-DR-IMAGES-TOO-FEW', 'QC-REPORT-MISSING', 'QC-DR-VIEW-MISSING']);
    expect(result.result).toBe('warn');
  });

  it('is deterministic for a given input', () => {
    const i = input({ reports: [] });
    expect(assessQuality(i)).toEqual(assessQuality(i));
  });
});

describe('quality: rules as data', () => {
  it('cites only requirement codes the catalogs contain', () => {
    const catalogs = loadCatalogs();
    for (const [catalogId, rules] of Object.entries(CATALOG_RULES)) {
      const catalog = catalogs.find((c) => c.id === catalogId);
      expect(catalog).toBeDefined();
      for (const code of Object.values(rules).flat()) expect(catalog!.requirements.map((r) => r.code)).toContain(code);
    }
    expect(Object.keys(CATALOG_RULES).sort()).toEqual(catalogs.map((c) => c.id).sort());
  });

  it('names anatomic targets of the shared vocabulary (catalogs/targets.ts)', () => {
    for (const t of [...MR_GROUPS.flatMap((g) => g.targets ?? []), ...CT_GROUPS.flatMap((g) => g.targets)]) expect(isTargetKey(t)).toBe(true);
  });

  it('documents every finding code the checks can emit in docs/quality.md', () => {
    const root = path.join(__dirname, '../../../core/quality');
    const sources = [root, path.join(root, 'checks')].flatMap((dir) =>
      readdirSync(dir)
        .filter((n) => n.endsWith('.ts'))
        .map((n) => readFileSync(path.join(dir, n), 'utf8')),
    );
    const emitted = new Set(sources.flatMap((s) => s.match(/'QC-[A-Z0-9-]+'/g) ?? []).map((c) => c.slice(1, -1)));
    const doc = readFileSync(path.join(__dirname, '../../../docs/quality.md'), 'utf8');
    const documented = new Set(doc.match(/`QC-[A-Z0-9-]+`/g)?.map((c) => c.slice(1, -1)) ?? []);
    expect(emitted.size).toBeGreaterThan(50);
    expect([...emitted].filter((c) => !documented.has(c))).toEqual([]);
    expect([...documented].filter((c) => !emitted.has(c))).toEqual([]);
  });
});
