import { Router, type Response } from 'express';
import mongoose from 'mongoose';
import { z } from 'zod';
import { emailHash, recordAudit } from '../audit/audit.service.js';
import { passwordResetMessage } from '../mail/messages.js';
import { link, type AccountsDeps } from '../users/deps.js';
import { emailField, withNewPassword } from '../users/forms.js';
import { announcePasswordChange } from '../users/password-changed.js';
import { User } from '../users/user.model.js';
import { hashPassword } from './password.js';
import { PasswordReset, RESET_MINUTES } from './password-reset.model.js';
import {
  accountKey,
  clearAttempts,
  formLimit,
  formWaitMessage,
  reserveAttempt,
} from './throttle.js';
import { hashToken, isTokenShaped, newToken } from './tokens.js';
import { fieldErrors, keptInput } from '../lib/forms.js';

/** Links sent to one account per hour at most; further requests get the same answer and no mail. */
const MAX_RESETS_PER_HOUR = 3;

const forgotSchema = z.object({ email: emailField });
const resetSchema = withNewPassword({ token: z.string() }, () => []);

const SENT =
  '入力されたメールアドレスが登録されている場合は、パスワード再設定用のリンクをお送りしました。メールが届かない場合は、迷惑メールのフォルダもご確認ください。リンクの有効期限は1時間です。';
const INVALID_LINK =
  'このリンクは無効です。すでに使われたか、有効期限（1時間）が切れています。お手数ですが、もう一度お申し込みください。';

/**
 * The open reset of a link and its account: unused, unexpired, for an active account, and made
 * after the account's last password change (a change by any means ends every older link).
 */
async function findOpenReset(token: string) {
  const reset = await PasswordReset.findOne({
    tokenHash: { $eq: hashToken(token) },
    usedAt: null,
    expiresAt: mongoose.trusted({ $gt: new Date() }),
  });
  if (!reset) return null;
  const user = await User.findById(reset.userId);
  if (!user || user.status !== 'active') return null;
  const changedAt = user.passwordChangedAt?.getTime();
  if (changedAt !== undefined && changedAt >= reset.createdAt.getTime()) return null;
  return { reset, user };
}

export function passwordResetRouter({ config, logger, mailer }: AccountsDeps): Router {
  const router = Router();

  function renderForgot(
    res: Response,
    status = 200,
    values = { email: '' },
    errors: Record<string, string> = {},
  ) {
    res.status(status).render('auth/forgot', { title: 'パスワードの再設定', values, errors });
  }

  function renderInvalid(res: Response) {
    res.status(404).render('account/message', {
      title: 'リンクが無効です',
      heading: 'リンクが無効です',
      kind: 'error',
      message: INVALID_LINK,
      actionHref: '/password/forgot',
      actionLabel: 'もう一度申し込む',
    });
  }

  router.get('/password/forgot', (_req, res) => renderForgot(res));

  router.post('/password/forgot', async (req, res) => {
    const parsed = forgotSchema.safeParse(req.body);
    if (!parsed.success)
      return renderForgot(
        res,
        422,
        keptInput(req.body, ['email']) as { email: string },
        fieldErrors(parsed.error),
      );
    const { email } = parsed.data;
    // Per address of the client, whether or not the account exists.
    const reserved = await reserveAttempt([formLimit('forgot', req.ip)]);
    if ('wait' in reserved)
      return renderForgot(res, 429, { email }, { email: formWaitMessage(reserved.wait) });
    // The answer goes first: looking up the account, making the link and writing the mail come
    // after it, so it takes as long whether or not the address has an account.
    res.render('account/message', {
      title: 'パスワードの再設定',
      heading: 'メールをご確認ください',
      kind: 'success',
      message: SENT,
      actionHref: '/login',
      actionLabel: 'ログイン画面へ',
    });
    const ip = req.ip;
    await sendResetLink(email, ip).catch((error: unknown) => {
      logger.error({ err: error }, 'could not handle a password reset request');
    });
  });

  /** Mails a reset link when the address belongs to an active account (at most 3 an hour). */
  async function sendResetLink(email: string, ip: string | undefined): Promise<void> {
    const user = await User.findOne({ email: { $eq: email }, status: 'active' }).lean();
    if (!user) {
      await recordAudit({
        action: 'auth.password_reset_requested',
        ip,
        details: { emailHash: emailHash(email), known: false },
      });
      return;
    }
    const since = new Date(Date.now() - 60 * 60 * 1000);
    const recent = await PasswordReset.countDocuments({
      userId: user._id,
      createdAt: mongoose.trusted({ $gt: since }),
    });
    if (recent < MAX_RESETS_PER_HOUR) {
      const { token, tokenHash } = newToken();
      const expiresAt = new Date(Date.now() + RESET_MINUTES * 60 * 1000);
      await PasswordReset.create({ tokenHash, userId: user._id, expiresAt });
      await mailer.send({
        to: user.email,
        ...passwordResetMessage({
          name: user.name,
          link: link(config, `/password/reset?token=${token}`),
          expiresAt,
        }),
      });
    }
    await recordAudit({
      actorId: null,
      action: 'auth.password_reset_requested',
      targetType: 'User',
      targetId: user._id,
      municipalityId: user.municipalityId,
      ip,
      details: { mailed: recent < MAX_RESETS_PER_HOUR },
    });
  }

  router.get('/password/reset', async (req, res) => {
    const token = req.query.token;
    if (!isTokenShaped(token) || !(await findOpenReset(token))) return renderInvalid(res);
    res.render('auth/reset', { title: '新しいパスワードの設定', token, errors: {} });
  });

  router.post('/password/reset', async (req, res) => {
    const token = (req.body as Record<string, unknown>).token;
    if (!isTokenShaped(token)) return renderInvalid(res);
    const open = await findOpenReset(token);
    if (!open) return renderInvalid(res);
    const { user } = open;
    const parsed = resetSchema.safeParse(req.body);
    const errors = parsed.success ? {} : fieldErrors(parsed.error);
    if (parsed.success) {
      const problem = withNewPassword({}, () => [user.email, user.name]).safeParse({
        password: parsed.data.password,
        passwordConfirm: parsed.data.passwordConfirm,
      });
      if (!problem.success) Object.assign(errors, fieldErrors(problem.error));
    }
    if (!parsed.success || Object.keys(errors).length > 0) {
      return res
        .status(422)
        .render('auth/reset', { title: '新しいパスワードの設定', token, errors });
    }
    // Single use: only the request that marks the link used goes on.
    const claimed = await PasswordReset.findOneAndUpdate(
      { _id: open.reset._id, usedAt: null },
      { $set: { usedAt: new Date() } },
      { returnDocument: 'after' },
    );
    if (!claimed) return renderInvalid(res);
    user.passwordHash = await hashPassword(parsed.data.password);
    user.passwordChangedAt = new Date();
    await user.save();
    // Other links of this account stop working too.
    await PasswordReset.updateMany(
      { userId: user._id, usedAt: null },
      { $set: { usedAt: new Date() } },
    );
    await clearAttempts(accountKey(user.email));
    await announcePasswordChange({ config, mailer }, user, 'auth.password_reset', req.ip);
    req.flash('success', 'パスワードを変更しました。新しいパスワードでログインしてください。');
    res.redirect('/login');
  });

  return router;
}
