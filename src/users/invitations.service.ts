import mongoose, { Types } from 'mongoose';
import { newToken, hashToken } from '../auth/tokens.js';
import { Municipality } from '../organisations/municipality.model.js';
import { can } from '../auth/policy.js';
import type { SessionUser } from '../auth/session-user.js';
import {
  INVITATION_DAYS,
  Invitation,
  type InvitationAttrs,
  type InvitationDocument,
} from './invitation.model.js';
import type { Role } from './roles.js';

/**
 * Creates an invitation. Returns the raw token. Earlier invitations for the same address are left
 * alone: callers refuse an address with an open invitation first (see openInvitationFor), so an
 * inviter can never cancel someone else's invitation by inviting the same address.
 */
export async function createInvitation(input: {
  email: string;
  roles: Role[];
  municipalityId: string | null;
  invitedBy: string;
  /** Starting values for the acceptance form. */
  prefill?: {
    name: string;
    nameKana: string;
    profession: string;
    organisationId: string | null;
    importBatchId?: Types.ObjectId;
  };
}): Promise<{ invitation: InvitationDocument; token: string }> {
  const municipality = input.municipalityId
    ? await Municipality.findById(input.municipalityId).lean()
    : null;
  const now = new Date();
  const { token, tokenHash } = newToken();
  const invitation = await Invitation.create({
    tokenHash,
    email: input.email,
    roles: input.roles,
    municipalityId: municipality?._id ?? null,
    regionId: municipality?.regionId ?? null,
    invitedBy: new Types.ObjectId(input.invitedBy),
    expiresAt: new Date(now.getTime() + INVITATION_DAYS * 24 * 60 * 60 * 1000),
    prefill: input.prefill
      ? {
          ...input.prefill,
          organisationId: input.prefill.organisationId
            ? new Types.ObjectId(input.prefill.organisationId)
            : null,
        }
      : null,
  });
  return { invitation, token };
}

/** The open (unused, unrevoked, unexpired) invitation for an address, if any. */
export async function openInvitationFor(email: string) {
  return Invitation.findOne({
    email: { $eq: email },
    acceptedAt: null,
    revokedAt: null,
    expiresAt: mongoose.trusted({ $gt: new Date() }),
  }).lean();
}

/**
 * Whether the user may act on an existing invitation (revoke it, or be told it exists): only
 * when they could have sent it themselves, i.e. admins any; coordinators those of their own
 * municipality that invite trainees only.
 */
export function mayManageInvitation(
  user: SessionUser,
  invitation: Pick<InvitationAttrs, 'municipalityId' | 'roles'>,
): boolean {
  return can(user, 'user.invite', {
    municipalityId: invitation.municipalityId,
    roles: invitation.roles,
  });
}

/** The open invitation for a token, or null when it is unknown, used, revoked or expired. */
export async function findOpenInvitation(token: string) {
  return Invitation.findOne({
    tokenHash: { $eq: hashToken(token) },
    acceptedAt: null,
    revokedAt: null,
    expiresAt: mongoose.trusted({ $gt: new Date() }),
  });
}

/** Marks the invitation used, atomically: only one of two simultaneous submissions wins. */
export async function claimInvitation(token: string) {
  return Invitation.findOneAndUpdate(
    {
      tokenHash: { $eq: hashToken(token) },
      acceptedAt: null,
      revokedAt: null,
      expiresAt: mongoose.trusted({ $gt: new Date() }),
    },
    { $set: { acceptedAt: new Date() } },
    { returnDocument: 'after' },
  );
}

export async function releaseInvitation(id: Types.ObjectId) {
  await Invitation.updateOne({ _id: id }, { $set: { acceptedAt: null } });
}
