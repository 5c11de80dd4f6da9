import type { RequestHandler } from 'express';

export type FlashKind = 'success' | 'info' | 'error';
export interface FlashMessage {
  kind: FlashKind;
  text: string;
}

declare module 'express-session' {
  interface SessionData {
    flash?: FlashMessage[];
  }
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Queues a one-time message shown on the next page the user sees. */
    flash(kind: FlashKind, text: string): void;
  }
}

/** One-time messages kept in the session until the next rendered page. */
export const flash: RequestHandler = (req, res, next) => {
  req.flash = (kind, text) => {
    if (!req.session) return;
    req.session.flash = [...(req.session.flash ?? []), { kind, text }];
  };
  const pending = req.session?.flash;
  res.locals.flash = pending ?? [];
  if (pending && req.session) delete req.session.flash;
  next();
};
