import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { ContentProblem, Lesson, Module, Program, Quiz } from './catalog.types.js';
import { lessonSchema, moduleSchema, programSchema, quizSchema } from './content.schema.js';
import { splitFrontMatter, type FrontMatterSplit } from './front-matter.js';
import { ASSETS_PREFIX, renderMarkdown } from './markdown.js';
import { checkQuiz, duplicates } from './quiz-checks.js';
import { parseYaml, validateYaml, type YamlSource } from './yaml-source.js';

// Reads one content tree file by file, collecting every problem (entry points: loader.ts).

/** Ids that would collide with fixed URLs (/learn/me, /learn/:program/:module/quiz). */
const RESERVED_PROGRAM_IDS = new Set(['me']);
const RESERVED_LESSON_IDS = new Set(['quiz']);

async function isFile(file: string): Promise<boolean> {
  try {
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

export async function listDir(dir: string) {
  try {
    return (await readdir(dir, { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
  } catch {
    return null;
  }
}

/** Collects problems while reading one content tree. */
export class Loader {
  readonly problems: ContentProblem[] = [];
  /** Lesson id → file, per program: lesson ids must be unique within a program. */
  private readonly lessonFiles = new Map<string, Map<string, string>>();

  constructor(private readonly root: string) {}

  /** courses/basic-training/program.yaml — relative to the content folder, prefixed with its name. */
  display(file: string): string {
    return path
      .join(path.basename(this.root), path.relative(this.root, file))
      .split(path.sep)
      .join('/');
  }

  problem(file: string, message: string, line?: number, field?: string): void {
    this.problems.push({ file: this.display(file), line, field, message });
  }

  async readText(file: string): Promise<string | null> {
    try {
      return await readFile(file, 'utf8');
    } catch {
      this.problem(file, 'ファイルを読み込めません');
      return null;
    }
  }

  async yamlFile(file: string): Promise<YamlSource | null> {
    const source = await this.readText(file);
    if (source === null) return null;
    return this.yamlText(source, file, 1);
  }

  yamlText(source: string, file: string, firstLine: number): YamlSource | null {
    const { yaml, problems } = parseYaml(source, this.display(file), firstLine);
    this.problems.push(...problems);
    return yaml;
  }

  validate<T extends Parameters<typeof validateYaml>[0]>(
    schema: T,
    yaml: YamlSource,
    file: string,
  ) {
    const { value, problems } = validateYaml(schema, yaml, this.display(file));
    this.problems.push(...problems);
    return value;
  }

  /** Renders Markdown; relative assets must exist in the module folder. */
  async markdown(
    source: string,
    file: string,
    bodyLine: number,
    asset: { programId: string; moduleId: string; dir: string } | null,
  ): Promise<string> {
    const base = asset ? `${ASSETS_PREFIX}/${asset.programId}/${asset.moduleId}` : null;
    const rendered = renderMarkdown(source, base);
    const lineOf = (written: string) => {
      const index = source.split('\n').findIndex((line) => line.includes(written));
      return index === -1 ? undefined : bodyLine + index;
    };
    for (const problem of rendered.problems)
      this.problem(file, problem.message, lineOf(problem.written));
    if (asset) {
      for (const reference of rendered.assets) {
        if (!(await isFile(path.join(asset.dir, ...reference.relative.split('/'))))) {
          this.problem(
            file,
            `参照している${reference.kind === 'image' ? '画像' : 'ファイル'} "${reference.written}" がありません（モジュールのフォルダからの相対パスで指定してください）`,
            lineOf(reference.written),
          );
        }
      }
    }
    return rendered.html;
  }

  async program(dir: string): Promise<Program | null> {
    const folderName = path.basename(dir);
    const programFile = path.join(dir, 'program.yaml');
    if (!(await isFile(programFile))) {
      this.problem(
        dir,
        'program.yaml がありません（プログラムのフォルダには program.yaml が必要です）',
      );
    }
    // Without a readable program.yaml the modules are still checked, so every problem shows at once.
    const yaml = (await isFile(programFile)) ? await this.yamlFile(programFile) : null;
    const file = yaml ? this.validate(programSchema, yaml, programFile) : null;
    if (file && yaml) {
      if (file.id !== folderName) {
        this.problem(
          programFile,
          `プログラムの id "${file.id}" はフォルダ名 "${folderName}" と同じにしてください`,
          yaml.lineOf(['id']),
          'id',
        );
      }
      if (RESERVED_PROGRAM_IDS.has(file.id)) {
        this.problem(
          programFile,
          `id "${file.id}" はシステムで使うため使えません`,
          yaml.lineOf(['id']),
          'id',
        );
      }
      if (file.completion.caseStudy === 'approved' && !file.caseStudy) {
        this.problem(
          programFile,
          'completion.caseStudy が approved のときは caseStudy（事例検討の課題）の定義が必要です',
          yaml.lineOf(['completion', 'caseStudy']),
          'caseStudy',
        );
      }
      duplicates(file.modules).forEach((duplicate) =>
        this.problem(
          programFile,
          `モジュール id "${duplicate}" が2回以上並んでいます`,
          yaml.lineOf(['modules']),
          'modules',
        ),
      );
    }
    const programId = file?.id ?? folderName;

    const modulesDir = path.join(dir, 'modules');
    const entries = await listDir(modulesDir);
    const found = new Map<string, Module>();
    if (!entries) {
      this.problem(modulesDir, 'modules フォルダがありません');
    } else {
      for (const entry of entries) {
        if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
        const module = await this.module(path.join(modulesDir, entry.name), programId);
        if (!module) continue;
        const previous = found.get(module.id);
        if (previous) {
          this.problem(
            path.join(modulesDir, entry.name, 'module.md'),
            `モジュール id "${module.id}" は ${this.display(previous.dir)} でも使われています（id は重複できません）`,
            2,
            'id',
          );
        } else {
          found.set(module.id, module);
        }
      }
    }

    let caseStudy: Program['caseStudy'] = null;
    if (file?.caseStudy && yaml) {
      const instructionsFile = path.join(dir, file.caseStudy.instructions);
      const inside = path.dirname(instructionsFile) === dir;
      const source =
        inside && (await isFile(instructionsFile))
          ? await readFile(instructionsFile, 'utf8')
          : null;
      if (source === null) {
        this.problem(
          programFile,
          `事例検討の説明ファイル "${file.caseStudy.instructions}" がプログラムのフォルダにありません`,
          yaml.lineOf(['caseStudy', 'instructions']),
          'caseStudy.instructions',
        );
      }
      const sectionIds = duplicates(file.caseStudy.sections.map((s) => s.id));
      sectionIds.forEach((dup) =>
        this.problem(
          programFile,
          `記入欄 id "${dup}" が重複しています`,
          yaml.lineOf(['caseStudy', 'sections']),
          'caseStudy.sections',
        ),
      );
      const criterionIds = duplicates(file.caseStudy.rubric.criteria.map((c) => c.id));
      criterionIds.forEach((dup) =>
        this.problem(
          programFile,
          `評価項目 id "${dup}" が重複しています`,
          yaml.lineOf(['caseStudy', 'rubric', 'criteria']),
          'caseStudy.rubric.criteria',
        ),
      );
      caseStudy = {
        ...file.caseStudy,
        instructionsHtml:
          source === null ? '' : await this.markdown(source, instructionsFile, 1, null),
      };
    }
    if (!file || !yaml) return null;

    const modules: Module[] = [];
    file.modules.forEach((moduleId, index) => {
      const module = found.get(moduleId);
      if (!module) {
        this.problem(
          programFile,
          `modules に挙げたモジュール "${moduleId}" が modules/ にありません（そのモジュールの module.md の id と、module.md の誤りを確認してください）`,
          yaml.lineOf(['modules', index]),
          `modules[${index}]`,
        );
      } else if (!modules.includes(module)) {
        modules.push({ ...module, index: modules.length });
      }
    });
    for (const module of found.values()) {
      if (!file.modules.includes(module.id)) {
        this.problem(
          programFile,
          `モジュール "${module.id}"（${this.display(module.dir)}）が modules の並びにありません。表示する位置に加えてください`,
          yaml.lineOf(['modules']),
          'modules',
        );
      }
    }
    return {
      id: file.id,
      title: file.title,
      descriptionHtml: await this.markdown(
        file.description,
        programFile,
        yaml.lineOf(['description']),
        null,
      ),
      audience: file.audience,
      modules,
      completion: file.completion,
      certificate: file.certificate,
      caseStudy,
      dir,
      totals: {
        lessons: modules.reduce((n, m) => n + m.lessons.length, 0),
        quizzes: modules.filter((m) => m.quiz).length,
        questions: modules.reduce((n, m) => n + (m.quiz?.questions.length ?? 0), 0),
      },
    };
  }

  async module(dir: string, programId: string): Promise<Module | null> {
    const moduleFile = path.join(dir, 'module.md');
    const source = (await isFile(moduleFile)) ? await this.readText(moduleFile) : null;
    let split: FrontMatterSplit | null = null;
    if (source === null) {
      this.problem(dir, 'module.md がありません（モジュールのフォルダには module.md が必要です）');
    } else {
      split = splitFrontMatter(source);
      if (!split) {
        this.problem(
          moduleFile,
          'ファイルの先頭に「---」で囲んだ front matter（id, title など）が必要です',
          1,
        );
      }
    }
    const yaml = split ? this.yamlText(split.yaml, moduleFile, split.yamlLine) : null;
    const front = yaml ? this.validate(moduleSchema, yaml, moduleFile) : null;
    // Lessons and the quiz are checked even when module.md is broken, so every problem shows at once.
    const moduleId = front?.id ?? path.basename(dir);
    const asset = { programId, moduleId, dir };

    const lessonsById = new Map<string, Omit<Lesson, 'index'>>();
    /** Ids of lesson files that have problems of their own: not reported again as missing. */
    const brokenLessonIds = new Set<string>();
    for (const entry of (await listDir(dir)) ?? []) {
      if (!entry.isFile() || !entry.name.endsWith('.md') || entry.name === 'module.md') continue;
      const lessonFile = path.join(dir, entry.name);
      const { lesson, rawId } = await this.lesson(lessonFile, moduleId, asset);
      if (!lesson) {
        if (rawId) brokenLessonIds.add(rawId);
        continue;
      }
      if (RESERVED_LESSON_IDS.has(lesson.id)) {
        this.problem(lessonFile, `id "${lesson.id}" はシステムで使うため使えません`, 2, 'id');
      }
      if (lessonsById.has(lesson.id)) {
        this.problem(
          lessonFile,
          `レッスン id "${lesson.id}" がこのモジュールの別のファイルでも使われています（id は重複できません）`,
          2,
          'id',
        );
      } else {
        const files = this.lessonFiles.get(programId) ?? new Map<string, string>();
        this.lessonFiles.set(programId, files);
        const other = files.get(lesson.id);
        if (other && path.dirname(other) !== dir) {
          this.problem(
            lessonFile,
            `レッスン id "${lesson.id}" は ${this.display(other)} でも使われています（レッスン id はプログラム内で重複できません）`,
            2,
            'id',
          );
        }
        files.set(lesson.id, lessonFile);
        lessonsById.set(lesson.id, lesson);
      }
    }

    const quizFile = path.join(dir, 'quiz.yaml');
    let quiz: Quiz | null = null;
    if (await isFile(quizFile)) {
      const quizYaml = await this.yamlFile(quizFile);
      const parsed = quizYaml ? this.validate(quizSchema, quizYaml, quizFile) : null;
      if (parsed && quizYaml)
        quiz = checkQuiz(parsed, quizYaml, quizFile, (...args) => this.problem(...args));
    }
    if (!front || !yaml || !split) return null;

    duplicates(front.lessons).forEach((dup) =>
      this.problem(
        moduleFile,
        `レッスン id "${dup}" が lessons に2回以上並んでいます`,
        yaml.lineOf(['lessons']),
        'lessons',
      ),
    );
    const lessons: Lesson[] = [];
    front.lessons.forEach((lessonId, index) => {
      const lesson = lessonsById.get(lessonId);
      if (!lesson) {
        if (brokenLessonIds.has(lessonId)) return;
        this.problem(
          moduleFile,
          `lessons に挙げたレッスン "${lessonId}" のファイルがありません（レッスンの front matter の id を確認してください）`,
          yaml.lineOf(['lessons', index]),
          `lessons[${index}]`,
        );
      } else if (!lessons.some((l) => l.id === lessonId)) {
        lessons.push({ ...lesson, index: lessons.length });
      }
    });
    for (const lesson of lessonsById.values()) {
      if (!front.lessons.includes(lesson.id)) {
        this.problem(
          moduleFile,
          `レッスン "${lesson.id}" のファイルがありますが lessons に挙げられていません。表示する位置に加えてください`,
          yaml.lineOf(['lessons']),
          'lessons',
        );
      }
    }

    return {
      id: front.id,
      title: front.title,
      objectives: front.objectives,
      estimatedMinutes: front.estimatedMinutes,
      sources: front.sources,
      introHtml: await this.markdown(split.body, moduleFile, split.bodyLine, asset),
      lessons,
      quiz,
      dir,
      index: 0,
    };
  }

  async lesson(
    file: string,
    moduleId: string,
    asset: { programId: string; moduleId: string; dir: string },
  ): Promise<{ lesson: Omit<Lesson, 'index'> | null; rawId?: string }> {
    const source = await this.readText(file);
    if (source === null) return { lesson: null };
    const split = splitFrontMatter(source);
    if (!split) {
      this.problem(
        file,
        'ファイルの先頭に「---」で囲んだ front matter（id, title, estimatedMinutes, sources）が必要です',
        1,
      );
      return { lesson: null };
    }
    const yaml = this.yamlText(split.yaml, file, split.yamlLine);
    const front = yaml ? this.validate(lessonSchema, yaml, file) : null;
    if (split.body.trim() === '') this.problem(file, '本文がありません', split.bodyLine);
    const html = await this.markdown(split.body, file, split.bodyLine, asset);
    if (!front) {
      const rawId = (yaml?.data as { id?: unknown } | null)?.id;
      return { lesson: null, rawId: typeof rawId === 'string' ? rawId : undefined };
    }
    return { lesson: { ...front, moduleId, html } };
  }
}

/** Quiz ids must be unique within a program (lesson ids are checked as files are read). */
export function checkProgramUniqueness(loader: Loader, program: Program): void {
  const quizOwners = new Map<string, Module>();
  for (const module of program.modules) {
    if (module.quiz) {
      const owner = quizOwners.get(module.quiz.id);
      if (owner) {
        loader.problem(
          path.join(module.dir, 'quiz.yaml'),
          `確認テスト id "${module.quiz.id}" はモジュール "${owner.id}" でも使われています（id は重複できません）`,
          1,
          'id',
        );
      }
      quizOwners.set(module.quiz.id, module);
    }
  }
}
