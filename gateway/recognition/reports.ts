/**
 * Diagnostic reports and quality metadata of a study (docs/quality.md):
 *
 *   POST /recognition/studies/{StudyInstanceUID}/reports   application/json
 *        {"author": "张医生", "signedAt": "2026-03-10T15:20:00+08:00", "conclusion": "…", "text": "…"}
 *        → 201 {id, studyInstanceUid, source: "api", author, signedAt, createdAt}
 *   GET  /recognition/studies/{StudyInstanceUID}/quality
 *        → 200 {studyInstanceUid, result, findings, assessedAt, itemCodes, rulesVersion}
 *
 * The API takes text reports from a RIS, with author and sign-off time; a PDF report is sent
 * as a DICOM Encapsulated PDF over STOW-RS, where the quality check finds it among the
 * study's instances. Attaching a report re-queues the study's quality assessment.
 */
import { Router, type Request } from 'express';
import { z } from 'zod';
import { isUid } from '../../core/dicom/uid';
import { badRequest, notFound, unavailable } from '../../core/errors';
import { enqueueQuality, readQuality } from '../../core/jobs/quality';
import type { GatewayDeps } from '../deps';
import { jsonBody, parseInput } from '../http/request-body';

/** A report signed more than this far in the future is refused (clock skew allowed). */
const FUTURE_TOLERANCE_MS = 10 * 60_000;

const ReportBody = z
  .strictObject({
    author: z.string().trim().min(1).max(200),
    signedAt: z.iso.datetime({ offset: true }),
    conclusion: z.string().trim().min(1).max(20_000).optional(),
    text: z.string().trim().min(1).max(1_000_000).optional(),
  })
  .refine((b) => b.conclusion !== undefined || b.text !== undefined, { message: 'conclusion or text is required', path: ['text'] });

function studyUid(req: Request): string {
  const uid = String(req.params.study);
  if (!isUid(uid)) throw badRequest('invalid_uid', `StudyInstanceUID 无效 / Not a valid StudyInstanceUID: ${uid.slice(0, 80)}`);
  return uid;
}

async function requireStudy(deps: GatewayDeps, uid: string): Promise<void> {
  const study = await deps.db('study').where({ study_instance_uid: uid }).first('study_instance_uid');
  if (!study) throw notFound('study_not_found', `未找到该检查 / No such study: ${uid}`);
}

export function reportsRouter(deps: GatewayDeps): Router {
  const r = Router();

  r.post('/studies/:study/reports', jsonBody('2mb'), async (req, res) => {
    const uid = studyUid(req);
    const body = parseInput(ReportBody, req.body, 'body');
    if (Date.parse(body.signedAt) > Date.now() + FUTURE_TOLERANCE_MS) {
      throw badRequest('signed_at_in_future', `签发时间晚于当前时间 / signedAt is in the future: ${body.signedAt}`);
    }
    await requireStudy(deps, uid);

    const row = await deps.db.transaction(async (trx) => {
      const [inserted] = await trx('study_report')
        .insert({
          study_instance_uid: uid,
          source: 'api',
          author: body.author,
          signed_at: body.signedAt,
          conclusion: body.conclusion ?? null,
          content_type: 'text/plain',
          body: body.text ?? null,
        })
        .returning(['id', 'signed_at', 'created_at']);
      // Queued before commit: if Redis refuses, nothing is stored and the client may retry.
      // The job starts after a delay, by which time the report is committed.
      await enqueueQuality(deps.queues.quality, uid, `r${inserted.id}`).catch(() => {
        throw unavailable('queue_unavailable', '任务队列不可用，报告未保存，请重试 / The job queue is unavailable; the report was not stored, retry later');
      });
      return inserted;
    });

    res.status(201).json({
      id: row.id,
      studyInstanceUid: uid,
      source: 'api',
      author: body.author,
      signedAt: new Date(row.signed_at).toISOString(),
      createdAt: new Date(row.created_at).toISOString(),
    });
  });

  r.get('/studies/:study/quality', async (req, res) => {
    const uid = studyUid(req);
    await requireStudy(deps, uid);
    const quality = await readQuality(deps.db, uid);
    if (!quality) throw notFound('quality_not_assessed', `该检查尚未完成质量评估 / The study's quality has not been assessed yet: ${uid}`);
    res.json({
      studyInstanceUid: uid,
      result: quality.result,
      findings: quality.findings,
      assessedAt: new Date(quality.assessedAt).toISOString(),
      itemCodes: quality.itemCodes,
      rulesVersion: quality.rulesVersion,
    });
  });

  return r;
}
