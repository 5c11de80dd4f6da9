import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { ContentProblem } from '../../src/courses/catalog.types.js';
import {
  CourseContentError,
  formatProblem,
  inspectCourses,
  loadCatalog,
  quizFingerprint,
} from '../../src/courses/loader.js';
import { renderMarkdown } from '../../src/courses/markdown.js';
import { copyCourses, editFile } from '../learning/helpers.js';
import { compiled } from '../helpers/compiled.js';

const run = promisify(execFile);
const MODULES = path.join('basic-training', 'modules');

/** 1-based line of the first line containing `text` in a file. */
function lineOf(file: string, text: string): number {
  const index = readFileSync(file, 'utf8')
    .split('\n')
    .findIndex((line) => line.includes(text));
  expect(index, `"${text}" in ${file}`).to.be.greaterThan(-1);
  return index + 1;
}

describe('the course loader', () => {
  describe('on the real program in courses/', () => {
    it('finds no problem and builds the whole catalog', async () => {
      const { catalog, problems } = await inspectCourses('courses');
      expect(problems.map(formatProblem)).to.deep.equal([]);
      const program = catalog!.program('basic-training')!;
      expect(program.title).to.equal('ひきこもり支援者 多職種基礎研修');
      expect(program.modules.map((m) => m.id)).to.include.members([
        'understanding',
        'principles',
        'case-review',
      ]);
      expect(program.modules.length).to.be.at.least(8);
      for (const module of program.modules) {
        expect(module.lessons.length, module.id).to.be.at.least(3);
        expect(module.objectives.length, module.id).to.be.at.least(1);
        expect(module.quiz?.questions.length ?? 0, module.id).to.be.at.least(5);
        for (const lesson of module.lessons)
          expect(lesson.sources.length, lesson.id).to.be.at.least(1);
      }
      expect(program.completion).to.deep.equal({
        lessons: 'all',
        quizzes: 'all',
        caseStudy: 'approved',
      });
      expect(catalog!.lesson('basic-training', 'understanding', 'numbers')!.html).to.contain(
        '<h2>',
      );
    });

    it('freezes the catalog', async () => {
      const catalog = await loadCatalog('courses');
      const module = catalog.programs[0].modules[0];
      expect(Object.isFrozen(module)).to.equal(true);
      expect(Object.isFrozen(module.lessons[0])).to.equal(true);
      expect(() => {
        (module as { title: string }).title = 'x';
      }).to.throw(TypeError);
    });

    it('npm run courses:check prints a summary and exits 0', async () => {
      const { stdout } = await run(process.execPath, [compiled('src/courses/check.ts')], {
        env: { ...process.env, COURSES_DIR: 'courses' },
      });
      expect(stdout).to.contain('研修コンテンツに問題はありません');
      expect(stdout).to.match(/モジュール \d+ \/ レッスン \d+ \/ 確認テスト \d+ \/ 問題 \d+/);
    });
  });

  describe('on a deliberately broken copy', () => {
    let dir: string;
    let problems: ContentProblem[];
    const file = (...parts: string[]) => path.join(dir, MODULES, ...parts);
    const shown = (...parts: string[]) => [path.basename(dir), MODULES, ...parts].join('/');
    const lines: Record<string, number> = {};

    before(async () => {
      dir = copyCourses();
      // 1. Bad YAML: a nested mapping on one line.
      editFile(
        file('01-understanding', 'quiz.yaml'),
        /^passPercent: (\d+)$/m,
        'passPercent: $1: 点',
      );
      lines.badYaml = lineOf(file('01-understanding', 'quiz.yaml'), 'passPercent:');
      // 2. A missing field in a lesson's front matter.
      editFile(file('03-consultation', '01-windows.md'), /^estimatedMinutes: \d+\n/m, '');
      // 3. An answer id that is not an option, and 4. a single-choice question with two answers.
      editFile(file('02-principles', 'quiz.yaml'), /^(\s+)answer: \[\w+\]/m, '$1answer: [zz]');
      lines.unknownAnswer = lineOf(file('02-principles', 'quiz.yaml'), 'answer: [zz]');
      const q = readFileSync(file('04-family-support', 'quiz.yaml'), 'utf8');
      const singleAnswer = /type: single[\s\S]*?\n(\s+)answer: \[(\w+)\]/.exec(q)!;
      writeFileSync(
        file('04-family-support', 'quiz.yaml'),
        q.replace(singleAnswer[0], singleAnswer[0].replace(`[${singleAnswer[2]}]`, '[a, b]')),
      );
      // 5. A duplicate lesson id within the program (a lesson of module 5 takes the id of one in module 1).
      editFile(file('05-collaboration', '01-platforms.md'), /^id: [\w-]+$/m, 'id: numbers');
      // 6. A pass mark out of range.
      editFile(file('06-participation', 'quiz.yaml'), /^passPercent: \d+$/m, 'passPercent: 120');
      // 7. An image that does not exist, and a path escape in a lesson.
      writeFileSync(
        file('07-school-age', '01-continuity.md'),
        readFileSync(file('07-school-age', '01-continuity.md'), 'utf8') +
          '\n\n![図](images/missing.png)\n\n![秘密](../../../program.yaml)\n',
      );
      // 8. program.yaml lists a module that does not exist; the case-study text is missing.
      editFile(
        path.join(dir, 'basic-training', 'program.yaml'),
        /^(\s+)- school-age$/m,
        '$1- school-age\n$1- no-such-module',
      );
      unlinkSync(path.join(dir, 'basic-training', 'case-study.md'));
      ({ problems } = await inspectCourses(dir));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    const find = (filePart: string, text: string) =>
      problems.find((p) => p.file.endsWith(filePart) && p.message.includes(text));

    it('reports bad YAML with the file and line', () => {
      const problem = find('01-understanding/quiz.yaml', 'YAML の書き方に誤りがあります');
      expect(problem, JSON.stringify(problems)).to.include({
        file: shown('01-understanding', 'quiz.yaml'),
        line: lines.badYaml,
      });
    });

    it('reports a missing field with its name and what was expected', () => {
      const problem = find('03-consultation/01-windows.md', '必須の項目がありません');
      expect(problem).to.include({ field: 'estimatedMinutes', line: 2 });
      expect(problem!.message).to.contain('数値');
    });

    it('reports an unknown answer id with the line and the options that exist', () => {
      const problem = find('02-principles/quiz.yaml', '正解 "zz" は選択肢にありません');
      expect(problem).to.include({ line: lines.unknownAnswer });
      expect(problem!.field).to.match(/^questions\[\d+\]\.answer$/);
      expect(problem!.message).to.match(/選択肢の id: a, b/);
    });

    it('reports a single-choice question with two answers', () => {
      expect(
        find('04-family-support/quiz.yaml', 'type: single の問題は正解をちょうど1つ'),
      ).to.not.equal(undefined);
    });

    it('reports a duplicate lesson id across modules', () => {
      expect(find('05-collaboration/01-platforms.md', 'レッスン id "numbers" は')).to.include({
        line: 2,
        field: 'id',
      });
    });

    it('reports a pass mark out of range', () => {
      expect(find('06-participation/quiz.yaml', '')).to.include({ field: 'passPercent' });
    });

    it('reports a missing image and a path escape, with their lines', () => {
      const lessonFile = file('07-school-age', '01-continuity.md');
      expect(
        find('07-school-age/01-continuity.md', '"images/missing.png" がありません'),
      ).to.include({ line: lineOf(lessonFile, 'images/missing.png') });
      expect(
        find('07-school-age/01-continuity.md', '"../../../program.yaml" は使えません'),
      ).to.include({ line: lineOf(lessonFile, 'program.yaml') });
    });

    it('reports a module listed in program.yaml that does not exist, and a missing case-study file', () => {
      expect(find('basic-training/program.yaml', '"no-such-module" が modules/ にありません'))
        .to.have.property('field')
        .that.matches(/^modules\[\d+\]$/);
      expect(
        find('basic-training/program.yaml', '"case-study.md" がプログラムのフォルダにありません'),
      ).to.include({ field: 'caseStudy.instructions' });
    });

    it('collects every problem at once and refuses to load anything', async () => {
      expect(problems.length).to.be.at.least(10);
      let error: unknown;
      try {
        await loadCatalog(dir);
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(CourseContentError);
      expect((error as CourseContentError).problems).to.have.length(problems.length);
      expect((error as Error).message).to.contain(
        `${shown('01-understanding', 'quiz.yaml')}:${lines.badYaml}`,
      );
    });

    it('npm run courses:check lists every problem and exits 1', async () => {
      const failure = await run(process.execPath, [compiled('src/courses/check.ts')], {
        env: { ...process.env, COURSES_DIR: dir },
      }).then(
        () => null,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failure?.code).to.equal(1);
      expect(failure!.stderr).to.contain(`研修コンテンツに誤りがあります（${problems.length}件）`);
      expect(failure!.stderr).to.contain(
        `${shown('03-consultation', '01-windows.md')}:2 [estimatedMinutes]`,
      );
    });
  });

  describe('other checks', () => {
    it('reports lessons missing from a module list, and lesson files not listed', async () => {
      const dir = copyCourses();
      try {
        editFile(
          path.join(dir, MODULES, '01-understanding', 'module.md'),
          /lessons: \[numbers, /,
          'lessons: [numbers, ghost, ',
        );
        writeFileSync(
          path.join(dir, MODULES, '01-understanding', '09-extra.md'),
          '---\nid: extra\ntitle: 追加\nestimatedMinutes: 5\nsources: [資料]\n---\n本文\n',
        );
        const { catalog, problems } = await inspectCourses(dir);
        expect(catalog).to.equal(null);
        const messages = problems.map((p) => p.message);
        expect(messages.some((m) => m.includes('"ghost" のファイルがありません'))).to.equal(true);
        expect(
          messages.some((m) =>
            m.includes('"extra" のファイルがありますが lessons に挙げられていません'),
          ),
        ).to.equal(true);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('refuses a symlinked image that points outside the module folder', async () => {
      const dir = copyCourses();
      try {
        const images = path.join(dir, MODULES, '01-understanding', 'images');
        mkdirSync(images, { recursive: true });
        symlinkSync('/etc/hostname', path.join(images, 'link.png'));
        // The loader only checks existence; the asset route refuses the escape (test/courses/assets.test.ts).
        const { problems } = await inspectCourses(dir);
        expect(problems).to.deep.equal([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('Markdown rendering', () => {
    it('keeps headings, lists, tables, links, code and quotes; drops script, style, iframe and handlers', () => {
      const { html, problems } = renderMarkdown(
        [
          '# 見出し',
          '- 項目',
          '',
          '| a | b |',
          '|---|---|',
          '| 1 | 2 |',
          '',
          '> 引用',
          '',
          '`code` [リンク](https://example.jp) [悪い](javascript:alert(1))',
          '',
          '<script>alert(1)</script><style>body{}</style><iframe src="https://x"></iframe>',
          '<img src="x.png" onerror="alert(1)"> <a href="#" onclick="alert(1)">a</a> <p style="color:red">s</p>',
        ].join('\n'),
        '/courses-assets/p/m',
      );
      expect(html).to.contain('<h2>見出し</h2>');
      expect(html).to.contain('<li>項目</li>');
      expect(html).to.contain('<div class="table-scroll"><table>');
      expect(html).to.contain('<th scope="col">a</th>');
      expect(html).to.contain('<blockquote>');
      expect(html).to.contain('<code>code</code>');
      expect(html).to.contain('<a href="https://example.jp" rel="noopener noreferrer">リンク</a>');
      expect(html).not.to.match(/<script|<style|<iframe|onerror|onclick|javascript:|style=/);
      expect(html).to.contain('<img src="/courses-assets/p/m/x.png" loading="lazy" />');
      expect(problems).to.deep.equal([]);
    });

    it('drops data: URLs and links to other sites written without a scheme (//host, /\\host)', () => {
      const { html, problems } = renderMarkdown(
        [
          '[データ](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)',
          '[大文字](DATA:text/html,<b>x</b>)',
          '[相対](//evil.example/x)',
          '<a href="/\\evil.example/x">逆斜線</a>',
          '[符号化](/\\evil.example/y)',
          '<a href=" javascript:alert(1)">空白</a>',
          '<a href="vbscript:msgbox(1)">vb</a>',
          '![画像](data:image/png;base64,iVBORw0KGgo=)',
        ].join('\n\n'),
        '/courses-assets/p/m',
      );
      for (const label of ['データ', '大文字', '相対', '逆斜線', '空白', 'vb'])
        expect(html).to.match(new RegExp(`<a>${label}</a>`));
      // Markdown percent-encodes the backslash: a path on this site, which browsers do not read as //.
      expect(html).to.contain('<a href="/%5Cevil.example/y">符号化</a>');
      expect(html.replace('/%5Cevil.example/y', '')).not.to.match(
        /data:|evil\.example|javascript:|vbscript:/i,
      );
      expect(html).to.contain('<img alt="画像" />');
      // Both are reported to the content author by courses:check as well.
      expect(problems.map((p) => p.written)).to.deep.equal([
        ' javascript:alert(1)',
        'data:image/png;base64,iVBORw0KGgo=',
      ]);
    });

    it('rewrites relative images and attachments to the asset route, refusing escapes and external images', () => {
      const { html, assets, problems } = renderMarkdown(
        '![図](images/a%20b.png) [資料](files/doc.pdf) ![x](../x.png) ![y](/etc/passwd.png) ![z](https://example.jp/z.png) ![w](images/a.exe)',
        '/courses-assets/p/m',
      );
      expect(html).to.contain('src="/courses-assets/p/m/images/a%20b.png"');
      expect(html).to.contain('href="/courses-assets/p/m/files/doc.pdf"');
      expect(assets.map((a) => a.relative)).to.deep.equal(['images/a b.png', 'files/doc.pdf']);
      expect(problems.map((p) => p.written)).to.deep.equal([
        '../x.png',
        '/etc/passwd.png',
        'https://example.jp/z.png',
        'images/a.exe',
      ]);
      expect(html).not.to.contain('example.jp/z.png');
    });
  });

  describe('quiz fingerprints', () => {
    const question = {
      id: 'q1',
      type: 'single' as const,
      text: '問',
      options: [
        { id: 'a', text: 'A' },
        { id: 'b', text: 'B' },
      ],
      answer: ['a'],
    };
    it('change when a question, option or answer changes, not otherwise', () => {
      const base = quizFingerprint([question]);
      expect(quizFingerprint([{ ...question }])).to.equal(base);
      expect(quizFingerprint([{ ...question, text: '問2' }])).not.to.equal(base);
      expect(quizFingerprint([{ ...question, answer: ['b'] }])).not.to.equal(base);
      expect(
        quizFingerprint([{ ...question, options: [...question.options, { id: 'c', text: 'C' }] }]),
      ).not.to.equal(base);
    });
  });
});
