import type { ContentProblem } from './catalog.types.js';

/** Thrown by loadCatalog: every problem in the content tree, never just the first. */
export class CourseContentError extends Error {
  constructor(readonly problems: readonly ContentProblem[]) {
    super(
      `研修コンテンツに誤りがあります（${problems.length}件）。修正してから起動し直してください:\n` +
        problems.map((problem) => `  - ${formatProblem(problem)}`).join('\n'),
    );
    this.name = 'CourseContentError';
  }
}

export function formatProblem(problem: ContentProblem): string {
  const where = problem.line ? `${problem.file}:${problem.line}` : problem.file;
  return `${where}${problem.field ? ` [${problem.field}]` : ''} ${problem.message}`;
}
