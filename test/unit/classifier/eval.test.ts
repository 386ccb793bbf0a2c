import { loadCatalogs } from '../../../catalogs/index';
import { meetsTargets, precision, recall, runEval, TARGETS } from '../../../scripts/eval-classifier';
import { EVAL_CASES } from '../../fixtures/classifier-eval';

/** The labeled evaluation set is data: this is a regression test of the classifier's accuracy. */
describe('classifier evaluation set', () => {
  it('is large, varied and consistent with the catalogs', () => {
    expect(EVAL_CASES.length).toBeGreaterThanOrEqual(400);
    expect(new Set(EVAL_CASES.map((c) => c.id)).size).toBe(EVAL_CASES.length);
    const negatives = EVAL_CASES.filter((c) => Object.values(c.expected).every((e) => !Array.isArray(e)));
    expect(negatives.length).toBeGreaterThanOrEqual(60);
    const catalogs = new Map(loadCatalogs().map((c) => [c.id, new Set(c.items.map((i) => i.code))]));
    for (const c of EVAL_CASES) {
      for (const [id, expected] of Object.entries(c.expected)) {
        if (Array.isArray(expected))
          for (const code of expected) expect(`${c.id}: ${catalogs.get(id as never)?.has(code) ? code : `unknown ${code}`}`).toBe(`${c.id}: ${code}`);
      }
    }
    const modalities = new Set(
      EVAL_CASES.flatMap((c) => Object.values(c.expected).flat()).map(
        (code) =>
          loadCatalogs()
            .flatMap((c) => c.items)
            .find((i) => i.code === code)?.modality,
      ),
    );
    expect([...modalities].filter(Boolean).sort()).toEqual(['CT', 'DR', 'MG', 'MR']);
  });

  it(`meets the targets: precision ≥ ${TARGETS.precision}, recall ≥ ${TARGETS.recall}, no laterality or contrast mismatch`, () => {
    const report = runEval();
    for (const [catalog, counts] of Object.entries(report.perCatalog)) {
      expect({ catalog, precision: precision(counts) >= TARGETS.precision, recall: recall(counts) >= TARGETS.recall }).toEqual({
        catalog,
        precision: true,
        recall: true,
      });
    }
    expect(report.lateralityMismatches).toEqual([]);
    expect(report.contrastMismatches).toEqual([]);
    expect(meetsTargets(report)).toBe(true);
  });
});
