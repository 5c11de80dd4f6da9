import mongoose, { Schema, type HydratedDocument, type InferSchemaType } from 'mongoose';

/** What a notification is about; the Japanese text of each is in notification-messages.ts. */
export const NOTIFICATION_KINDS = [
  /** To the supervisor a submitted case study was assigned to. */
  'case_study.assigned',
  /** To the supervisor of a case study sent back in after a revision. */
  'case_study.resubmitted',
  /** To the trainee: the supervisor asked for a revision (the feedback is released). */
  'case_study.feedback_released',
  /** To the trainee: the case study is approved. */
  'case_study.approved',
  /** To administrators: no supervisor covers the trainee's region. */
  'case_study.unassigned',
  /** To the new supervisor after an administrator reassigned a case study. */
  'case_study.reassigned',
  /** To the learner: a completion certificate was issued (automatically or by an administrator). */
  'certificate.issued',
] as const;

/** Notifications are kept a year, read or not (the TTL index below deletes older ones). */
export const NOTIFICATION_RETENTION_DAYS = 365;

const notificationSchema = new Schema(
  {
    /** Whom it is for: only they see it ('notification.read'). */
    userId: { type: Schema.Types.ObjectId, ref: 'User', required: true },
    kind: { type: String, enum: NOTIFICATION_KINDS, required: true },
    /** Where opening it leads: a path on this app ("/review/…"), never an outside address. */
    link: { type: String, required: true, maxlength: 500 },
    /** When the user opened it (or marked all read); null while unread. */
    readAt: { type: Date, default: null },
  },
  { timestamps: { createdAt: true, updatedAt: false } },
);
// The list (newest first) and the unread count, both per user.
notificationSchema.index({ userId: 1, createdAt: -1 });
notificationSchema.index({ userId: 1, readAt: 1 });
notificationSchema.index(
  { createdAt: 1 },
  { expireAfterSeconds: NOTIFICATION_RETENTION_DAYS * 24 * 60 * 60 },
);

export type NotificationAttrs = InferSchemaType<typeof notificationSchema>;
export type NotificationDocument = HydratedDocument<NotificationAttrs>;

export const Notification = mongoose.model<NotificationAttrs>('Notification', notificationSchema);
