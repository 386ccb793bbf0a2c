/**
 * The one error type huren's HTTP layer maps to responses (see gateway/middleware/problem.ts).
 * `code` is a stable machine-readable identifier; `message` is meant for people
 * (integration engineers read it in their PACS logs), bilingual where staff see it.
 */
export class HurenError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'HurenError';
  }
}

export const badRequest = (code: string, message: string, details?: Record<string, unknown>) => new HurenError(400, code, message, details);
export const notFound = (code: string, message: string) => new HurenError(404, code, message);
export const unavailable = (code: string, message: string) => new HurenError(503, code, message);
