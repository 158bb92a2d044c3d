/**
 * createApp(deps): the Express application, without listening, so tests drive it with supertest on a test
 * database and server.ts only adds the socket.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { ApiKeyCache } from './auth/key-cache';
import type { AppDeps } from './deps';
import { ApiError, toErrorResponse } from './errors';
import { mountRoute } from './mount';
import { buildOpenApiDocument } from './openapi';
import { ROUTES } from './routes';

export type { AppDeps } from './deps';

function requestLog(deps: AppDeps) {
  return (req: Request, res: Response, next: NextFunction) => {
    const startedMs = performance.now();
    res.on('finish', () => {
      deps.logger.info(
        {
          method: req.method, path: req.path, status: res.statusCode, principal: res.locals['principal'] as unknown,
          durationMs: Math.round(performance.now() - startedMs),
        },
        'request',
      );
    });
    next();
  };
}

export function createApp(appDeps: AppDeps): express.Express {
  const deps: AppDeps = { ...appDeps, keyCache: appDeps.keyCache ?? new ApiKeyCache(appDeps.config.api.keyCacheSeconds * 1000) };
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple'); // no nested objects from ?a[b]=c: query schemas expect flat strings
  app.use(requestLog(deps));
  // No body parser here: mount.ts reads a route's JSON body once the caller is authorized (request-input.ts).

  const openApiDocument = buildOpenApiDocument(ROUTES);
  app.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument);
  });

  const notFound = (req: Request, res: Response) => {
    const { status, body } = toErrorResponse(new ApiError('NotFound', `no route ${req.method} ${req.path}`), deps.logger);
    res.status(status).json(body);
  };
  const router = express.Router();
  for (const spec of ROUTES) mountRoute(router, spec, deps);
  // The 404 is the router's last handler, not the app's: a router that leaves an OPTIONS unanswered replies
  // itself (200 text/plain listing the path's methods, unauthenticated, outside the error shape). The API has
  // no browser clients (no CORS), so OPTIONS is a method no route has: 404, like PUT on a known path.
  router.use(notFound);
  app.use(router);
  // Four arguments: Express's signature for error handlers (here: a path the router cannot decode).
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const { status, body } = toErrorResponse(error, deps.logger);
    res.status(status).json(body);
  });
  return app;
}
