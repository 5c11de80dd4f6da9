import mongoose, { Schema } from 'mongoose';

export const RESET_MINUTES = 60;

/** A password-reset link: single use, valid for one hour, stored as the token's hash. */
const passwordResetSchema = new Schema(
  {
    tokenHash: { type: String, required: true },
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    expiresAt: { type: Date, required: true },
    usedAt: { type: Date, default: null },
  },
  { timestamps: true },
);
passwordResetSchema.index({ tokenHash: 1 }, { unique: true });
passwordResetSchema.index({ userId: 1, createdAt: -1 });
// Spent and expired links are removed a day later.
passwordResetSchema.index({ expiresAt: 1 }, { expireAfterSeconds: 24 * 60 * 60 });

export const PasswordReset = mongoose.model(
  'PasswordReset',
  passwordResetSchema,
  'password_resets',
);
