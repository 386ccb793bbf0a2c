/**
 * Review of classifications (docs/classifier.md, "Local mappings and review"):
 *
 *   GET /recognition/review?institution=&catalog=&limit=&offset=
 *       → studies whose classification needs review, oldest study first, with the candidates
 *   PUT /recognition/studies/{StudyInstanceUID}/classification/{catalogId}
 *       {"itemCodes": [...], "reviewer": "…", "note"?: "…", "saveAsMapping"?: true}
 *       → the reviewer's decision, stored as the study's classification (source reviewer), audited
 *         in classification_review, optionally saved as a local mapping of the sender
 *   GET /recognition/studies/{StudyInstanceUID}/classification
 *       → every catalog's stored classification, with the review history
 *
 * A reviewer's decision stands against later classifier runs of the same catalog version; a new
 * catalog version or a change of the sender's local mappings re-classifies (core/jobs/classify.ts).
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { findItem, getCatalog } from '../../catalogs/index';
import type { Catalog } from '../../catalogs/schema';
import { isUid } from '../../core/dicom/uid';
import { badRequest, notFound } from '../../core/errors';
import { storeClassification } from '../../core/jobs/classify';
import { enqueueQuality } from '../../core/jobs/quality';
import { enqueueReclassify } from '../../core/jobs/reclassify';
import type { CatalogClassification, EvidenceRef } from '../../core/recognition/classify';
import { CatalogId, InstitutionCode } from '../../core/recognition/institution-schema';
import { assertItemCodes, primaryProcedureKey, requireInstitution, studyProcedure, writeMapping, type StoredMapping } from '../../core/recognition/mappings';
import { jsonBody, parseInput } from '../http/request-body';
import type { GatewayDeps } from '../deps';

const ReviewQuery = z.strictObject({
  institution: InstitutionCode.optional(),
  catalog: CatalogId.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
});

const ReviewBody = z.strictObject({
  itemCodes: z
    .array(z.string().trim().min(1).max(64))
    .max(50)
    .transform((codes) => [...new Set(codes)]),
  reviewer: z.string().trim().min(1).max(200),
  note: z.string().trim().min(1).max(2000).optional(),
  saveAsMapping: z.boolean().optional(),
});

/** The study-level attributes a procedure key is read from (core/recognition/mappings.ts). */
const PROCEDURE_ATTRIBUTES = `jsonb_build_object(
  '00321064', s.attributes -> '00321064', '00081032', s.attributes -> '00081032',
  '00321060', s.attributes -> '00321060', '00081030', s.attributes -> '00081030') AS procedure_attributes`;

function studyUid(req: Request): string {
  const uid = String(req.params.study);
  if (!isUid(uid)) throw badRequest('invalid_uid', `StudyInstanceUID 无效 / Not a valid StudyInstanceUID: ${uid.slice(0, 80)}`);
  return uid;
}

const studyNotFound = (uid: string) => notFound('study_not_found', `未找到该检查 / No such study: ${uid}`);

const itemName = (code: string) => findItem(code)?.item.nameZh;

/**
 * Pure: the classification a reviewer's decision stores. Items are the reviewer's, confidence 1,
 * with the reviewer as their evidence; what the classifier had said stays as runners-up and in the
 * reasons. No items: the study is not an examination of this catalog (not_applicable).
 */
export function reviewedClassification(
  catalog: Pick<Catalog, 'id' | 'version'>,
  previous: CatalogClassification | undefined,
  itemCodes: readonly string[],
  reviewer: string,
  note?: string,
): CatalogClassification {
  const before = previous ? [...previous.items.map(({ code, confidence }) => ({ code, confidence })), ...previous.candidates] : [];
  const runnersUp = [...new Map(before.filter((c) => !itemCodes.includes(c.code)).map((c) => [c.code, { code: c.code, confidence: c.confidence }])).values()]
    .sort((a, b) => b.confidence - a.confidence)
    .slice(0, 3);
  // EvidenceRef.used_for names what a classifier signal decided; a reviewer's decision has only its tag.
  const evidence = [{ tag: 'Reviewer', value: reviewer }] as EvidenceRef[];
  const previousCodes = previous?.items.map((i) => i.code) ?? [];
  return {
    catalogId: catalog.id,
    catalogVersion: catalog.version,
    status: itemCodes.length ? 'mapped' : 'not_applicable',
    items: itemCodes.map((code) => ({ code, confidence: 1, evidence, runnersUp })),
    candidates: [],
    reasons: [
      `reviewer ${reviewer}: ${itemCodes.length ? itemCodes.join(', ') : 'no item'}`,
      ...(note ? [`note: ${note}`] : []),
      ...(previous ? [`before review: ${previous.status}${previousCodes.length ? ` (${previousCodes.join(', ')})` : ''}`, ...previous.reasons] : []),
    ],
  };
}

export function reviewRouter(deps: GatewayDeps): Router {
  const { db } = deps;
  const enabled = new Set<string>(deps.config.HUREN_ENABLED_CATALOGS);
  const r = Router();

  r.get('/review', async (req, res) => {
    const { institution, catalog, limit, offset } = parseInput(ReviewQuery, req.query, 'query');
    if (institution) await requireInstitution(db, institution);
    const q = db('study_classification as c').join('study as s', 's.study_instance_uid', 'c.study_instance_uid').where('c.status', 'needs_review');
    if (institution) q.where('s.sending_institution_code', institution);
    if (catalog) q.where('c.catalog_id', catalog);
    const [{ total }] = await q.clone().count({ total: '*' });
    const rows = await q
      .leftJoin('institution as i', 'i.code', 's.sending_institution_code')
      .orderByRaw('s.study_date ASC NULLS LAST, s.study_time ASC NULLS LAST, c.classified_at, s.study_instance_uid, c.catalog_id')
      .limit(limit)
      .offset(offset)
      .select(
        's.study_instance_uid',
        db.raw(`to_char(s.study_date, 'YYYY-MM-DD') AS study_date`),
        's.study_description',
        's.modalities_in_study',
        's.institution_name',
        's.sending_institution_code',
        'i.name as sending_institution_name',
        'c.catalog_id',
        'c.catalog_version',
        'c.source',
        'c.classified_at',
        'c.result',
        db.raw(PROCEDURE_ATTRIBUTES),
      );
    res.json({
      total: Number(total),
      limit,
      offset,
      studies: rows.map((row) => {
        const result = row.result as CatalogClassification;
        const procedure = primaryProcedureKey(studyProcedure(row.procedure_attributes));
        return {
          studyInstanceUid: row.study_instance_uid,
          studyDate: row.study_date,
          description: row.study_description,
          procedure: procedure ? { localCode: procedure.localCode ?? null, localName: procedure.localName ?? null, source: procedure.source } : null,
          modalities: row.modalities_in_study,
          institutionName: row.institution_name,
          sendingInstitution: row.sending_institution_code ? { code: row.sending_institution_code, name: row.sending_institution_name } : null,
          catalogId: row.catalog_id,
          catalogVersion: row.catalog_version,
          source: row.source,
          classifiedAt: new Date(row.classified_at).toISOString(),
          // With needs_review, items are the parts of the study recognised safely.
          items: result.items.map((i) => ({ code: i.code, name: itemName(i.code), confidence: i.confidence })),
          candidates: result.candidates.map((c) => ({ ...c, name: itemName(c.code) })),
          reasons: result.reasons,
        };
      }),
    });
  });

  r.get('/studies/:study/classification', async (req, res) => {
    const uid = studyUid(req);
    const study = await db('study as s')
      .leftJoin('institution as i', 'i.code', 's.sending_institution_code')
      .where('s.study_instance_uid', uid)
      .first('s.sending_institution_code', 'i.name as sending_institution_name', db.raw(PROCEDURE_ATTRIBUTES));
    if (!study) throw studyNotFound(uid);
    const [classifications, items, reviews] = await Promise.all([
      db('study_classification').where({ study_instance_uid: uid }).orderBy('catalog_id').select('*'),
      db('study_item').where({ study_instance_uid: uid }).orderBy(['catalog_id', 'item_code']).select('catalog_id', 'item_code', 'confidence'),
      db('classification_review').where({ study_instance_uid: uid }).orderBy('id').select('*'),
    ]);
    const procedure = primaryProcedureKey(studyProcedure(study.procedure_attributes));
    res.json({
      studyInstanceUid: uid,
      sendingInstitution: study.sending_institution_code ? { code: study.sending_institution_code, name: study.sending_institution_name } : null,
      procedure: procedure ? { localCode: procedure.localCode ?? null, localName: procedure.localName ?? null, source: procedure.source } : null,
      classifications: classifications.map((c) => ({
        ...classificationJson(c),
        mappedItems: items
          .filter((i) => i.catalog_id === c.catalog_id)
          .map((i) => ({ code: i.item_code, name: itemName(i.item_code), confidence: Number(i.confidence) })),
      })),
      reviews: reviews.map(reviewJson),
    });
  });

  r.put('/studies/:study/classification/:catalogId', jsonBody(), async (req, res) => {
    const uid = studyUid(req);
    const catalogId = String(req.params.catalogId);
    const catalog = enabled.has(catalogId) ? getCatalog(catalogId) : undefined;
    if (!catalog) {
      throw notFound('catalog_not_found', `目录 ${catalogId.slice(0, 40)} 不存在或未启用 / No enabled catalog ${catalogId.slice(0, 40)}`);
    }
    const body = parseInput(ReviewBody, req.body, 'body');
    assertItemCodes(catalog.id, body.itemCodes);

    const outcome = await db.transaction(async (trx) => {
      const key = { study_instance_uid: uid, catalog_id: catalog.id };
      // Two reviewers deciding at once: the later one sees the earlier one's decision as "previous".
      await trx.raw('SELECT pg_advisory_xact_lock(hashtext(?))', [`huren.review:${uid}:${catalog.id}`]);
      const study = await trx('study as s').where('s.study_instance_uid', uid).first('s.sending_institution_code', trx.raw(PROCEDURE_ATTRIBUTES));
      if (!study) throw studyNotFound(uid);
      const procedure = body.saveAsMapping ? mappingKeyOf(study) : undefined;

      const current = await trx('study_classification').where(key).first('result');
      const previousItemCodes: string[] = await trx('study_item').where(key).orderBy('item_code').pluck('item_code');
      const result = reviewedClassification(catalog, current?.result, body.itemCodes, body.reviewer, body.note);
      await storeClassification(trx, uid, result, 'reviewer', body.reviewer);
      const [review] = await trx('classification_review')
        .insert({ ...key, previous_item_codes: previousItemCodes, item_codes: body.itemCodes, reviewer: body.reviewer, note: body.note ?? null })
        .returning('*');
      let mapping: { mapping: StoredMapping; created: boolean; changed: boolean } | undefined;
      if (procedure) {
        mapping = await writeMapping(
          trx,
          procedure.institutionCode,
          { localCode: procedure.localCode, localName: procedure.localName, catalogId: catalog.id, itemCodes: body.itemCodes },
          body.reviewer,
        );
      }
      const stored = await trx('study_classification').where(key).first('*');
      return { review, mapping, stored, institutionCode: procedure?.institutionCode };
    });

    // After the commit: the quality checks read the mapped items; a changed mapping re-classifies the sender's studies.
    await enqueueQuality(deps.queues.quality, uid);
    const reclassify = !!outcome.mapping?.changed && !!outcome.institutionCode;
    if (reclassify) await enqueueReclassify(deps.queues.reclassify, { reason: 'local_mapping', institutionCode: outcome.institutionCode });
    res.json({
      studyInstanceUid: uid,
      classification: classificationJson(outcome.stored),
      review: reviewJson(outcome.review),
      ...(outcome.mapping && { mapping: { ...outcome.mapping.mapping, created: outcome.mapping.created } }),
      reclassifyQueued: reclassify,
    });
  });

  return r;
}

/** saveAsMapping: the sender and the study's procedure key, or 400. */
function mappingKeyOf(study: { sending_institution_code: string | null; procedure_attributes: unknown }): {
  institutionCode: string;
  localCode?: string;
  localName?: string;
} {
  if (!study.sending_institution_code) {
    throw badRequest(
      'study_unattributed',
      '该检查未归属到任何机构，无法保存为本院映射 / The study is not attributed to an institution, so it cannot become a local mapping',
    );
  }
  const key = primaryProcedureKey(studyProcedure(study.procedure_attributes));
  if (!key) {
    throw badRequest(
      'no_procedure',
      '该检查没有项目代码或描述，无法保存为本院映射 / The study has no procedure code or description, so it cannot become a local mapping',
    );
  }
  return { institutionCode: study.sending_institution_code, localCode: key.localCode, localName: key.localName };
}

function classificationJson(c: Record<string, unknown>) {
  return {
    catalogId: c.catalog_id,
    catalogVersion: c.catalog_version,
    status: c.status,
    source: c.source,
    reviewedBy: c.reviewed_by ?? null,
    classifiedAt: new Date(c.classified_at as string).toISOString(),
    result: c.result,
  };
}

function reviewJson(r: Record<string, unknown>) {
  return {
    id: Number(r.id),
    catalogId: r.catalog_id,
    previousItemCodes: r.previous_item_codes,
    itemCodes: r.item_codes,
    reviewer: r.reviewer,
    note: r.note ?? null,
    reviewedAt: new Date(r.reviewed_at as string).toISOString(),
  };
}
