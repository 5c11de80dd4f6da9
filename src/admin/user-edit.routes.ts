import { Router, type Request, type Response } from 'express';
import { requirePermission } from '../auth/middleware.js';
import { authorize, can } from '../auth/policy.js';
import { isTokenShaped } from '../auth/tokens.js';
import type { Config } from '../config.js';
import { AppError, forbidden } from '../lib/errors.js';
import { keptInput } from '../lib/forms.js';
import type { Mailer } from '../mail/mailer.js';
import { emailChangeMessage } from '../mail/messages.js';
import { Municipality } from '../organisations/municipality.model.js';
import { link } from '../users/deps.js';
import { municipalityOptions, organisationOptions, professionOptions } from '../users/forms.js';
import { confirmEmailChange, editUser, EMAIL_CHANGE_HOURS } from './user-edit.service.js';
import { findUserById, type AdminUserRecord } from './users.service.js';

const BASE = '/admin/users';
const FIELDS = ['name', 'nameKana', 'email', 'municipalityId', 'organisationId', 'profession'];

/** Editing a person (/admin/users/:id/edit) and confirming a new e-mail address (/account/email/confirm). */
export function userEditRouter({ config, mailer }: { config: Config; mailer: Mailer }): Router {
  const router = Router();

  router.get(`${BASE}/:id/edit`, requirePermission('user.edit'), async (req, res) => {
    const target = await loadEditable(req);
    await renderForm(req, res, target, valuesOf(target), {});
  });

  router.post(`${BASE}/:id/edit`, requirePermission('user.edit'), async (req, res) => {
    const target = await loadEditable(req);
    let result;
    try {
      result = await editUser(req.user!, target, req.body, req.ip);
    } catch (error) {
      if (error instanceof AppError && error.fields)
        return renderForm(req, res, target, keptInput(req.body, FIELDS), error.fields, 422);
      throw error;
    }
    if (result.emailPending) {
      await mailer.send({
        to: result.emailPending.email,
        ...emailChangeMessage({
          name: target.name,
          link: link(config, `/account/email/confirm?token=${result.emailPending.token}`),
          expiresAt: new Date(Date.now() + EMAIL_CHANGE_HOURS * 3_600_000),
        }),
      });
    }
    const messages: string[] = [];
    if (result.changed.length > 0) messages.push('登録内容を変更しました。');
    if (result.emailPending)
      messages.push(
        `${result.emailPending.email} に確認メールを送りました。本人がメールのリンクを開くと、メールアドレスが変わります。`,
      );
    req.flash(
      messages.length ? 'success' : 'info',
      messages.length ? messages.join('') : '変更はありませんでした。',
    );
    res.redirect(303, `${BASE}/${String(target._id)}`);
  });

  // The owner of the new address confirms it (signed in or not): a page with a button, then a POST.
  router.get('/account/email/confirm', (req, res) => {
    const token = req.query.token;
    if (!isTokenShaped(token)) return renderInvalid(res);
    res.render('account/email-confirm', { title: 'メールアドレス変更の確認', token });
  });

  router.post('/account/email/confirm', async (req, res) => {
    const token = (req.body as Record<string, unknown>).token;
    const result = isTokenShaped(token) ? await confirmEmailChange(token, req.ip) : null;
    if (result === 'taken' || result === null) return renderInvalid(res);
    res.render('account/message', {
      title: 'メールアドレスを変更しました',
      heading: 'メールアドレスを変更しました',
      message: `これからは ${result.email} でログインしてください。パスワードは変わりません。`,
      kind: 'success',
    });
  });

  return router;
}

function renderInvalid(res: Response) {
  res.status(404).render('account/message', {
    title: 'リンクが無効です',
    heading: 'リンクが無効です',
    message:
      'このリンクは使えません（有効期限が過ぎたか、すでに使われたか、ほかの利用者が使っているアドレスです）。必要な場合は、もう一度変更を依頼してください。',
    kind: 'error',
  });
}

/** The person named by :id, when the signed-in user may see (else 404) and edit (else 403) them. */
async function loadEditable(req: Request): Promise<AdminUserRecord> {
  const target = await findUserById(req.params.id as string);
  const placed = {
    _id: target._id,
    municipalityId: target.municipalityId ? String(target.municipalityId) : null,
    regionId: target.regionId ? String(target.regionId) : null,
    roles: target.roles,
  };
  authorize(req.user, 'user.read', placed);
  if (!can(req.user, 'user.edit', placed)) throw forbidden();
  return target;
}

function valuesOf(target: AdminUserRecord): Record<string, string> {
  return {
    name: target.name,
    nameKana: target.nameKana,
    email: target.emailChange?.email ?? target.email,
    municipalityId: target.municipalityId ? String(target.municipalityId) : '',
    organisationId: target.organisationId ? String(target.organisationId) : '',
    profession: target.profession ?? '',
  };
}

async function renderForm(
  req: Request,
  res: Response,
  target: AdminUserRecord,
  values: Record<string, string>,
  errors: Record<string, string>,
  status = 200,
) {
  const mayMove = can(req.user, 'user.move', undefined);
  const municipality = target.municipalityId
    ? await Municipality.findById(target.municipalityId, { name: 1 }).lean()
    : null;
  res.status(status).render('admin/users/edit', {
    title: `${target.name} さんの登録内容の変更`,
    target: {
      id: String(target._id),
      name: target.name,
      email: target.email,
      pendingEmail: target.emailChange?.email ?? null,
    },
    values,
    errors,
    mayMove,
    municipalityName: municipality?.name ?? '',
    municipalityOptions: mayMove ? await municipalityOptions() : [],
    scripts: mayMove ? ['/public/js/organisation-filter.js'] : [],
    organisationOptions: mayMove
      ? await organisationOptions()
      : await organisationOptions(target.municipalityId ? String(target.municipalityId) : null),
    professionOptions,
  });
}
