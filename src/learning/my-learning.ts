import type { Catalog, Lesson, Module, Program } from '../courses/catalog.types.js';
import type { Learner } from './learner.js';
import {
  listLessonProgress,
  loadProgramProgress,
  type ProgramProgress,
} from './progress.service.js';
import { listAttempts, type AttemptSummary } from './quiz.service.js';

export interface MyProgram {
  progress: ProgramProgress;
  /** Lessons read, in content order, with when. */
  done: { module: Module; lesson: Lesson; readAt: Date | null }[];
  attempts: (AttemptSummary & { module: Module | undefined; quizTitle: string })[];
  minutesSpent: number;
}

/** Everything "My learning" shows: per program, what is done, what is next, quiz results, time spent. */
export async function myLearning(
  catalog: Catalog,
  learner: Learner,
): Promise<{ myPrograms: MyProgram[] }> {
  const myPrograms = await Promise.all(
    catalog.programs.map(async (program: Program): Promise<MyProgram> => {
      const [progress, lessonRecords, attempts] = await Promise.all([
        loadProgramProgress(learner, program),
        listLessonProgress(learner, program.id),
        listAttempts(learner, program.id),
      ]);
      // Which lessons are read is the summary's to say; the lesson's record adds when. A record
      // without its date (a process stopped between the two writes of a mark) shows none.
      const readAt = new Map(
        lessonRecords.filter((r) => r.readAt).map((r) => [r.lessonId, r.readAt!]),
      );
      const read = new Set(progress.summary.readLessons);
      const done = program.modules.flatMap((module) =>
        module.lessons
          .filter((l) => read.has(l.id))
          .map((lesson) => ({ module, lesson, readAt: readAt.get(lesson.id) ?? null })),
      );
      return {
        progress,
        done,
        attempts: attempts.map((attempt) => {
          const module = program.modules.find((m) => m.id === attempt.moduleId);
          return {
            ...attempt,
            module,
            quizTitle: module?.quiz?.title ?? '（現在は公開されていない確認テスト）',
          };
        }),
        minutesSpent: Math.round(progress.summary.secondsSpent / 60),
      };
    }),
  );
  return { myPrograms };
}
