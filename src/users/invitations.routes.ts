import { privacyNotice } from '../privacy/privacy-notice.js';
import { Router, type Request, type Response } from 'express';
import mongoose, { Types } from 'mongoose';
import { z } from 'zod';
import { recordAudit } from '../audit/audit.service.js';
import { requirePermission } from '../auth/middleware.js';
import { authorize, grantableRoles } from '../auth/policy.js';
import { hashPassword } from '../auth/password.js';
import { toSessionUser } from '../auth/passport.js';
import { isTokenShaped, newToken } from '../auth/tokens.js';
import { fieldErrors, isDuplicateKey, keptInput } from '../lib/forms.js';
import { csrf } from '../http/session.js';
import { notFound } from '../lib/errors.js';
import { invitationMessage } from '../mail/messages.js';
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
import {
  INVITATION_DAYS,
  INVITATION_STATE_LABELS,
  Invitation,
  invitationState,
  type InvitationDocument,
} from './invitation.model.js';
import {
  claimInvitation,
  createInvitation,
  findOpenInvitation,
  mayManageInvitation,
  openInvitationFor,
  releaseInvitation,
} from './invitations.service.js';
import { ROLES, ROLE_LABELS } from './roles.js';
import { User } from './user.model.js';

const rolesField = z.preprocess(
  (value): unknown[] =>
    value === undefined ? [] : Array.isArray(value) ? (value as unknown[]) : [value],
  z
    .array(z.enum(ROLES, { error: '役割を選択し直してください。' }))
    .min(1, '役割を1つ以上選択してください。'),
);

const inviteSchema = z.object({
  email: emailField,
  /** Optional: the invitee's name, shown in the list and offered on the acceptance form. */
  name: z.union([z.literal(''), nameField]).optional(),
  roles: rolesField,
  municipalityId: z.union([z.literal(''), municipalityField]).optional(),
});

const acceptSchema = withNewPassword(
  {
    token: z.string(),
    name: nameField,
    nameKana: nameKanaField,
    profession: professionField,
    organisationId: organisationField,
  },
  (data) => [text(data.name)],
);

export const ALREADY_INVITED =
  'このメールアドレスには、すでに招待が送られています。送り直すときは、招待の一覧で取り消してから、もう一度招待してください。';
export const CANNOT_INVITE =
  'このメールアドレスには、いま招待を送ることができません。センターにお問い合わせください。';

const INVALID_LINK =
  'この招待リンクは無効です。すでに使われたか、有効期限（7日間）が切れています。招待した方に、もう一度送ってもらってください。';

export function invitationsRouter({ config, mailer }: AccountsDeps): Router {
  const router = Router();

  async function renderNew(
    req: Request,
    res: Response,
    status = 200,
    values: Record<string, unknown> = {},
    errors: Record<string, string> = {},
  ) {
    const user = req.user!;
    const isAdmin = user.roles.includes('admin');
    const ownMunicipality = user.municipalityId
      ? await Municipality.findById(user.municipalityId).lean()
      : null;
    res.status(status).render('account/invite', {
      title: '利用者を招待する',
      values: { email: '', roles: ['trainee'], municipalityId: '', ...values },
      errors,
      roleChoices: grantableRoles(user).map((role) => ({ value: role, label: ROLE_LABELS[role] })),
      municipalityOptions: isAdmin ? await municipalityOptions() : [],
      ownMunicipalityName: ownMunicipality?.name ?? null,
      isAdmin,
    });
  }

  router.get('/invitations/new', requirePermission('user.invite'), async (req, res) => {
    await renderNew(req, res);
  });

  router.post('/invitations', requirePermission('user.invite'), async (req, res) => {
    const user = req.user!;
    const isAdmin = user.roles.includes('admin');
    const kept = {
      ...keptInput(req.body, ['email', 'name', 'municipalityId']),
      roles: rolesField.safeParse((req.body as Record<string, unknown>).roles).data ?? [],
    };
    const parsed = inviteSchema.safeParse(req.body);
    const errors = parsed.success ? {} : fieldErrors(parsed.error);
    let municipalityId: string | null = null;
    if (parsed.success) {
      const allowed = grantableRoles(user);
      if (parsed.data.roles.some((role) => !allowed.includes(role))) {
        errors.roles = '選択できない役割が含まれています。';
      }
      const onlyAdmin = parsed.data.roles.every((role) => role === 'admin');
      // Coordinators invite into their own municipality only, whatever the form says.
      municipalityId = isAdmin ? parsed.data.municipalityId || null : user.municipalityId;
      if (!municipalityId && !onlyAdmin) errors.municipalityId = '市町村を選択してください。';
      if (municipalityId && !(await Municipality.exists({ _id: { $eq: municipalityId } }))) {
        errors.municipalityId = '市町村を選択し直してください。';
      }
      if (await User.isEmailTaken(parsed.data.email)) {
        errors.email = 'このメールアドレスの利用者はすでに登録されています。';
      } else {
        const open = await openInvitationFor(parsed.data.email);
        // Never replaced from here: the inviter revokes it in the list first, and only when it
        // is theirs to manage. Others learn only that they cannot invite this address.
        if (open) {
          errors.email = mayManageInvitation(user, open) ? ALREADY_INVITED : CANNOT_INVITE;
        }
      }
    }
    if (!parsed.success || Object.keys(errors).length > 0)
      return renderNew(req, res, 422, kept, errors);

    const { email, roles, name } = parsed.data;
    authorize(user, 'user.invite', { municipalityId, roles });
    const { invitation, token } = await createInvitation({
      email,
      roles,
      municipalityId,
      invitedBy: user.id,
      prefill: name ? { name, nameKana: '', profession: '', organisationId: null } : undefined,
    });
    const municipality = municipalityId ? await Municipality.findById(municipalityId).lean() : null;
    await mailer.send({
      to: email,
      ...invitationMessage({
        inviterName: user.name,
        municipalityName: municipality?.name ?? null,
        roles,
        link: link(config, `/invitations/accept?token=${token}`),
        expiresAt: invitation.expiresAt,
      }),
    });
    await recordAudit({
      actorId: user.id,
      action: 'invitation.created',
      targetType: 'Invitation',
      targetId: invitation._id,
      municipalityId,
      ip: req.ip,
      details: { roles },
    });
    req.flash('success', `${email} に招待メールを送りました。リンクの有効期限は7日間です。`);
    res.redirect('/invitations');
  });

  router.get('/invitations', requirePermission('user.invite'), async (req, res) => {
    const user = req.user!;
    const filter = user.roles.includes('admin')
      ? {}
      : { municipalityId: { $eq: user.municipalityId } };
    const invitations = await Invitation.find(filter).sort({ createdAt: -1 }).limit(200).lean();
    const municipalities = new Map(
      (
        await Municipality.find({
          _id: mongoose.trusted({ $in: invitations.map((i) => i.municipalityId).filter(Boolean) }),
        }).lean()
      ).map((m) => [String(m._id), m.name]),
    );
    res.render('account/invitations', {
      title: '招待の一覧',
      invitations: invitations.map((invitation) => {
        const state = invitationState(invitation);
        return {
          id: String(invitation._id),
          email: invitation.email,
          name: invitation.prefill?.name ?? '',
          roles: invitation.roles.map((role) => ROLE_LABELS[role]).join('、'),
          municipality: invitation.municipalityId
            ? municipalities.get(String(invitation.municipalityId))
            : 'センター',
          createdAt: invitation.createdAt,
          expiresAt: invitation.expiresAt,
          state,
          stateLabel: INVITATION_STATE_LABELS[state],
          canRevoke: state === 'pending' && mayManageInvitation(user, invitation),
          canResend:
            (state === 'pending' || state === 'expired') && mayManageInvitation(user, invitation),
        };
      }),
    });
  });

  router.post('/invitations/:id/revoke', requirePermission('user.invite'), async (req, res) => {
    const user = req.user!;
    const id = String(req.params.id);
    if (!/^[0-9a-f]{24}$/i.test(id) || !Types.ObjectId.isValid(id)) throw notFound();
    const invitation = await Invitation.findById(id);
    if (!invitation || !mayManageInvitation(user, invitation)) throw notFound();
    if (invitationState(invitation) === 'pending') {
      invitation.revokedAt = new Date();
      await invitation.save();
      await recordAudit({
        actorId: user.id,
        action: 'invitation.revoked',
        targetType: 'Invitation',
        targetId: invitation._id,
        municipalityId: invitation.municipalityId,
        ip: req.ip,
      });
      req.flash('success', '招待を取り消しました。');
    }
    res.redirect('/invitations');
  });

  // A new link (the old one stops working) and a fresh period, for a lost or expired mail.
  router.post('/invitations/:id/resend', requirePermission('user.invite'), async (req, res) => {
    const user = req.user!;
    const id = String(req.params.id);
    if (!/^[0-9a-f]{24}$/i.test(id) || !Types.ObjectId.isValid(id)) throw notFound();
    const invitation = await Invitation.findById(id);
    if (!invitation || !mayManageInvitation(user, invitation)) throw notFound();
    const state = invitationState(invitation);
    if (state !== 'pending' && state !== 'expired') {
      req.flash('info', 'この招待は再送できません（登録済みか、取り消されています）。');
      return res.redirect(303, '/invitations');
    }
    const { token, tokenHash } = newToken();
    invitation.tokenHash = tokenHash;
    invitation.expiresAt = new Date(Date.now() + INVITATION_DAYS * 24 * 60 * 60 * 1000);
    await invitation.save();
    const municipality = invitation.municipalityId
      ? await Municipality.findById(invitation.municipalityId).lean()
      : null;
    await mailer.send({
      to: invitation.email,
      ...invitationMessage({
        inviterName: user.name,
        municipalityName: municipality?.name ?? null,
        roles: invitation.roles,
        link: link(config, `/invitations/accept?token=${token}`),
        expiresAt: invitation.expiresAt,
      }),
    });
    await recordAudit({
      actorId: user.id,
      action: 'invitation.resent',
      targetType: 'Invitation',
      targetId: invitation._id,
      municipalityId: invitation.municipalityId,
      ip: req.ip,
    });
    req.flash(
      'success',
      `${invitation.email} に新しい招待メールを送りました。前に送ったリンクは使えなくなりました。`,
    );
    res.redirect(303, '/invitations');
  });

  // ── The invitee ──────────────────────────────────────────────────────────────────────────────
  async function renderAccept(
    res: Response,
    status: number,
    token: string,
    invitation: InvitationDocument,
    values: Record<string, unknown> = {},
    errors: Record<string, string> = {},
  ) {
    const municipality = invitation.municipalityId
      ? await Municipality.findById(invitation.municipalityId).lean()
      : null;
    res.status(status).render('account/accept', {
      title: 'アカウントの登録',
      token,
      email: invitation.email,
      roles: invitation.roles.map((role) => ROLE_LABELS[role]).join('、'),
      municipalityName: municipality?.name ?? null,
      values: {
        name: invitation.prefill?.name ?? '',
        nameKana: invitation.prefill?.nameKana ?? '',
        profession: invitation.prefill?.profession ?? '',
        organisationId: invitation.prefill?.organisationId
          ? String(invitation.prefill.organisationId)
          : '',
        ...values,
      },
      errors,
      professionOptions,
      organisationOptions: municipality ? await organisationOptions(String(municipality._id)) : [],
    });
  }

  function renderInvalid(res: Response) {
    res.status(404).render('account/message', {
      title: '招待リンクが無効です',
      heading: '招待リンクが無効です',
      message: INVALID_LINK,
      kind: 'error',
    });
  }

  router.get('/invitations/accept', async (req, res) => {
    const token = req.query.token;
    const invitation = isTokenShaped(token) ? await findOpenInvitation(token) : null;
    if (!invitation) return renderInvalid(res);
    await renderAccept(res, 200, token as string, invitation);
  });

  router.post('/invitations/accept', async (req, res) => {
    const body = req.body as Record<string, unknown>;
    const token = body.token;
    const open = isTokenShaped(token) ? await findOpenInvitation(token) : null;
    if (!open) return renderInvalid(res);
    const kept = keptInput(req.body, ['name', 'nameKana', 'profession', 'organisationId']);
    const parsed = acceptSchema.safeParse({ ...body, email: open.email });
    const errors = parsed.success ? {} : fieldErrors(parsed.error);
    const organisation =
      parsed.success && open.municipalityId
        ? await organisationIn(parsed.data.organisationId, String(open.municipalityId))
        : undefined;
    if (parsed.success && parsed.data.organisationId && !organisation)
      errors.organisationId = '所属機関を選択し直してください。';
    if (await User.isEmailTaken(open.email)) {
      errors._form =
        'このメールアドレスの利用者はすでに登録されています。ログインするか、パスワードの再設定をご利用ください。';
    }
    if (!parsed.success || Object.keys(errors).length > 0)
      return renderAccept(res, 422, token as string, open, kept, errors);

    const invitation = await claimInvitation(token as string);
    if (!invitation) return renderInvalid(res);
    let user;
    try {
      user = await User.create({
        name: parsed.data.name,
        nameKana: parsed.data.nameKana,
        email: invitation.email,
        passwordHash: await hashPassword(parsed.data.password),
        roles: invitation.roles,
        status: 'active',
        municipalityId: invitation.municipalityId,
        regionId: invitation.regionId,
        organisationId: organisation?._id ?? null,
        profession: parsed.data.profession,
        approvedBy: invitation.invitedBy,
        approvedAt: new Date(),
        passwordChangedAt: new Date(),
        privacyConsent: {
          version: (await privacyNotice(config.privacyNoticeFile)).version,
          at: new Date(),
        },
      });
    } catch (error) {
      await releaseInvitation(invitation._id);
      if (isDuplicateKey(error)) {
        return renderAccept(res, 422, token as string, open, kept, {
          _form:
            'このメールアドレスの利用者はすでに登録されています。ログインするか、パスワードの再設定をご利用ください。',
        });
      }
      throw error;
    }
    invitation.acceptedUserId = user._id;
    await invitation.save();
    await recordAudit({
      actorId: user._id,
      action: 'invitation.accepted',
      targetType: 'User',
      targetId: user._id,
      municipalityId: user.municipalityId,
      ip: req.ip,
      details: { roles: user.roles, invitationId: String(invitation._id) },
    });
    const sessionUser = toSessionUser(user);
    await new Promise<void>((resolve, reject) =>
      req.logIn(sessionUser, (error) => (error ? reject(error as Error) : resolve())),
    );
    res.locals.csrfToken = csrf.generateToken(req, true);
    req.flash('success', `登録が完了しました。${user.name} さん、ようこそ。`);
    res.redirect('/');
  });

  return router;
}
