import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { parse as parseCookies, serialize as serializeCookie } from 'cookie';
import type { Request, RequestHandler } from 'express';
import onHeaders from 'on-headers';

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
    /** Messages too long for the flash cookie (rare): kept in the session instead. */
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

export const FLASH_COOKIE = 'tsunagu.flash';
/** A message not shown within this time (the redirect was never followed) is dropped. */
export const FLASH_MAX_AGE_SECONDS = 300;
/** Sealed cookie values longer than this go to the session instead (browsers keep 4 KB a cookie). */
const MAX_COOKIE_VALUE = 3000;
const IV_BYTES = 12;
const TAG_BYTES = 16;

export interface FlashOptions {
  /** SESSION_SECRET: the cookie's key is derived from it. */
  secret: string;
  /** Secure cookie (production), as the session cookie. */
  secure: boolean;
}

/**
 * Seals messages into a cookie value: AES-256-GCM under a key derived from SESSION_SECRET, so the
 * text (it may hold a name) cannot be read from the cookie and a changed or forged value is
 * refused. The expiry travels inside, whatever the browser does with Max-Age.
 */
export function sealFlash(key: Buffer, messages: FlashMessage[], now = Date.now()): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const plain = JSON.stringify({ exp: now + FLASH_MAX_AGE_SECONDS * 1000, m: messages });
  const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64url');
}

/** The messages of a sealed value, or [] when it is forged, changed, expired or malformed. */
export function openFlash(key: Buffer, value: string, now = Date.now()): FlashMessage[] {
  try {
    const raw = Buffer.from(value, 'base64url');
    if (raw.length <= IV_BYTES + TAG_BYTES) return [];
    const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, IV_BYTES));
    decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    const plain = Buffer.concat([
      decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)),
      decipher.final(),
    ]).toString('utf8');
    const { exp, m } = JSON.parse(plain) as { exp: number; m: FlashMessage[] };
    if (typeof exp !== 'number' || exp <= now || !Array.isArray(m)) return [];
    return m.filter(
      (message) =>
        message &&
        typeof message.text === 'string' &&
        ['success', 'info', 'error'].includes(message.kind),
    );
  } catch {
    return [];
  }
}

export function flashKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, '', 'tsunagu flash cookie', 32));
}

const fromCookie = Symbol('flash from cookie');
/** The messages the request's cookie held; `shown` once the flash middleware passed them on. */
type WithCookieFlash = Request & { [fromCookie]?: { messages: FlashMessage[]; shown: boolean } };

/**
 * One-time messages carried to the next page in a short-lived cookie, not in the session: a
 * message used to cost two session writes (set on the POST, cleared on the page after it) and a
 * session read on the next request. Mounted before the session, so that its Set-Cookie comes
 * after the session's. A message the cookie cannot hold (over 3 KB sealed) goes to the session
 * as before; `flash` below shows both.
 */
export function flashCookie({ secret, secure }: FlashOptions): RequestHandler {
  const key = flashKey(secret);
  const attributes = { path: '/', httpOnly: true, sameSite: 'lax', secure } as const;
  return (req, res, next) => {
    const incoming = req.headers.cookie
      ? parseCookies(req.headers.cookie)[FLASH_COOKIE]
      : undefined;
    const received = { messages: incoming ? openFlash(key, incoming) : [], shown: false };
    (req as WithCookieFlash)[fromCookie] = received;
    let queued: FlashMessage[] = [];
    req.flash = (kind, text) => {
      const next = [...queued, { kind, text }];
      if (sealFlash(key, next).length <= MAX_COOKIE_VALUE) queued = next;
      else if (req.session) req.session.flash = [...(req.session.flash ?? []), { kind, text }];
    };
    onHeaders(res, () => {
      if (queued.length > 0)
        res.append(
          'Set-Cookie',
          serializeCookie(FLASH_COOKIE, sealFlash(key, queued), {
            ...attributes,
            maxAge: FLASH_MAX_AGE_SECONDS,
          }),
        );
      // Cleared once passed to a page; a request that never reached `flash` (/healthz) leaves it.
      else if (incoming && received.shown)
        res.append('Set-Cookie', serializeCookie(FLASH_COOKIE, '', { ...attributes, maxAge: 0 }));
    });
    next();
  };
}

/**
 * The messages for this request's page (res.locals.flash: from the cookie, and any the session
 * held), and a refused form kept in the session (res.locals.keptForm). Both are shown once.
 */
export const flash: RequestHandler = (req, res, next) => {
  req.keepForm = (form) => {
    if (req.session) req.session.keptForm = form;
  };
  const received = (req as WithCookieFlash)[fromCookie];
  const cookieMessages = received?.messages ?? [];
  if (received) received.shown = true;
  const fromSession = req.session?.flash;
  res.locals.flash = fromSession ? [...cookieMessages, ...fromSession] : cookieMessages;
  if (fromSession && req.session) delete req.session.flash;
  res.locals.keptForm = req.session?.keptForm ?? null;
  if (req.session?.keptForm) delete req.session.keptForm;
  next();
};
