/**
 * Request bodies and queries for the admin and recognition APIs: parsed and validated with
 * bilingual 4xx answers (HurenError), never a 500 for bad input.
 */
import express, { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import type { z } from 'zod';
import { badRequest, HurenError } from '../../core/errors';
import { describeIssues } from '../../core/recognition/issues';

/** body-parser's own errors (bad JSON, too large, unknown charset) as HurenErrors. */
const bodyErrors: ErrorRequestHandler = (err, _req, _res, next) => {
  const type = (err as { type?: string }).type;
  if (type === 'entity.parse.failed') return next(badRequest('invalid_json', '请求体不是有效的 JSON / The request body is not valid JSON'));
  if (type === 'entity.too.large') return next(new HurenError(413, 'body_too_large', '请求体过大 / The request body is too large'));
  if (type === 'charset.unsupported' || type === 'encoding.unsupported') {
    return next(new HurenError(415, 'unsupported_charset', '不支持的字符集 / Unsupported charset (use UTF-8 or GB18030)'));
  }
  next(err);
};

const requireType =
  (type: string): RequestHandler =>
  (req, _res, next) => {
    if (!req.is(type)) return next(new HurenError(415, 'unsupported_media_type', `请求体须为 ${type} / The request body must be ${type}`));
    next();
  };

/** JSON bodies (1 MB unless said otherwise), as Content-Type application/json. (A Router is one handler for route typing.) */
export const jsonBody = (limit = '1mb'): Router => Router().use(requireType('application/json'), express.json({ limit }), bodyErrors);

/** CSV bodies up to 10 MB; the charset parameter is honoured (GB18030 from Excel works). */
export const csvBody = (): Router => Router().use(requireType('text/csv'), express.text({ type: 'text/csv', limit: '10mb' }), bodyErrors);

export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: 'body' | 'query' | 'path'): z.output<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const problems = describeIssues(parsed.error);
  const label = { body: '请求体 / request body', query: '查询参数 / query', path: '路径 / path' }[what];
  throw badRequest(`invalid_${what}`, `${label}: ${problems.join('; ')}`, { errors: problems });
}
