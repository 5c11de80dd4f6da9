/**
 * The training catalog as the app sees it: loaded once from COURSES_DIR, validated, Markdown
 * rendered to sanitised HTML, then deep-frozen. Everything is addressed by stable ids.
 */

export type QuestionType = 'single' | 'multiple';

export interface QuizOption {
  readonly id: string;
  readonly text: string;
}

export interface QuizQuestion {
  readonly id: string;
  readonly type: QuestionType;
  readonly text: string;
  readonly options: readonly QuizOption[];
  /** Correct option ids: exactly one for single, one or more for multiple. */
  readonly answer: readonly string[];
  readonly explanation: string;
}

export interface Quiz {
  readonly id: string;
  readonly title: string;
  readonly passPercent: number;
  readonly questions: readonly QuizQuestion[];
  /**
   * Hash of the questions, options and answers. Changes whenever the quiz changes in substance, so
   * attempts started on an older version are recognised (see courses/README.md, "Stable ids").
   */
  readonly fingerprint: string;
}

export interface Lesson {
  readonly id: string;
  readonly title: string;
  readonly estimatedMinutes: number;
  readonly sources: readonly string[];
  /** Sanitised HTML, rendered at load. */
  readonly html: string;
  readonly moduleId: string;
  /** Position within the module, 0-based. */
  readonly index: number;
}

export interface Module {
  readonly id: string;
  readonly title: string;
  readonly objectives: readonly string[];
  readonly estimatedMinutes: number;
  readonly sources: readonly string[];
  readonly introHtml: string;
  readonly lessons: readonly Lesson[];
  readonly quiz: Quiz | null;
  /** Folder of the module on disk (absolute); content assets are served from here only. */
  readonly dir: string;
  /** Position within the program, 0-based. */
  readonly index: number;
}

export interface CompletionRule {
  readonly lessons: 'all' | 'none';
  readonly quizzes: 'all' | 'none';
  readonly caseStudy: 'approved' | 'none';
}

export interface CaseStudySection {
  readonly id: string;
  readonly title: string;
  readonly guidance: string;
  readonly minLength: number;
}

export interface RubricCriterion {
  readonly id: string;
  readonly title: string;
  readonly description: string;
}

export interface CaseStudyAssignment {
  readonly title: string;
  readonly instructionsHtml: string;
  readonly sections: readonly CaseStudySection[];
  readonly rubric: {
    readonly levels: readonly string[];
    readonly criteria: readonly RubricCriterion[];
  };
}

export interface Certificate {
  readonly title: string;
  readonly body: string;
  readonly issuer: string;
}

export interface Program {
  readonly id: string;
  readonly title: string;
  readonly descriptionHtml: string;
  readonly audience: readonly string[];
  readonly modules: readonly Module[];
  readonly completion: CompletionRule;
  readonly certificate: Certificate;
  readonly caseStudy: CaseStudyAssignment | null;
  readonly dir: string;
  readonly totals: {
    readonly lessons: number;
    readonly quizzes: number;
    readonly questions: number;
  };
}

export interface Catalog {
  readonly programs: readonly Program[];
  readonly loadedAt: Date;
  readonly dir: string;
  program(id: string): Program | undefined;
  module(programId: string, moduleId: string): Module | undefined;
  lesson(programId: string, moduleId: string, lessonId: string): Lesson | undefined;
}

/** One problem found in the content tree. */
export interface ContentProblem {
  /** Path relative to COURSES_DIR's parent, e.g. courses/basic-training/program.yaml. */
  readonly file: string;
  readonly line?: number;
  /** Field path inside the file, e.g. questions[2].answer. */
  readonly field?: string;
  readonly message: string;
}
