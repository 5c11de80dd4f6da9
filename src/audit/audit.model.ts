import mongoose, { Schema, type HydratedDocument, type InferSchemaType } from 'mongoose';

/** Everything the audit log records. Add new actions here (A2 and L too), never free text. */
export const AUDIT_ACTIONS = [
  'auth.login',
  'auth.login_failed',
  'auth.login_blocked',
  'auth.logout',
  'auth.password_changed',
  'auth.password_reset_requested',
  'auth.password_reset',
  'user.registered',
  'user.approved',
  'user.rejected',
  'user.roles_changed',
  'user.suspended',
  'user.reactivated',
  'user.updated',
  'user.email_change_requested',
  'user.email_changed',
  'user.created',
  'invitation.created',
  'invitation.accepted',
  'invitation.revoked',
  'invitation.resent',
  'import.completed',
  'organisation.created',
  'organisation.updated',
  'organisation.deleted',
  'mail.viewed',
  'bootstrap.admin_created',
  'case_study.submitted',
  'case_study.withdrawn',
  'case_study.approved',
  'case_study.files_deleted',
  'review.assigned',
  'review.unassigned',
  'review.reassigned',
  'review.decided',
  'review.coverage_changed',
  'certificate.issued',
  'certificate.revoked',
  'certificate.name_corrected',
  'report.reminded',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** Japanese labels for the audit browser. */
export const AUDIT_ACTION_LABELS: Record<AuditAction, string> = {
  'auth.login': 'ログイン',
  'auth.login_failed': 'ログイン失敗',
  'auth.login_blocked': 'ログイン制限',
  'auth.logout': 'ログアウト',
  'auth.password_changed': 'パスワード変更',
  'auth.password_reset_requested': 'パスワード再設定の申請',
  'auth.password_reset': 'パスワード再設定',
  'user.registered': '利用登録の申請',
  'user.approved': '利用登録の承認',
  'user.rejected': '利用登録の却下',
  'user.roles_changed': '役割の変更',
  'user.suspended': '利用停止',
  'user.reactivated': '利用再開',
  'user.updated': '利用者情報の変更',
  'user.email_change_requested': 'メールアドレス変更の依頼',
  'user.email_changed': 'メールアドレスの変更',
  'user.created': '利用者の作成',
  'invitation.created': '招待の送信',
  'invitation.accepted': '招待の受諾',
  'invitation.revoked': '招待の取り消し',
  'invitation.resent': '招待の再送',
  'import.completed': '利用者の一括登録',
  'organisation.created': '所属機関の追加',
  'organisation.updated': '所属機関の変更',
  'organisation.deleted': '所属機関の削除',
  'mail.viewed': '送信メールの閲覧',
  'bootstrap.admin_created': '初期管理者の作成',
  'case_study.submitted': '事例検討レポートの提出',
  'case_study.withdrawn': '事例検討レポートの取り下げ',
  'case_study.approved': '事例検討レポートの承認',
  'case_study.files_deleted': '事例検討の添付ファイルの削除（保存期間の経過）',
  'review.assigned': '事例検討レポートの担当割り当て',
  'review.unassigned': '事例検討レポートの担当者なし（割り当て待ち）',
  'review.reassigned': '事例検討レポートの担当変更',
  'review.decided': '事例検討レポートの確認結果',
  'review.coverage_changed': 'スーパーバイザーの担当圏域の変更',
  'certificate.issued': '修了証書の発行',
  'certificate.revoked': '修了証書の失効',
  'certificate.name_corrected': '修了証書の氏名の訂正',
  'report.reminded': '学習のお知らせメールの送信',
};

const auditEventSchema = new Schema(
  {
    at: { type: Date, required: true, default: () => new Date() },
    /** Who did it; null for anonymous actions (failed sign-in, self-registration) and the system. */
    actorId: { type: Schema.Types.ObjectId, ref: 'User', default: null },
    action: { type: String, required: true, enum: AUDIT_ACTIONS },
    /** What it was done to, e.g. 'User' and the user's id. */
    targetType: { type: String, default: null },
    targetId: { type: Schema.Types.ObjectId, default: null },
    /** The municipality concerned, so coordinators' views can be scoped. */
    municipalityId: { type: Schema.Types.ObjectId, ref: 'Municipality', default: null },
    /** Client address, from where. */
    ip: { type: String, default: null },
    /** Small facts (role lists, counts, a hashed address). Never passwords, tokens or case content. */
    details: { type: Schema.Types.Mixed, default: null },
  },
  { versionKey: false },
);
auditEventSchema.index({ at: -1 });
auditEventSchema.index({ action: 1, at: -1 });
auditEventSchema.index({ actorId: 1, at: -1 });
auditEventSchema.index({ targetId: 1, at: -1 });
auditEventSchema.index({ municipalityId: 1, at: -1 });

export type AuditEventAttrs = InferSchemaType<typeof auditEventSchema>;
export type AuditEventDocument = HydratedDocument<AuditEventAttrs>;
export const AuditEvent = mongoose.model('AuditEvent', auditEventSchema);
