import { z } from 'zod';
import { typedText } from '../lib/forms.js';
import { CERTIFICATE_NAME_MAX } from './certificate.model.js';
import { tokyoDay } from './dates.js';

/** Longest reason for a manual issue or a revocation, in characters. */
export const REASON_MAX = 500;

const reason = typedText(REASON_MAX, {
  required: '理由を入力してください。',
  tooLong: `理由は${REASON_MAX}文字以内で入力してください。`,
});

export const certificateNameForm = z.object({
  name: typedText(CERTIFICATE_NAME_MAX, {
    required: '氏名を入力してください。',
    tooLong: `氏名は${CERTIFICATE_NAME_MAX}文字以内で入力してください。`,
  }),
});

export const revokeForm = z.object({ reason });

/** Issue by hand (e.g. for a course held in person before the system). */
export const manualIssueForm = z.object({
  email: z
    .string({ error: 'メールアドレスを入力してください。' })
    .trim()
    .min(1, 'メールアドレスを入力してください。')
    .max(254, 'メールアドレスが長すぎます。'),
  programId: z.string().min(1, '研修を選択してください。'),
  completedOn: z
    .string({ error: '修了日を入力してください。' })
    .min(1, '修了日を入力してください。')
    .refine((value) => tokyoDay(value) !== null, '修了日は 2026-12-01 の形で入力してください。')
    .refine(
      (value) => (tokyoDay(value)?.getTime() ?? 0) <= Date.now(),
      '修了日に未来の日付は指定できません。',
    ),
  reason,
});
