/**
 * Splits a Markdown file into its YAML front matter (between `---` lines at the top) and body,
 * remembering on which file lines each part starts.
 */
export interface FrontMatterSplit {
  yaml: string;
  /** File line of the first YAML line (always 2). */
  yamlLine: number;
  body: string;
  /** File line of the first body line. */
  bodyLine: number;
}

export function splitFrontMatter(source: string): FrontMatterSplit | null {
  const text = source.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  const lines = text.split('\n');
  if (lines[0].trim() !== '---') return null;
  const end = lines.findIndex((line, index) => index > 0 && line.trim() === '---');
  if (end === -1) return null;
  return {
    yaml: lines.slice(1, end).join('\n'),
    yamlLine: 2,
    body: lines.slice(end + 1).join('\n'),
    bodyLine: end + 2,
  };
}
