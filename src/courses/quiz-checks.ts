import type { Quiz } from './catalog.types.js';
import type { QuizFile } from './content.schema.js';
import { quizFingerprint } from './fingerprint.js';
import type { YamlSource } from './yaml-source.js';

/** Records a problem: file, message, line, field. */
export type Report = (file: string, message: string, line?: number, field?: string) => void;

export function duplicates(values: readonly string[]): string[] {
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const value of values) (seen.has(value) ? repeated : seen).add(value);
  return [...repeated];
}

/** Checks what the schema cannot: unique ids, answers among the options, one answer for single. */
export function checkQuiz(parsed: QuizFile, yaml: YamlSource, file: string, report: Report): Quiz {
  duplicates(parsed.questions.map((q) => q.id)).forEach((dup) =>
    report(file, `問題 id "${dup}" が重複しています`, yaml.lineOf(['questions']), 'questions'),
  );
  parsed.questions.forEach((question, qi) => {
    const optionIds = question.options.map((o) => o.id);
    duplicates(optionIds).forEach((dup) =>
      report(
        file,
        `選択肢 id "${dup}" が重複しています`,
        yaml.lineOf(['questions', qi, 'options']),
        `questions[${qi}].options`,
      ),
    );
    question.answer.forEach((answerId, ai) => {
      if (!optionIds.includes(answerId)) {
        report(
          file,
          `正解 "${answerId}" は選択肢にありません（選択肢の id: ${optionIds.join(', ')}）`,
          yaml.lineOf(['questions', qi, 'answer', ai]),
          `questions[${qi}].answer`,
        );
      }
    });
    if (duplicates(question.answer).length > 0) {
      report(
        file,
        '正解に同じ選択肢が2回以上挙げられています',
        yaml.lineOf(['questions', qi, 'answer']),
        `questions[${qi}].answer`,
      );
    }
    if (question.type === 'single' && question.answer.length !== 1) {
      report(
        file,
        `type: single の問題は正解をちょうど1つ指定してください（${question.answer.length}つ指定されています）`,
        yaml.lineOf(['questions', qi, 'answer']),
        `questions[${qi}].answer`,
      );
    }
  });
  const questions = parsed.questions.map((q) => ({ ...q, answer: [...new Set(q.answer)] }));
  return {
    id: parsed.id,
    title: parsed.title,
    passPercent: parsed.passPercent,
    questions,
    fingerprint: quizFingerprint(questions),
  };
}
