import { z } from 'zod';
import { typedText } from '../lib/forms.js';
import { ORGANISATION_NAME_MAX, SECTORS } from './organisation.model.js';

/** The organisation form (create and edit). Messages are shown next to each field. */
export const organisationForm = z.object({
  name: typedText(ORGANISATION_NAME_MAX, {
    required: '名称を入力してください。',
    tooLong: `名称は${ORGANISATION_NAME_MAX}文字以内で入力してください。`,
  }),
  sector: z.enum(SECTORS, { error: '分野を選択してください。' }),
  municipalityId: z
    .string({ error: '市町村を選択してください。' })
    .regex(/^[0-9a-f]{24}$/i, { error: '市町村を選択してください。' }),
});
export type OrganisationInput = z.infer<typeof organisationForm>;
