import { isNode, LineCounter, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import type { ContentProblem } from './catalog.types.js';

/** A parsed YAML text that can tell the line of any field (for precise messages). */
export interface YamlSource {
  data: unknown;
  /** Line in the file of the field at `path`, or of its nearest existing parent. */
  lineOf(path: readonly PropertyKey[]): number;
}

/**
 * Parses YAML; `firstLine` is the file line the text starts on (2 for front matter after `---`).
 * Syntax errors (bad indentation, duplicate keys, …) are returned as problems with their line.
 */
export function parseYaml(
  source: string,
  file: string,
  firstLine = 1,
): { yaml: YamlSource | null; problems: ContentProblem[] } {
  const lineCounter = new LineCounter();
  const doc: Document = parseDocument(source, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
  });
  const problems: ContentProblem[] = [];
  for (const error of doc.errors) {
    const line = error.pos ? lineCounter.linePos(error.pos[0]).line : undefined;
    problems.push({
      file,
      line: line === undefined ? undefined : line + firstLine - 1,
      message: `YAML の書き方に誤りがあります: ${firstSentence(error.message)}`,
    });
  }
  if (problems.length > 0) return { yaml: null, problems };
  const lineOf = (path: readonly PropertyKey[]): number => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node: unknown = doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range)
        return lineCounter.linePos(node.range[0]).line + firstLine - 1;
    }
    return firstLine;
  };
  return { yaml: { data: doc.toJS() as unknown, lineOf }, problems };
}

function firstSentence(message: string): string {
  return message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
}

/** `questions[2].options[0].id` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

const japanese = z.locales.ja();
const TYPE_NAMES: Record<string, string> = {
  string: '文字列',
  number: '数値',
  array: 'リスト（[a, b] または「- 」で始まる行）',
  object: '項目のまとまり（キー: 値）',
  boolean: 'true または false',
};

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let current = data;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Validates parsed YAML with a zod schema; every issue becomes a problem with file, line and field. */
export function validateYaml<T extends z.ZodType>(
  schema: T,
  yaml: YamlSource,
  file: string,
): { value: z.output<T> | null; problems: ContentProblem[] } {
  const result = schema.safeParse(yaml.data, {
    error: japanese.localeError,
  });
  if (result.success) return { value: result.data, problems: [] };
  const problems = result.error.issues.map((issue): ContentProblem => {
    const path = issue.path;
    let message = issue.message;
    if (issue.code === 'invalid_type' && valueAt(yaml.data, path) === undefined) {
      message = `必須の項目がありません（${TYPE_NAMES[issue.expected] ?? issue.expected}が必要です）`;
    } else if (issue.code === 'invalid_type') {
      message = `${TYPE_NAMES[issue.expected] ?? issue.expected}が必要です`;
    } else if (issue.code === 'unrecognized_keys') {
      message = `想定していない項目です: ${issue.keys.join(', ')}（綴りを確認してください）`;
    }
    const field = formatPath(path);
    return { file, line: yaml.lineOf(path), field: field || undefined, message };
  });
  return { value: null, problems };
}
