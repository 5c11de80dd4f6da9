/**
 * `npm run courses:check`: validates the content in COURSES_DIR (default ./courses) exactly as the
 * app does at start-up, prints a summary or every problem, and exits 1 on any problem. It also
 * prints advice the app does not enforce (quizzes answerable by the length of the options, module
 * times that are not the sum of their lessons); advice never changes the exit code.
 */
import 'dotenv/config';
import path from 'node:path';
import { formatProblem, inspectCourses } from './loader.js';
import { moduleMinutesWarning, quizFigures, quizWarnings } from './quiz-warnings.js';

const coursesDir = path.resolve(process.env.COURSES_DIR || './courses');
const { catalog, problems } = await inspectCourses(coursesDir);

if (!catalog) {
  console.error(`研修コンテンツに誤りがあります（${problems.length}件）: ${coursesDir}\n`);
  for (const problem of problems) console.error(`  - ${formatProblem(problem)}`);
  console.error('\n上記を修正してから、もう一度 npm run courses:check を実行してください。');
  process.exit(1);
}

console.log(`研修コンテンツに問題はありません: ${coursesDir}\n`);
let warningCount = 0;
for (const program of catalog.programs) {
  console.log(`${program.title} (${program.id})`);
  console.log(
    `  モジュール ${program.modules.length} / レッスン ${program.totals.lessons} / 確認テスト ${program.totals.quizzes} / 問題 ${program.totals.questions}`,
  );
  for (const module of program.modules) {
    console.log(
      `  ${String(module.index + 1).padStart(2)}. ${module.title} (${module.id}): レッスン ${module.lessons.length}、問題 ${module.quiz?.questions.length ?? 0}`,
    );
    const warnings: string[] = [];
    const minutes = moduleMinutesWarning(module);
    if (minutes) warnings.push(minutes);
    if (module.quiz) {
      const figures = quizFigures(module.quiz);
      console.log(
        `      確認テスト：単一選択 ${figures.single}問（正解が最長の選択肢 ${figures.longestAnswer.length}問）、` +
          `複数選択 ${figures.multiple}問（誤りの選択肢が2つ未満 ${figures.fewWrongOptions.length}問）`,
      );
      warnings.push(...quizWarnings(module.quiz));
    }
    for (const warning of warnings) console.log(`      注意: ${warning}`);
    warningCount += warnings.length;
  }
}
console.log(
  warningCount === 0
    ? '\n注意事項はありません。'
    : `\n注意 ${warningCount}件（起動は妨げませんが、見直してください）。`,
);
