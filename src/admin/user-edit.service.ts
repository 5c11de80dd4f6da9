import mongoose, { Types } from 'mongoose';
import { z } from 'zod';
import { recordAudit } from '../audit/audit.service.js';
import { can } from '../auth/policy.js';
import type { SessionUser } from '../auth/session-user.js';
import { hashToken, newToken } from '../auth/tokens.js';
import { invalidInput } from '../lib/errors.js';
import { fieldErrors } from '../lib/forms.js';
import { Municipality } from '../organisations/municipality.model.js';
import { Organisation } from '../organisations/organisation.model.js';
import {
  emailField,
  nameField,
  nameKanaField,
  organisationField,
  professionField,
} from '../users/forms.js';
import { User } from '../users/user.model.js';
import type { AdminUserRecord } from './users.service.js';

/** How long the link confirming a new e-mail address works. */
export const EMAIL_CHANGE_HOURS = 72;

const editSchema = z.object({
  name: nameField,
  nameKana: nameKanaField,
  email: emailField,
  profession: professionField,
  municipalityId: z.string().optional(),
  organisationId: organisationField,
});

/** The fields an edit can change, as the audit log records them (names, not ids). */
interface Readable {
  name: string;
  nameKana: string;
  municipality: string;
  organisation: string;
  profession: string;
}

export interface EditResult {
  /** Fields changed now (keys of Readable). */
  changed: (keyof Readable)[];
  /** A new address waiting for its owner's confirmation (mailed a link), if one was asked for. */
  emailPending: { email: string; token: string } | null;
}

/**
 * Edits a person's name, reading, municipality (administrators only; the region follows it),
 * organisation and profession, and asks for a new e-mail address to be confirmed from that
 * address. Every change is audit-logged with before and after. Throws invalidInput(fields).
 */
export async function editUser(
  actor: SessionUser,
  target: AdminUserRecord,
  body: unknown,
  ip: string | undefined,
): Promise<EditResult> {
  const parsed = editSchema.safeParse(body);
  if (!parsed.success) throw invalidInput(fieldErrors(parsed.error));
  const input = parsed.data;
  const errors: Record<string, string> = {};

  // Only administrators move people between municipalities; for others the form has no such field.
  const currentMunicipalityId = target.municipalityId ? String(target.municipalityId) : '';
  let municipalityId = currentMunicipalityId;
  if (can(actor, 'user.move', undefined) && input.municipalityId !== undefined) {
    municipalityId = input.municipalityId;
  }
  const municipality = municipalityId
    ? Types.ObjectId.isValid(municipalityId)
      ? await Municipality.findById(municipalityId, { name: 1, regionId: 1 }).lean()
      : null
    : null;
  if (municipalityId && !municipality) errors.municipalityId = '市町村を選択し直してください。';
  if (!municipalityId && target.roles.some((role) => role !== 'admin'))
    errors.municipalityId = '市町村を選択してください。';

  const organisation = input.organisationId
    ? await Organisation.findOne(
        { _id: { $eq: input.organisationId }, municipalityId: { $eq: municipality?._id ?? null } },
        { name: 1 },
      ).lean()
    : null;
  if (input.organisationId && !organisation)
    errors.organisationId = 'その市町村の所属機関から選択し直してください。';

  const emailChanged = input.email !== target.email;
  if (emailChanged && (await User.isEmailTaken(input.email, String(target._id))))
    errors.email = 'このメールアドレスは、ほかの利用者が使っています。';
  if (Object.keys(errors).length > 0) throw invalidInput(errors);

  const before = await readable(target.municipalityId, target.organisationId, target);
  const after: Readable = {
    name: input.name,
    nameKana: input.nameKana,
    municipality: municipality?.name ?? '',
    organisation: organisation?.name ?? '',
    profession: input.profession,
  };
  const changed = (Object.keys(after) as (keyof Readable)[]).filter(
    (key) => before[key] !== after[key],
  );
  const municipalityChanged = municipalityId !== currentMunicipalityId;
  const organisationChanged =
    String(organisation?._id ?? '') !== String(target.organisationId ?? '');
  const placeNote = target.municipalityId ? String(target.municipalityId) : null;

  if (changed.length > 0 || municipalityChanged || organisationChanged) {
    await User.updateOne(
      { _id: { $eq: target._id } },
      {
        $set: {
          name: input.name,
          nameKana: input.nameKana,
          profession: input.profession,
          municipalityId: municipality?._id ?? null,
          regionId: municipality?.regionId ?? null,
          organisationId: organisation?._id ?? null,
        },
      },
    );
    await recordAudit({
      actorId: actor.id,
      action: 'user.updated',
      targetType: 'User',
      targetId: String(target._id),
      municipalityId: placeNote,
      ip: ip ?? null,
      details: {
        before: pick(before, changed),
        after: pick(after, changed),
        ...(municipalityChanged
          ? { municipalityId: { before: placeNote, after: municipalityId || null } }
          : {}),
      },
    });
  }

  let emailPending: EditResult['emailPending'] = null;
  if (emailChanged) {
    const { token, tokenHash } = newToken();
    await User.updateOne(
      { _id: { $eq: target._id } },
      {
        $set: {
          emailChange: {
            email: input.email,
            tokenHash,
            expiresAt: new Date(Date.now() + EMAIL_CHANGE_HOURS * 3_600_000),
          },
        },
      },
    );
    await recordAudit({
      actorId: actor.id,
      action: 'user.email_change_requested',
      targetType: 'User',
      targetId: String(target._id),
      municipalityId: municipality ? String(municipality._id) : placeNote,
      ip: ip ?? null,
      details: { before: target.email, after: input.email },
    });
    emailPending = { email: input.email, token };
  }
  return { changed, emailPending };
}

/**
 * Confirms a new address from the link mailed to it: the address changes at once. Returns the
 * user's id, or null for an unknown, used or expired link (or an address taken meanwhile).
 */
export async function confirmEmailChange(
  token: string,
  ip: string | undefined,
): Promise<{ userId: string; email: string } | 'taken' | null> {
  const user = await User.findOne({
    'emailChange.tokenHash': { $eq: hashToken(token) },
    'emailChange.expiresAt': mongoose.trusted({ $gt: new Date() }),
  }).lean();
  const pending = user?.emailChange;
  if (!user || !pending?.email) return null;
  if (await User.isEmailTaken(pending.email, String(user._id))) return 'taken';
  const result = await User.updateOne(
    { _id: { $eq: user._id }, 'emailChange.tokenHash': { $eq: pending.tokenHash } },
    { $set: { email: pending.email, emailChange: null } },
  );
  if (result.modifiedCount === 0) return null;
  await recordAudit({
    actorId: String(user._id),
    action: 'user.email_changed',
    targetType: 'User',
    targetId: String(user._id),
    municipalityId: user.municipalityId ? String(user.municipalityId) : null,
    ip: ip ?? null,
    details: { before: user.email, after: pending.email },
  });
  return { userId: String(user._id), email: pending.email };
}

async function readable(
  municipalityId: Types.ObjectId | null | undefined,
  organisationId: Types.ObjectId | null | undefined,
  target: AdminUserRecord,
): Promise<Readable> {
  const [municipality, organisation] = await Promise.all([
    municipalityId ? Municipality.findById(municipalityId, { name: 1 }).lean() : null,
    organisationId ? Organisation.findById(organisationId, { name: 1 }).lean() : null,
  ]);
  return {
    name: target.name,
    nameKana: target.nameKana,
    municipality: municipality?.name ?? '',
    organisation: organisation?.name ?? '',
    profession: target.profession ?? '',
  };
}

function pick(values: Readable, keys: (keyof Readable)[]): Partial<Readable> {
  return Object.fromEntries(keys.map((key) => [key, values[key]]));
}
