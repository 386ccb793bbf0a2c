import type { RequestHandler } from 'express';
import { setPrincipal, type Principal } from '../../gateway/security/principal';

/** For routers tested without the security middleware: the request comes from a platform viewer. */
export const PLATFORM_VIEWER: Principal = {
  kind: 'api_key',
  id: 'test-platform-viewer',
  name: 'test platform viewer',
  institution: null,
  roles: new Set(['viewer']),
};

export const asPrincipal =
  (principal: Principal): RequestHandler =>
  (req, _res, next) => {
    setPrincipal(req, principal);
    next();
  };

export const asPlatformViewer = asPrincipal(PLATFORM_VIEWER);
