/**
 * `npm run courses:check`: validates the content in COURSES_DIR (default ./courses) exactly as the
 * app does at start-up, prints a summary or every problem, and exits 1 on any problem.
 */
import 'dotenv/config';
import path from 'node:path';
import { formatProblem, inspectCourses } from './loader.js';

const coursesDir = path.resolve(process.env.COURSES_DIR || './courses');
const { catalog, problems } = await inspectCourses(coursesDir);

if (!catalog) {
  console.error(`研修コンテンツに誤りがあります（${problems.length}件）: ${coursesDir}\n`);
  for (const problem of problems) console.error(`  - ${formatProblem(problem)}`);
  console.error('\n上記を修正してから、もう一度 npm run courses:check を実行してください。');
  process.exit(1);
}

console.log(`研修コンテンツに問題はありません: ${coursesDir}\n`);
for (const program of catalog.programs) {
  console.log(`${program.title} (${program.id})`);
  console.log(
    `  モジュール ${program.modules.length} / レッスン ${program.totals.lessons} / 確認テスト ${program.totals.quizzes} / 問題 ${program.totals.questions}`,
  );
  for (const module of program.modules) {
    console.log(
      `  ${String(module.index + 1).padStart(2)}. ${module.title} (${module.id}): レッスン ${module.lessons.length}、問題 ${module.quiz?.questions.length ?? 0}`,
    );
  }
}
