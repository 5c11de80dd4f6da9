import { z } from 'zod';

/** Stable ids: lower-case letters, digits and single hyphens (they appear in URLs and database keys). */
export const ID_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const id = z
  .string()
  .regex(ID_PATTERN, '英小文字・数字・ハイフンのみの id（例: understanding, q1）が必要です');

/** Plain text; YAML turns 2290 or 3.5 into numbers, which are fine as text. */
const text = z
  .union([z.string(), z.number()])
  .transform(String)
  .pipe(z.string().trim().min(1, '空にできません'));
const textList = z.array(text);
const minutes = z
  .number()
  .int('整数が必要です')
  .min(1, '1以上の整数（分）が必要です')
  .max(600, '600分以下にしてください');
/** `answer: b` is accepted as `answer: [b]`. */
const idList = z.preprocess((value) => (typeof value === 'string' ? [value] : value), z.array(id));

export const programSchema = z.strictObject({
  id,
  title: text,
  description: z.string().default(''),
  audience: textList.min(1, '対象者を1つ以上挙げてください'),
  modules: z.array(id).min(1, 'モジュールの id を1つ以上、表示する順に並べてください'),
  completion: z.strictObject({
    lessons: z.enum(['all', 'none']).default('all'),
    quizzes: z.enum(['all', 'none']).default('all'),
    caseStudy: z.enum(['approved', 'none']).default('none'),
  }),
  certificate: z.strictObject({ title: text, body: text, issuer: text }),
  // Loose: the case-study feature may add its own fields.
  caseStudy: z
    .looseObject({
      title: text,
      instructions: z.string().regex(/\.md$/, 'プログラムのフォルダ内の .md ファイル名が必要です'),
      sections: z
        .array(
          z.looseObject({
            id,
            title: text,
            guidance: text,
            minLength: z.number().int().min(0).default(0),
          }),
        )
        .min(1, '記入欄を1つ以上定義してください'),
      rubric: z.looseObject({
        levels: textList.min(2, '評価の段階を2つ以上挙げてください'),
        criteria: z
          .array(z.looseObject({ id, title: text, description: text }))
          .min(1, '評価項目を1つ以上定義してください'),
      }),
    })
    .optional(),
});
export type ProgramFile = z.infer<typeof programSchema>;

export const moduleSchema = z.strictObject({
  id,
  title: text,
  objectives: textList.min(1, '学習目標を1つ以上挙げてください'),
  estimatedMinutes: minutes,
  lessons: z.array(id).min(1, 'レッスンの id を1つ以上、表示する順に並べてください'),
  sources: textList.default([]),
});
export type ModuleFile = z.infer<typeof moduleSchema>;

export const lessonSchema = z.strictObject({
  id,
  title: text,
  estimatedMinutes: minutes,
  sources: textList.min(1, '出典（資料名と章・節）を1つ以上挙げてください'),
});
export type LessonFile = z.infer<typeof lessonSchema>;

export const quizSchema = z.strictObject({
  id,
  title: text,
  passPercent: z
    .number()
    .int('整数が必要です')
    .min(1, '1〜100の整数が必要です')
    .max(100, '1〜100の整数が必要です'),
  questions: z
    .array(
      z.strictObject({
        id,
        type: z.enum(['single', 'multiple']),
        text,
        options: z.array(z.strictObject({ id, text })).min(2, '選択肢を2つ以上挙げてください'),
        answer: idList.pipe(z.array(id).min(1, '正解の選択肢 id を1つ以上挙げてください')),
        explanation: text,
      }),
    )
    .min(1, '問題を1つ以上定義してください'),
});
export type QuizFile = z.infer<typeof quizSchema>;
