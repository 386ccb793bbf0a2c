import type { CatalogClassification } from '../../../core/recognition/classify';
import { reviewedClassification } from '../../../gateway/recognition/review';

describe('reviewedClassification', () => {
  const catalog = { id: 'zhejiang-2021' as const, version: '2021' };
  const classifier: CatalogClassification = {
    catalogId: 'zhejiang-2021',
    catalogVersion: '2021',
    status: 'needs_review',
    items: [],
    candidates: [
      { code: 'BQ07ZZZ0B-00', confidence: 0.24, why: 'projections not stated' },
      { code: 'BQ08ZZZ0B-00', confidence: 0.1, why: 'side' },
    ],
    reasons: ['knee right (plain): no item matches every attribute (projections not stated)'],
  };

  it("maps the reviewer's items with the reviewer as evidence and keeps what the classifier said", () => {
    expect(reviewedClassification(catalog, classifier, ['BQ07ZZZ0B-00'], '王医生', '两张片：正位和侧位')).toEqual({
      catalogId: 'zhejiang-2021',
      catalogVersion: '2021',
      status: 'mapped',
      items: [
        { code: 'BQ07ZZZ0B-00', confidence: 1, evidence: [{ tag: 'Reviewer', value: '王医生' }], runnersUp: [{ code: 'BQ08ZZZ0B-00', confidence: 0.1 }] },
      ],
      candidates: [],
      reasons: [
        'reviewer 王医生: BQ07ZZZ0B-00',
        'note: 两张片：正位和侧位',
        'before review: needs_review',
        'knee right (plain): no item matches every attribute (projections not stated)',
      ],
    });
  });

  it('is not_applicable without items, and works without an earlier classification', () => {
    expect(reviewedClassification(catalog, undefined, [], 'r')).toEqual({
      catalogId: 'zhejiang-2021',
      catalogVersion: '2021',
      status: 'not_applicable',
      items: [],
      candidates: [],
      reasons: ['reviewer r: no item'],
    });
  });
});
