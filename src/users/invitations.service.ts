import mongoose, { Types } from 'mongoose';
import { newToken, hashToken } from '../auth/tokens.js';
import { Municipality } from '../organisations/municipality.model.js';
import { INVITATION_DAYS, Invitation, type InvitationDocument } from './invitation.model.js';
import type { Role } from './roles.js';

/** Creates an invitation (revoking any earlier open one for the same address). Returns the raw token. */
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
  await Invitation.updateMany(
    { email: { $eq: input.email }, acceptedAt: null, revokedAt: null },
    { $set: { revokedAt: now } },
  );
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
