import mongoose, { Schema, type HydratedDocument, type InferSchemaType } from 'mongoose';
import { ROLES } from './roles.js';

export const INVITATION_DAYS = 7;

/** An invitation to create an account, sent by an administrator or a municipal coordinator. */
const invitationSchema = new Schema(
  {
    /** sha256 of the token in the link; the token itself is only in the mail. */
    tokenHash: { type: String, required: true },
    email: { type: String, required: true, trim: true, lowercase: true, maxlength: 254 },
    roles: { type: [{ type: String, enum: ROLES }], required: true },
    municipalityId: { type: Schema.Types.ObjectId, ref: 'Municipality', default: null },
    regionId: { type: Schema.Types.ObjectId, ref: 'Region', default: null },
    invitedBy: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    expiresAt: { type: Date, required: true },
    acceptedAt: { type: Date, default: null },
    acceptedUserId: { type: Schema.Types.ObjectId, ref: 'User', default: null },
    revokedAt: { type: Date, default: null },
    /**
     * What the inviter already knows about the person (e.g. from a CSV import), offered as the
     * starting values of the acceptance form. The invitee may correct every field.
     */
    prefill: {
      type: new Schema(
        {
          name: { type: String, default: '' },
          nameKana: { type: String, default: '' },
          profession: { type: String, default: '' },
          organisationId: { type: Schema.Types.ObjectId, ref: 'Organisation', default: null },
          importBatchId: { type: Schema.Types.ObjectId, default: null },
        },
        { _id: false },
      ),
      default: null,
    },
  },
  { timestamps: true },
);
invitationSchema.index({ tokenHash: 1 }, { unique: true });
invitationSchema.index({ municipalityId: 1, createdAt: -1 });
invitationSchema.index({ email: 1 });

export type InvitationAttrs = InferSchemaType<typeof invitationSchema>;
export type InvitationDocument = HydratedDocument<InvitationAttrs>;
export const Invitation = mongoose.model('Invitation', invitationSchema);

export type InvitationState = 'pending' | 'accepted' | 'revoked' | 'expired';

export function invitationState(
  invitation: Pick<InvitationAttrs, 'acceptedAt' | 'revokedAt' | 'expiresAt'>,
  now = new Date(),
): InvitationState {
  if (invitation.acceptedAt) return 'accepted';
  if (invitation.revokedAt) return 'revoked';
  if (invitation.expiresAt <= now) return 'expired';
  return 'pending';
}

export const INVITATION_STATE_LABELS: Record<InvitationState, string> = {
  pending: '未登録',
  accepted: '登録済み',
  revoked: '取り消し',
  expired: '期限切れ',
};
