import type { Module, Quiz } from './catalog.types.js';

/**
 * Advice for question writers, printed by `npm run courses:check` but never refusing the content:
 * a quiz whose keyed answers are usually the longest option, or whose multiple-choice questions
 * have only one wrong option, can be passed without reading the lessons.
 */

/** Above this share of single-choice questions keyed to their longest option, the quiz is warned. */
export const LONGEST_ANSWER_LIMIT = 0.4;
/** A multiple-choice question needs at least this many wrong options. */
export const MIN_WRONG_OPTIONS = 2;

export interface QuizFigures {
  /** Single-choice questions. */
  single: number;
  /** Ids of single-choice questions whose keyed answer is longer than every other option. */
  longestAnswer: string[];
  /** Multiple-choice questions. */
  multiple: number;
  /** Ids of multiple-choice questions with fewer than MIN_WRONG_OPTIONS wrong options. */
  fewWrongOptions: string[];
}

/** Length as a reader sees it: characters, not UTF-16 code units, ignoring spaces. */
function visibleLength(text: string): number {
  return [...text.replace(/\s/g, '')].length;
}

export function quizFigures(quiz: Pick<Quiz, 'questions'>): QuizFigures {
  const figures: QuizFigures = { single: 0, longestAnswer: [], multiple: 0, fewWrongOptions: [] };
  for (const question of quiz.questions) {
    const keyed = question.options.filter((o) => question.answer.includes(o.id));
    const others = question.options.filter((o) => !question.answer.includes(o.id));
    if (question.type === 'single') {
      figures.single++;
      const answerLength = visibleLength(keyed[0]?.text ?? '');
      if (others.every((o) => visibleLength(o.text) < answerLength))
        figures.longestAnswer.push(question.id);
    } else {
      figures.multiple++;
      if (others.length < MIN_WRONG_OPTIONS) figures.fewWrongOptions.push(question.id);
    }
  }
  return figures;
}

/** The warnings for one quiz, in Japanese for the center's staff; empty when all is clear. */
export function quizWarnings(quiz: Pick<Quiz, 'questions'>): string[] {
  const figures = quizFigures(quiz);
  const warnings: string[] = [];
  if (figures.single > 0 && figures.longestAnswer.length / figures.single > LONGEST_ANSWER_LIMIT) {
    warnings.push(
      `単一選択 ${figures.single}問のうち ${figures.longestAnswer.length}問で、正解がいちばん長い選択肢です（${figures.longestAnswer.join(', ')}）。` +
        `長さで正解が分からないよう、${Math.floor(figures.single * LONGEST_ANSWER_LIMIT)}問以下にしてください。`,
    );
  }
  if (figures.fewWrongOptions.length > 0) {
    warnings.push(
      `複数選択 ${figures.multiple}問のうち ${figures.fewWrongOptions.length}問で、誤りの選択肢が${MIN_WRONG_OPTIONS}つ未満です（${figures.fewWrongOptions.join(', ')}）。` +
        `誤りの選択肢を${MIN_WRONG_OPTIONS}つ以上にしてください。`,
    );
  }
  return warnings;
}

/** A module whose estimated time is not the sum of its lessons' times. */
export function moduleMinutesWarning(
  module: Pick<Module, 'estimatedMinutes' | 'lessons'>,
): string | null {
  const sum = module.lessons.reduce((total, lesson) => total + lesson.estimatedMinutes, 0);
  if (sum === module.estimatedMinutes) return null;
  return `単元の所要時間 ${module.estimatedMinutes}分が、レッスンの所要時間の合計 ${sum}分と一致しません。`;
}
