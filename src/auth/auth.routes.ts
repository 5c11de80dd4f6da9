import { Router, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';
import { emailHash, recordAudit, recordRepeatedAudit } from '../audit/audit.service.js';
import { csrf } from '../http/session.js';
import { User } from '../users/user.model.js';
import type { PassportInstance, SignInRefusal } from './passport.js';
import { HASHING_BUSY, hashingSaturated, isHashingBusy } from './password.js';
import type { SessionUser } from './session-user.js';
import {
  THROTTLE_WINDOW_MINUTES,
  blockingLimit,
  accountKey,
  clearAttempts,
  loginLimits,
  releaseAttempts,
  reserveAttempt,
  waitMessage,
  type Reservation,
} from './throttle.js';
import { fieldErrors, keptInput } from '../lib/forms.js';
import { safeNextPath } from './validation.js';

export const LOGIN_FAILED = 'メールアドレスまたはパスワードが正しくありません。';

const REFUSAL_MESSAGES: Record<SignInRefusal, string> = {
  invalid: LOGIN_FAILED,
  pending:
    'このアカウントは、まだ承認されていません。承認されるとメールでお知らせしますので、しばらくお待ちください。',
  suspended:
    'このアカウントは利用が停止されています。お心当たりのない場合は、市町村担当者またはセンターにお問い合わせください。',
};

const loginSchema = z.object({
  email: z
    .string({ error: 'メールアドレスを入力してください。' })
    .trim()
    .min(1, 'メールアドレスを入力してください。')
    .max(254, LOGIN_FAILED),
  password: z
    .string({ error: 'パスワードを入力してください。' })
    .min(1, 'パスワードを入力してください。')
    .max(1000, LOGIN_FAILED),
  next: z.string().optional(),
});

function renderLogin(
  res: Response,
  status: number,
  options: {
    values?: Record<string, string>;
    errors?: Record<string, string>;
    message?: string;
    next?: string;
  },
) {
  res.status(status).render('auth/login', {
    title: 'ログイン',
    values: options.values ?? { email: '' },
    errors: options.errors ?? {},
    message: options.message,
    next: options.next ?? '/',
  });
}

function authenticate(passport: PassportInstance, req: Request, res: Response) {
  return new Promise<{ user: SessionUser | false; info?: { message?: string } }>(
    (resolve, reject) => {
      const handler = passport.authenticate(
        'local',
        (error: unknown, user: SessionUser | false, info?: { message?: string }) => {
          if (error) reject(error instanceof Error ? error : new Error('authentication failed'));
          else resolve({ user, info });
        },
      ) as RequestHandler;
      void handler(req, res, () => undefined);
    },
  );
}

function logIn(req: Request, user: SessionUser) {
  return new Promise<void>((resolve, reject) => {
    // Passport regenerates the session here (a new session id: no fixation).
    req.logIn(user, (error) =>
      error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
    );
  });
}

function logOut(req: Request) {
  return new Promise<void>((resolve, reject) => {
    req.logOut((error) =>
      error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
    );
  });
}

export function authRouter(passport: PassportInstance): Router {
  const router = Router();

  router.get('/login', (req, res) => {
    const next = safeNextPath(req.query.next);
    if (req.user) return res.redirect(next);
    renderLogin(res, 200, { next });
  });

  router.post('/login', async (req, res) => {
    const values = keptInput(req.body, ['email']);
    const parsed = loginSchema.safeParse(req.body);
    const next = safeNextPath(parsed.success ? parsed.data.next : undefined);
    if (!parsed.success) {
      return renderLogin(res, 422, { values, errors: fieldErrors(parsed.error), next });
    }
    const { email } = parsed.data;

    const limits = loginLimits(email, req.ip);
    const refuseBlocked = async ({ wait, key }: { wait: number; key: string }) => {
      await recordRepeatedAudit({
        action: 'auth.login_blocked',
        ip: req.ip,
        groupKey: key,
        windowMinutes: THROTTLE_WINDOW_MINUTES,
        details: key.startsWith('account:')
          ? { emailHash: emailHash(email), limit: 'account' }
          : { limit: 'ip' },
      });
      renderLogin(res, 429, { values, message: waitMessage(wait), next });
    };

    // While the password hashes are saturated, nothing is reserved or hashed: an address
    // already at its limit is told so (its answer does not depend on the load), any other is
    // asked to try again.
    if (hashingSaturated()) {
      const blocking = await blockingLimit(limits);
      if (blocking) return refuseBlocked(blocking);
      return renderLogin(res, 503, { values, message: HASHING_BUSY, next });
    }
    // The attempt is counted before the password is checked, so parallel guesses cannot all
    // pass the limit; it is given back when it turns out not to be a failure.
    const reserved = await reserveAttempt(limits);
    if ('wait' in reserved) return refuseBlocked(reserved);
    const { reservations } = reserved;

    let outcome;
    try {
      outcome = await authenticate(passport, req, res);
    } catch (error) {
      await releaseAttempts(reservations);
      if (isHashingBusy(error))
        return renderLogin(res, 503, { values, message: HASHING_BUSY, next });
      throw error;
    }
    const { user, info } = outcome;
    if (!user) {
      const refusal = (info?.message ?? 'invalid') as SignInRefusal;
      // A pending or suspended account with the right password is not a guess.
      if (refusal !== 'invalid') await releaseAttempts(reservations);
      await recordAudit({
        action: 'auth.login_failed',
        ip: req.ip,
        details: { emailHash: emailHash(email), reason: refusal },
      });
      return renderLogin(res, refusal === 'invalid' ? 401 : 403, {
        values,
        message: REFUSAL_MESSAGES[refusal] ?? LOGIN_FAILED,
        next,
      });
    }

    // Success clears the account's failures and gives back the address's reservation.
    await clearAttempts(accountKey(email));
    await releaseAttempts(
      reservations.filter((reservation: Reservation) => reservation.key.startsWith('ip:')),
    );
    await logIn(req, user);
    // The session was regenerated: issue the new session's CSRF token.
    res.locals.csrfToken = csrf.generateToken(req, true);
    await User.updateOne({ _id: { $eq: user.id } }, { $set: { lastLoginAt: new Date() } });
    await recordAudit({
      actorId: user.id,
      action: 'auth.login',
      targetType: 'User',
      targetId: user.id,
      municipalityId: user.municipalityId,
      ip: req.ip,
    });
    req.flash('success', `${user.name} さん、ようこそ。`);
    res.redirect(next);
  });

  router.post('/logout', async (req, res) => {
    const user = req.user;
    if (user) {
      await logOut(req);
      await recordAudit({
        actorId: user.id,
        action: 'auth.logout',
        targetType: 'User',
        targetId: user.id,
        ip: req.ip,
      });
      req.flash('info', 'ログアウトしました。');
    }
    res.redirect('/');
  });

  return router;
}
