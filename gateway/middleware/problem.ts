import type { ErrorRequestHandler, RequestHandler } from 'express';
import { HurenError } from '../../core/errors';

/**
 * The one place errors become responses: a JSON problem {status, code, message}.
 * Anything that is not a HurenError is logged and answered as a generic 500 without
 * internals (and counts as a bug to fix).
 */
export const problemHandler: ErrorRequestHandler = (err, req, res, _next) => {
  void _next;
  const problem = toProblem(err);
  if (problem.status === 500) req.log?.error({ err }, 'unhandled error');
  // An outage (PostgreSQL gone) is the operator's to see, not a bug: one warning per request,
  // without the message (knex puts the SQL and its values there).
  else if (problem.status === 503 && !(err instanceof HurenError))
    req.log?.warn({ problem: problem.code, errorCode: (err as { code?: string }).code ?? (err as Error).name }, 'dependency unavailable');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  // A handler that knows better sets its own (storage_full: HUREN_STOW_STORAGE_FULL_RETRY_AFTER_SECONDS,
  // since a full store does not free itself within seconds); every other 503 says 5 s.
  if (problem.status === 503 && !res.hasHeader('Retry-After')) res.setHeader('Retry-After', '5');
  res.status(problem.status).type('application/problem+json').json(problem);
};

/** Connection-level failures of PostgreSQL (or the pool): a retryable 503, not a bug. */
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', '57P01', '57P02', '57P03', '08000', '08001', '08003', '08006']);
/**
 * node-postgres's errors for a connection that closed under a query, which carry no code: the
 * server died without a word (SIGKILL, OOM killer, a network cut). They were answered 500 (found
 * by `npm run chaos`, postgres-kill9). Knex puts the SQL in front of the message.
 */
const CONNECTION_LOST = /(Connection terminated( unexpectedly)?|is not queryable)$/;
function isUnavailable(err: unknown): boolean {
  const e = err as { code?: string; name?: string; message?: string };
  return UNAVAILABLE_CODES.has(e.code ?? '') || e.name === 'KnexTimeoutError' || (e.code === undefined && CONNECTION_LOST.test(e.message ?? ''));
}

/** character_not_in_repertoire, untranslatable_character (\u0000 in jsonb), invalid_text_representation of an escape. */
const INVALID_TEXT_CODES = new Set(['22021', '22P05']);

function toProblem(err: unknown): { status: number; code: string; message: string; details?: Record<string, unknown> } {
  if (err instanceof HurenError) return { status: err.status, code: err.code, message: err.message, ...(err.details && { details: err.details }) };
  // Text PostgreSQL cannot hold (NUL, invalid encoding) came from the request: a 400, not a bug.
  if (INVALID_TEXT_CODES.has((err as { code?: string }).code ?? ''))
    return {
      status: 400,
      code: 'invalid_text',
      message: '请求中含有无法保存的字符（如 NUL）/ The request contains characters that cannot be stored (such as NUL)',
    };
  if (isUnavailable(err))
    return { status: 503, code: 'database_unavailable', message: 'The database is not reachable now; retry later / 数据库暂不可用，请稍后重试' };
  // Errors raised by Express's own parsers (body-parser, URL decoding) carry a 4xx status.
  const e = err as { status?: number; statusCode?: number; type?: string; message?: string };
  const status = e.status ?? e.statusCode;
  if (status && status >= 400 && status < 500) return { status, code: e.type ?? 'bad_request', message: e.message ?? 'Bad request' };
  return { status: 500, code: 'internal_error', message: 'Internal error / 内部错误' };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new HurenError(404, 'not_found', `No such resource: ${req.method} ${req.path}`));
};
