import path from 'node:path';
import type { Catalog, ContentProblem, Program } from './catalog.types.js';
import { buildCatalog } from './catalog.js';
import { CourseContentError } from './content-error.js';
import { checkProgramUniqueness, listDir, Loader } from './tree-reader.js';

export { CourseContentError, formatProblem } from './content-error.js';
export { quizFingerprint } from './fingerprint.js';

/** Reads and checks the whole tree; returns the problems and, when there are none, the catalog. */
export async function inspectCourses(
  coursesDir: string,
): Promise<{ catalog: Catalog | null; problems: ContentProblem[] }> {
  const root = path.resolve(coursesDir);
  const loader = new Loader(root);
  const entries = await listDir(root);
  const programs: Program[] = [];
  if (!entries) {
    loader.problem(root, 'コンテンツのフォルダがありません（COURSES_DIR を確認してください）');
  } else {
    for (const entry of entries) {
      if (!entry.isDirectory() || entry.name.startsWith('.') || entry.name.startsWith('_'))
        continue;
      const program = await loader.program(path.join(root, entry.name));
      if (program) {
        checkProgramUniqueness(loader, program);
        programs.push(program);
      }
    }
    if (programs.length === 0 && loader.problems.length === 0) {
      loader.problem(root, '研修プログラムがありません（program.yaml を持つフォルダが必要です）');
    }
  }
  const problems = loader.problems.sort(
    (a, b) => a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0),
  );
  if (problems.length > 0) return { catalog: null, problems };
  return { catalog: buildCatalog(programs, root), problems };
}

/** Loads the catalog or throws CourseContentError listing every problem. Never returns half a tree. */
export async function loadCatalog(coursesDir: string): Promise<Catalog> {
  const { catalog, problems } = await inspectCourses(coursesDir);
  if (!catalog) throw new CourseContentError(problems);
  return catalog;
}
