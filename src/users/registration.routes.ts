import { privacyNotice } from '../privacy/privacy-notice.js';
import { Router, type Response } from 'express';
import { recordAudit } from '../audit/audit.service.js';
import { hashPassword } from '../auth/password.js';
import { formLimit, formWaitMessage, recordAttempt, waitBeforeAttempt } from '../auth/throttle.js';
import { fieldErrors, isDuplicateKey, keptInput } from '../lib/forms.js';
import {
  registrationExistingMessage,
  registrationPendingMessage,
  registrationReceivedMessage,
} from '../mail/messages.js';
import { Municipality } from '../organisations/municipality.model.js';
import { link, type AccountsDeps } from './deps.js';
import {
  emailField,
  municipalityField,
  municipalityOptions,
  nameField,
  nameKanaField,
  organisationField,
  organisationIn,
  organisationOptions,
  professionField,
  professionOptions,
  text,
  withNewPassword,
} from './forms.js';
import { User, normaliseEmail } from './user.model.js';

const registerSchema = withNewPassword(
  {
    name: nameField,
    nameKana: nameKanaField,
    email: emailField,
    profession: professionField,
    municipalityId: municipalityField,
    organisationId: organisationField,
  },
  (data) => [text(data.email), text(data.name)],
);

const FIELDS = [
  'name',
  'nameKana',
  'email',
  'profession',
  'municipalityId',
  'organisationId',
] as const;
/** Self-registration: the account waits (pending) for the municipality's coordinator or an admin. */
export function registrationRouter({ config, mailer }: AccountsDeps): Router {
  const router = Router();

  async function renderForm(
    res: Response,
    status = 200,
    values: Record<string, string> = {},
    errors: Record<string, string> = {},
  ) {
    res.status(status).render('account/register', {
      title: '利用登録の申請',
      values: {
        name: '',
        nameKana: '',
        email: '',
        profession: '',
        municipalityId: '',
        organisationId: '',
        ...values,
      },
      errors,
      professionOptions,
      municipalityOptions: await municipalityOptions(),
      organisationOptions: await organisationOptions(),
      scripts: ['/public/js/organisation-filter.js'],
    });
  }

  router.get('/register', async (req, res) => {
    if (req.user) return res.redirect('/');
    await renderForm(res);
  });

  router.post('/register', async (req, res) => {
    if (req.user) return res.redirect('/');
    const kept = keptInput(req.body, FIELDS);
    const limit = formLimit('register', req.ip);
    const wait = await waitBeforeAttempt([limit]);
    if (wait > 0) return renderForm(res, 429, kept, { _form: formWaitMessage(wait) });
    const parsed = registerSchema.safeParse(req.body);
    const errors = parsed.success ? {} : fieldErrors(parsed.error);
    const municipality = parsed.success
      ? await Municipality.findById(parsed.data.municipalityId).lean()
      : null;
    if (parsed.success && !municipality) errors.municipalityId = '市町村を選択し直してください。';
    const organisation =
      parsed.success && municipality
        ? await organisationIn(parsed.data.organisationId, String(municipality._id))
        : undefined;
    if (parsed.success && parsed.data.organisationId && !organisation) {
      errors.organisationId = '選択した市町村の所属機関を選んでください。';
    }
    if (!parsed.success || !municipality || Object.keys(errors).length > 0)
      return renderForm(res, 422, kept, errors);

    const email = normaliseEmail(parsed.data.email);
    // An address that already has an account gets the same answer as a new one (the form must
    // not tell who has an account); its owner is told by mail instead.
    const received = () =>
      res.status(201).render('account/message', {
        title: '利用登録の申請を受け付けました',
        heading: '利用登録の申請を受け付けました',
        kind: 'success',
        message: `${municipality.name}の担当者が内容を確認します。承認されると、${email} にメールでお知らせします。`,
        detail: '承認されるまでは、ログインできません。しばらくお待ちください。',
      });
    const passwordHash = await hashPassword(parsed.data.password);
    await recordAttempt([limit]);
    const existing = await User.findOne({ email: { $eq: email } }).lean();
    if (existing) {
      await mailExistingOwner(existing);
      return received();
    }

    let user;
    try {
      user = await User.create({
        name: parsed.data.name,
        nameKana: parsed.data.nameKana,
        email,
        passwordHash,
        roles: ['trainee'],
        status: 'pending',
        municipalityId: municipality._id,
        regionId: municipality.regionId,
        organisationId: organisation?._id ?? null,
        profession: parsed.data.profession,
        passwordChangedAt: new Date(),
        privacyConsent: {
          version: (await privacyNotice(config.privacyNoticeFile)).version,
          at: new Date(),
        },
      });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
      // Registered at the same moment by another request.
      const owner = await User.findOne({ email: { $eq: email } }).lean();
      if (owner) await mailExistingOwner(owner);
      return received();
    }
    await recordAudit({
      actorId: user._id,
      action: 'user.registered',
      targetType: 'User',
      targetId: user._id,
      municipalityId: municipality._id,
      ip: req.ip,
    });
    await mailer.send({
      to: user.email,
      ...registrationReceivedMessage({ name: user.name, municipalityName: municipality.name }),
    });
    // Tell whoever can approve: the municipality's coordinators, or else the administrators.
    let approvers = await User.find({
      roles: 'coordinator',
      status: 'active',
      municipalityId: { $eq: municipality._id },
    }).lean();
    if (approvers.length === 0)
      approvers = await User.find({ roles: 'admin', status: 'active' }).lean();
    for (const approver of approvers) {
      await mailer.send({
        to: approver.email,
        ...registrationPendingMessage({
          municipalityName: municipality.name,
          approvalsUrl: link(config, '/approvals'),
        }),
      });
    }
    received();
  });

  async function mailExistingOwner(owner: { name: string; email: string }) {
    await mailer.send({
      to: owner.email,
      ...registrationExistingMessage({
        name: owner.name,
        loginUrl: link(config, '/login'),
        resetUrl: link(config, '/password/forgot'),
      }),
    });
  }

  return router;
}
