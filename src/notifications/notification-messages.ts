import type { NotificationKind } from './notifications.service.js';

export interface NotificationText {
  /** The line shown in the list and the mail's subject. */
  title: string;
  /** One sentence saying what to do next. Never anything of the case itself. */
  sentence: string;
}

/** The Japanese text of each kind, for the list and the mail. */
export const NOTIFICATION_TEXTS: Record<NotificationKind, NotificationText> = {
  'case_study.assigned': {
    title: '事例検討レポートの担当になりました',
    sentence:
      '担当する事例検討レポートが提出されました。内容をご確認のうえ、フィードバックをお願いします。',
  },
  'case_study.resubmitted': {
    title: '事例検討レポートが再提出されました',
    sentence: '担当している事例検討レポートが修正のうえ再提出されました。内容をご確認ください。',
  },
  'case_study.feedback_released': {
    title: '事例検討レポートにフィードバックが届きました',
    sentence:
      'スーパーバイザーからフィードバックが届きました。内容をご確認のうえ、修正して再提出してください。',
  },
  'case_study.approved': {
    title: '事例検討レポートが承認されました',
    sentence: '提出した事例検討レポートが承認されました。お疲れさまでした。',
  },
  'case_study.unassigned': {
    title: '担当者が決まっていない事例検討レポートがあります',
    sentence:
      '提出された事例検討レポートの地域を担当するスーパーバイザーがいません。担当者を割り当ててください。',
  },
  'case_study.reassigned': {
    title: '事例検討レポートの担当になりました（担当の変更）',
    sentence:
      '担当の変更により、事例検討レポートの担当になりました。内容をご確認のうえ、フィードバックをお願いします。',
  },
  'certificate.issued': {
    title: '修了証書が発行されました',
    sentence: '研修の修了証書が発行されました。「学習の記録」からダウンロードできます。',
  },
};
