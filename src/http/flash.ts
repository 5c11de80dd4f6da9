import type { RequestHandler } from 'express';

export type FlashKind = 'success' | 'info' | 'error';
export interface FlashMessage {
  kind: FlashKind;
  text: string;
}

/**
 * A form refused after a redirect (its page belongs to another route): what the person typed and
 * the messages to show next to the fields, kept for the next rendered page only.
 */
export interface KeptForm {
  /** Which form on the next page this belongs to, e.g. `review-answers:<case id>`. */
  id: string;
  values: Record<string, string>;
  errors: Record<string, string>;
}

declare module 'express-session' {
  interface SessionData {
    flash?: FlashMessage[];
    keptForm?: KeptForm;
  }
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Queues a one-time message shown on the next page the user sees. */
    flash(kind: FlashKind, text: string): void;
    /** Keeps a refused form's input and messages for the next rendered page (`keptForm`). */
    keepForm(form: KeptForm): void;
  }
}

/** One-time messages kept in the session until the next rendered page. */
export const flash: RequestHandler = (req, res, next) => {
  req.flash = (kind, text) => {
    if (!req.session) return;
    req.session.flash = [...(req.session.flash ?? []), { kind, text }];
  };
  req.keepForm = (form) => {
    if (req.session) req.session.keptForm = form;
  };
  const pending = req.session?.flash;
  res.locals.flash = pending ?? [];
  if (pending && req.session) delete req.session.flash;
  res.locals.keptForm = req.session?.keptForm ?? null;
  if (req.session?.keptForm) delete req.session.keptForm;
  next();
};
