import mongoose, {
  Schema,
  type HydratedDocument,
  type InferSchemaType,
  type Model,
} from 'mongoose';
import { cleanIfText, withinCharacters } from '../lib/text.js';
import { ROLES } from './roles.js';
import { clearCachesOnWrite, singleValue } from '../cache/document-cache.js';
import { currentFeed } from '../cache/read-caches.js';

/** 職種: the professions a person can choose (the last one catches everything else). */
export const PROFESSIONS = [
  '保健師',
  '社会福祉士',
  '精神保健福祉士',
  '公認心理師',
  'スクールソーシャルワーカー',
  'スクールカウンセラー',
  '教員',
  '相談支援専門員',
  '介護支援専門員',
  '看護師',
  '医師',
  '民生委員・児童委員',
  '行政職員',
  'ピアサポーター',
  'その他',
] as const;
export type Profession = (typeof PROFESSIONS)[number];

/** Most characters (as a reader counts them: src/lib/text.ts) in a name or its reading. */
export const NAME_MAX = 50;

export const USER_STATUSES = ['pending', 'active', 'suspended'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

export const USER_STATUS_LABELS: Record<UserStatus, string> = {
  pending: '承認待ち',
  active: '利用中',
  suspended: '利用停止',
};

const userSchema = new Schema(
  {
    /** Full name as written (漢字), e.g. 長野 花子. */
    name: {
      type: String,
      required: true,
      set: cleanIfText,
      validate: [withinCharacters(NAME_MAX), `at most ${NAME_MAX} characters`],
    },
    /** Reading of the name (ふりがな), for sorting and for reading aloud. */
    nameKana: {
      type: String,
      required: true,
      set: cleanIfText,
      validate: [withinCharacters(NAME_MAX), `at most ${NAME_MAX} characters`],
    },
    /** Login id. Stored trimmed and lowercased; unique. */
    email: { type: String, required: true, trim: true, lowercase: true, maxlength: 254 },
    /** scrypt hash in the self-describing format of src/auth/password.ts. Never selected by default. */
    passwordHash: { type: String, required: true, select: false },
    roles: {
      type: [{ type: String, enum: ROLES }],
      required: true,
      validate: [(roles: string[]) => roles.length > 0, 'at least one role'],
    },
    status: {
      type: String,
      required: true,
      enum: ['pending', 'active', 'suspended'],
      default: 'pending',
    },
    /** Home municipality; a coordinator's scope. Null only for center administrators. */
    municipalityId: { type: Schema.Types.ObjectId, ref: 'Municipality', default: null },
    /** Region of the municipality, copied from it: a regional viewer's scope, and for reports. */
    regionId: { type: Schema.Types.ObjectId, ref: 'Region', default: null },
    organisationId: { type: Schema.Types.ObjectId, ref: 'Organisation', default: null },
    profession: { type: String, enum: [...PROFESSIONS, null], default: null },
    /** The status a suspension interrupted ('pending' or 'active'): where reactivation returns. */
    statusBeforeSuspension: { type: String, enum: ['pending', 'active', null], default: null },
    lastLoginAt: { type: Date, default: null },
    passwordChangedAt: { type: Date, default: null },
    /** Who approved a self-registration or sent the invitation; for the audit trail on the user page. */
    approvedBy: { type: Schema.Types.ObjectId, ref: 'User', default: null },
    approvedAt: { type: Date, default: null },
    /** Whether notifications (src/notifications) are also sent by mail; in-app ones always appear. */
    notificationMail: { type: Boolean, default: true },
    /**
     * Unread notifications, for the header: kept here because the user is read (and cached) on
     * every request anyway. Raised by notify(), recounted when notifications are read.
     */
    unreadNotifications: { type: Number, default: 0, min: 0 },
    /** The privacy notice (src/privacy) the person agreed to when registering or accepting an invitation. */
    privacyConsent: {
      type: new Schema(
        { version: { type: String, required: true }, at: { type: Date, required: true } },
        { _id: false },
      ),
      default: null,
    },
    /**
     * A new login address waiting for confirmation from that address (src/admin/user-edit.service.ts):
     * the address changes only when the link mailed to it is used. Only the token's hash is kept.
     */
    emailChange: {
      type: new Schema(
        {
          email: { type: String, required: true, trim: true, lowercase: true, maxlength: 254 },
          tokenHash: { type: String, required: true },
          expiresAt: { type: Date, required: true },
        },
        { _id: false },
      ),
      default: null,
    },
  },
  {
    timestamps: true,
    toJSON: {
      transform: (_doc, ret: Record<string, unknown>) => {
        delete ret.passwordHash;
        delete ret.emailChange;
        return ret;
      },
    },
  },
);
userSchema.index({ email: 1 }, { unique: true });
userSchema.index({ municipalityId: 1, status: 1 });
userSchema.index({ regionId: 1, status: 1 });
userSchema.index({ status: 1, createdAt: -1 });
// The users cache is keyed by the user's id.
clearCachesOnWrite(userSchema, currentFeed, 'users', (source) => singleValue(source, '_id'));

export type UserAttrs = InferSchemaType<typeof userSchema>;
export type UserDocument = HydratedDocument<UserAttrs>;

interface UserModel extends Model<UserAttrs> {
  /** True when an account with this address exists (any status). */
  isEmailTaken(email: string, excludeId?: string): Promise<boolean>;
}

userSchema.static(
  'isEmailTaken',
  async function (email: string, excludeId?: string): Promise<boolean> {
    const filter: Record<string, unknown> = { email: { $eq: normaliseEmail(email) } };
    if (excludeId) filter._id = mongoose.trusted({ $ne: excludeId });
    return (await this.exists(filter)) !== null;
  },
);

export const User = mongoose.model<UserAttrs, UserModel>('User', userSchema);

/** Login ids are compared trimmed and lowercased. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}
