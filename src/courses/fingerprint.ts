import { createHash } from 'node:crypto';
import type { QuizQuestion } from './catalog.types.js';

/** A content fingerprint of a quiz: questions, options and answers (not titles or explanations). */
export function quizFingerprint(
  questions: readonly Pick<QuizQuestion, 'id' | 'type' | 'text' | 'options' | 'answer'>[],
): string {
  const canonical = questions.map((q) => [
    q.id,
    q.type,
    q.text,
    q.options.map((o) => [o.id, o.text]),
    [...q.answer].sort(),
  ]);
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex').slice(0, 16);
}
