import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { requireAuth } from '../auth/middleware.js';
import { hashPassword, verifyPassword } from '../auth/password.js';
import {
  currentPasswordLimit,
  currentPasswordWaitMessage,
  releaseAttempts,
  reserveAttempt,
} from '../auth/throttle.js';
import { fieldErrors } from '../lib/forms.js';
import { csrf } from '../http/session.js';
import { Municipality } from '../organisations/municipality.model.js';
import { Organisation } from '../organisations/organisation.model.js';
import { Region } from '../organisations/region.model.js';
import type { AccountsDeps } from './deps.js';
import { withNewPassword } from './forms.js';
import { announcePasswordChange } from './password-changed.js';
import { ROLE_LABELS } from './roles.js';
import { USER_STATUS_LABELS, User } from './user.model.js';

const changePasswordSchema = withNewPassword(
  {
    currentPassword: z
      .string({ error: '現在のパスワードを入力してください。' })
      .min(1, '現在のパスワードを入力してください。'),
  },
  () => [],
);

/** /account: one's own profile and password. */
export function accountRouter({ config, mailer }: AccountsDeps): Router {
  const router = Router();

  async function renderAccount(
    req: Request,
    res: Response,
    status = 200,
    errors: Record<string, string> = {},
  ) {
    const user = await User.findById(req.user!.id).lean();
    if (!user) throw new Error('signed-in user vanished');
    const [municipality, region, organisation] = await Promise.all([
      user.municipalityId ? Municipality.findById(user.municipalityId).lean() : null,
      user.regionId ? Region.findById(user.regionId).lean() : null,
      user.organisationId ? Organisation.findById(user.organisationId).lean() : null,
    ]);
    res.status(status).render('account/show', {
      title: 'アカウント',
      profile: {
        name: user.name,
        nameKana: user.nameKana,
        email: user.email,
        roles: user.roles.map((role) => ROLE_LABELS[role]),
        status: USER_STATUS_LABELS[user.status],
        municipality: municipality?.name ?? null,
        region: region ? `${region.name}圏域` : null,
        organisation: organisation?.name ?? null,
        profession: user.profession,
        lastLoginAt: user.lastLoginAt,
      },
      // The mail setting of notifications (src/notifications); absent means on.
      notificationMail: user.notificationMail !== false,
      errors,
    });
  }

  router.get('/account', requireAuth, async (req, res) => {
    await renderAccount(req, res);
  });

  router.post('/account/password', requireAuth, async (req, res) => {
    const sessionUser = req.user!;
    const user = await User.findById(sessionUser.id).select('+passwordHash');
    if (!user) throw new Error('signed-in user vanished');
    const parsed = changePasswordSchema.safeParse(req.body);
    const errors = parsed.success ? {} : fieldErrors(parsed.error);
    let status = 422;
    if (parsed.success) {
      // Guessing the current password with a session left open is throttled like sign-in: the
      // check is counted before it runs, and given back when the password was right.
      const reserved = await reserveAttempt([currentPasswordLimit(sessionUser.id)]);
      if ('wait' in reserved) {
        status = 429;
        errors.currentPassword = currentPasswordWaitMessage(reserved.wait);
      } else {
        let right;
        try {
          right = await verifyPassword(parsed.data.currentPassword, user.passwordHash);
        } catch (error) {
          await releaseAttempts(reserved.reservations);
          throw error;
        }
        if (!right) {
          errors.currentPassword = '現在のパスワードが正しくありません。';
        } else {
          await releaseAttempts(reserved.reservations);
          const personal = withNewPassword({}, () => [user.email, user.name]).safeParse({
            password: parsed.data.password,
            passwordConfirm: parsed.data.passwordConfirm,
          });
          if (!personal.success) Object.assign(errors, fieldErrors(personal.error));
          else if (parsed.data.password === parsed.data.currentPassword) {
            errors.password = '現在のパスワードとは別のパスワードにしてください。';
          }
        }
      }
    }
    if (!parsed.success || Object.keys(errors).length > 0)
      return renderAccount(req, res, status, errors);

    user.passwordHash = await hashPassword(parsed.data.password);
    user.passwordChangedAt = new Date();
    await user.save();
    // Other sessions of this account end; this one is renewed (new session id and CSRF token).
    await new Promise<void>((resolve, reject) =>
      req.logIn(sessionUser, (error) => (error ? reject(error as Error) : resolve())),
    );
    res.locals.csrfToken = csrf.generateToken(req, true);
    await announcePasswordChange({ config, mailer }, user, 'auth.password_changed', req.ip);
    req.flash('success', 'パスワードを変更しました。');
    res.redirect('/account');
  });

  return router;
}
