import path from 'node:path';
import express, { type Express, type RequestHandler } from 'express';
import type { Config } from './config.js';
import type { Database } from './db.js';
import { formatDate, formatDateTime, formatEraDate, formatTime } from './lib/dates.js';
import { courseAssetsRouter } from './courses/assets.routes.js';
import { ASSETS_PREFIX } from './courses/markdown.js';
import type { Catalog } from './courses/catalog.types.js';
import { learningRouter } from './learning/learning.routes.js';
import { caseStudyRouter } from './case-studies/case-study.routes.js';
import { caseStudyAccessLogRouter, caseStudyRecordsRouter } from './case-studies/records.routes.js';
import {
  registerCaseStudyApprovalCheck,
  setCaseStudyFeedbackLoader,
  setCaseStudySubmissionListener,
} from './case-studies/case-study.service.js';
import { allocateOnSubmission } from './reviews/allocation.service.js';
import { traineeFeedback } from './reviews/feedback-view.js';
import { reviewAdminRouter } from './reviews/admin.routes.js';
import { reviewRouter } from './reviews/review.routes.js';
import { authentication, createPassport } from './auth/passport.js';
import { adminRouter } from './admin/admin.routes.js';
import { backupsRouter } from './operations/backups.routes.js';
import { certificatesAdminRouter } from './certificates/certificates-admin.routes.js';
import { certificatesRouter, myCertificates } from './certificates/certificates.routes.js';
import { registerCertificateIssuing } from './certificates/issuing.js';
import { homePage } from './home/home.routes.js';
import { healthRouter } from './home/health.routes.js';
import { readinessRouter } from './home/readiness.routes.js';
import { configureMetrics } from './metrics/collectors.js';
import { httpMetrics } from './metrics/http-metrics.js';
import { metricsRouter } from './metrics/metrics.routes.js';
import { errorHandler, notFoundHandler } from './http/errors.js';
import { flash, flashCookie } from './http/flash.js';
import { navigationFor } from './http/navigation.js';
import { requestLog } from './http/request-log.js';
import { securityHeaders } from './http/security.js';
import { createMailer, outboxDirOf } from './mail/mailer.js';
import { notificationsRouter } from './notifications/notifications.routes.js';
import { privacyRouter } from './privacy/privacy.routes.js';
import { configureNotifications } from './notifications/notifications.service.js';
import { accountsRouter } from './users/accounts.routes.js';
import { chartAssets, trackingRouter } from './tracking/tracking.routes.js';
import { csrf, csrfTokenForViews, parsesOwnBody, sessionMiddleware } from './http/session.js';
import { configureViews } from './http/views.js';
import type { Logger } from './lib/logger.js';
import { projectRoot } from './lib/paths.js';

export interface AppDeps {
  config: Config;
  logger: Logger;
  database: Database;
  /** The training content, loaded and validated before the app is built (src/courses/loader.ts). */
  catalog: Catalog;
}

/** Builds the Express app. Connecting and listening are the caller's business (src/server.ts, tests). */
export function createApp(deps: AppDeps): Express {
  const { config, logger, database, catalog } = deps;
  const app = express();
  app.disable('x-powered-by');
  // Pages are personal and never cached (below), so a hash of every body buys nothing. Static
  // files and course assets keep their own ETags.
  app.set('etag', false);
  // Whose X-Forwarded-For and X-Forwarded-Proto to believe (TRUST_PROXY): req.ip, req.secure.
  app.set('trust proxy', config.trustProxy);
  app.locals.appName = 'つなぐ';
  app.locals.appFullName = 'つなぐ — ひきこもり支援者研修システム';
  app.locals.centerContact = config.centerContact;
  // Every view writes dates with the one helper (src/lib/dates.ts), in Japan time.
  Object.assign(app.locals, { formatDate, formatDateTime, formatEraDate, formatTime });
  configureViews(app, path.join(projectRoot, 'views'), config.isProduction);

  app.use(requestLog(logger));
  // Request counts and times by route pattern for /metrics (src/metrics); scraped, not pushed.
  app.use(httpMetrics());
  configureMetrics({ database, outboxDir: outboxDirOf(config.dataDir) });
  app.use(securityHeaders(config.isProduction));
  app.use(
    '/public',
    express.static(path.join(projectRoot, 'public'), {
      maxAge: config.isProduction ? '7d' : 0,
      index: false,
    }),
  );
  // Chart.js for the report charts (src/tracking), from node_modules: no CDN.
  app.use('/assets/chart.js', chartAssets(config.isProduction));
  // Everything from here on may show personal data: no copy in the browser's or a proxy's cache
  // (the Back button after signing out on a shared office PC shows nothing).
  app.use((_req, res, next) => {
    res.setHeader('cache-control', 'no-store');
    next();
  });

  // Readiness and metrics need no session: before the session is read or a body parsed.
  app.use('/readyz', readinessRouter(database));
  app.use(
    '/metrics',
    metricsRouter({ token: config.metrics.token, trustProxy: config.trustProxy }),
  );

  app.use(bodyParsers());
  // Before the session, so that the session's cookie is the first Set-Cookie of a response.
  app.use(flashCookie({ secret: config.sessionSecret, secure: config.isProduction }));
  app.use(
    sessionMiddleware({
      secret: config.sessionSecret,
      secure: config.isProduction,
      connection: database.connection,
    }),
  );
  const passport = createPassport();
  app.use(authentication(passport));
  // Up or down for anyone, details for administrators; before the locals and the flash, which it
  // has no use for (it must not consume a pending message).
  app.use('/healthz', healthRouter(database, config));
  // Locals first, so that the error page of a refused CSRF check can render the layout too. The
  // token is made only when a page with a form writes it out (a session is stored only then).
  app.use((req, res, next) => {
    res.locals.csrfToken = csrfTokenForViews(req);
    res.locals.currentPath = req.path;
    res.locals.currentUser = req.user ?? null;
    res.locals.navItems = navigationFor(req.user);
    next();
  });
  app.use(csrf.csrfSynchronisedProtection);
  app.use(flash);

  // Routers are mounted at their paths, so a request enters only the one it belongs to.
  app.get(
    '/',
    homePage({
      catalog,
      overdueDays: config.review.overdueDays,
      outboxDir: outboxDirOf(config.dataDir),
    }),
  );
  app.use(ASSETS_PREFIX, courseAssetsRouter(catalog));
  registerCaseStudyApprovalCheck();
  // The supervisor review: allocation on each submission, released feedback on the trainee's page.
  setCaseStudySubmissionListener(allocateOnSubmission);
  setCaseStudyFeedbackLoader(traineeFeedback);
  // Certificates: issued on each completion; /learn/me lists them (and issues a missed one).
  registerCertificateIssuing({ catalog, logger });
  app.use('/learn/me', myCertificates(catalog, logger));
  app.use('/learn', caseStudyRouter(config, catalog));
  app.use('/learn', learningRouter(catalog));
  app.use('/case-studies', caseStudyRecordsRouter(catalog));
  app.use('/admin/case-study-access', caseStudyAccessLogRouter());
  app.use('/review', reviewRouter(config, catalog));
  app.use('/admin/review', reviewAdminRouter(config));
  const mailer = createMailer({ config, logger });
  // notify() is called from services (case-study review) that know nothing of the app: it sends
  // its mail with this app's mailer and links from BASE_URL.
  configureNotifications({ mailer, config, logger });
  app.use(privacyRouter(config));
  app.use(notificationsRouter());
  app.use(adminRouter({ config, logger, mailer }));
  app.use(backupsRouter(config));
  app.use(certificatesRouter({ catalog, baseUrl: config.baseUrl }));
  app.use(certificatesAdminRouter({ catalog, baseUrl: config.baseUrl }));
  app.use(accountsRouter({ config, logger, passport, mailer }));
  app.use(trackingRouter({ config, logger, mailer, catalog }));

  app.use(notFoundHandler);
  app.use(errorHandler(logger, !config.isProduction));
  return app;
}

/**
 * Form and JSON bodies (200 kB at most). Reading a page has no body, so GET and HEAD requests
 * skip both parsers; the case-study form parses its own larger body (parsesOwnBody).
 */
function bodyParsers(): RequestHandler {
  const form = express.urlencoded({ extended: false, limit: '200kb', parameterLimit: 2000 });
  const json = express.json({ limit: '200kb' });
  return (req, res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || parsesOwnBody(req)) return next();
    form(req, res, (error?: unknown) => (error ? next(error) : json(req, res, next)));
  };
}
