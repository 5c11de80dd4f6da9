import { Types } from 'mongoose';
import { z } from 'zod';
import { passwordProblem } from '../auth/password.js';
import { Municipality } from '../organisations/municipality.model.js';
import { Organisation } from '../organisations/organisation.model.js';
import {
  listMunicipalitiesByRegion,
  toSelectOptions,
} from '../organisations/organisations.service.js';
import { typedText } from '../lib/forms.js';
import { NAME_MAX, PROFESSIONS } from './user.model.js';

/** Field rules shared by the invitation, registration and account forms. Messages in Japanese. */
export const nameField = typedText(NAME_MAX, {
  required: '氏名を入力してください。',
  tooLong: `氏名は${NAME_MAX}文字以内で入力してください。`,
});

export const nameKanaField = typedText(NAME_MAX, {
  required: 'ふりがなを入力してください。',
  tooLong: `ふりがなは${NAME_MAX}文字以内で入力してください。`,
}).pipe(
  z
    .string()
    .regex(
      /^[\p{Script=Hiragana}\p{Script=Katakana}ー・\s]+$/u,
      'ふりがなは、ひらがなまたはカタカナで入力してください。',
    ),
);

export const emailField = z
  .string({ error: 'メールアドレスを入力してください。' })
  .trim()
  .min(1, 'メールアドレスを入力してください。')
  .max(254, 'メールアドレスが長すぎます。')
  .pipe(z.email('メールアドレスの形式が正しくありません（例：hanako@example.jp）。'))
  .transform((email) => email.toLowerCase());

export const professionField = z.enum(PROFESSIONS, { error: '職種を選択してください。' });

const objectIdString = (message: string) =>
  z
    .string({ error: message })
    .regex(/^[0-9a-f]{24}$/i, message)
    .refine((value) => Types.ObjectId.isValid(value), message);

export const municipalityField = objectIdString('市町村を選択してください。');

/** Optional: an empty select means "no organisation". */
export const organisationField = z
  .union([z.literal(''), objectIdString('所属機関を選択し直してください。')])
  .optional()
  .transform((value) => value || undefined);

/** A new password with its confirmation; checked against the rules and common passwords. */
export function withNewPassword<T extends z.ZodRawShape>(
  shape: T,
  personal: (data: Record<string, unknown>) => string[],
) {
  return z
    .object({
      ...shape,
      password: z.string({ error: 'パスワードを入力してください。' }),
      passwordConfirm: z.string({ error: '確認のため、もう一度パスワードを入力してください。' }),
    })
    .superRefine(
      (data, ctx) => {
        const record = data as Record<string, unknown>;
        if (typeof record.password !== 'string') return;
        const password = record.password;
        const problem = passwordProblem(password, personal(record));
        if (problem) ctx.addIssue({ code: 'custom', path: ['password'], message: problem });
        else if (password !== record.passwordConfirm) {
          ctx.addIssue({
            code: 'custom',
            path: ['passwordConfirm'],
            message: '確認用のパスワードが一致しません。もう一度入力してください。',
          });
        }
      },
      // Also when other fields are wrong, so every message shows at once.
      { when: () => true },
    );
}

/** A form value as text ('' for anything that is not a string). */
export const text = (value: unknown): string => (typeof value === 'string' ? value : '');

export const professionOptions = PROFESSIONS.map((profession) => ({
  value: profession,
  label: profession,
}));

/** Municipalities grouped by region, for a select box. */
export async function municipalityOptions() {
  return toSelectOptions(await listMunicipalitiesByRegion());
}

/** Organisations of one municipality (or of all, grouped by municipality), for a select box. */
export async function organisationOptions(municipalityId?: string | null) {
  if (municipalityId) {
    const organisations = await Organisation.find({ municipalityId: { $eq: municipalityId } })
      .sort({ name: 1 })
      .lean();
    return organisations.map((organisation) => ({
      value: String(organisation._id),
      label: organisation.name,
    }));
  }
  const [organisations, municipalities] = await Promise.all([
    Organisation.find().sort({ name: 1 }).lean(),
    Municipality.find().sort({ order: 1 }).lean(),
  ]);
  return municipalities
    .map((municipality) => ({
      group: municipality.name,
      /** public/js/organisation-filter.js shows only the group of the chosen municipality. */
      parent: String(municipality._id),
      options: organisations
        .filter((organisation) => String(organisation.municipalityId) === String(municipality._id))
        .map((organisation) => ({ value: String(organisation._id), label: organisation.name })),
    }))
    .filter((group) => group.options.length > 0);
}

/** The organisation if it belongs to the municipality; undefined otherwise. */
export async function organisationIn(organisationId: string | undefined, municipalityId: string) {
  if (!organisationId) return undefined;
  return (
    (await Organisation.findOne({
      _id: { $eq: organisationId },
      municipalityId: { $eq: municipalityId },
    }).lean()) ?? undefined
  );
}
