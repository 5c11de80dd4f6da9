import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { splitFrontMatter } from '../courses/front-matter.js';
import { renderMarkdown } from '../courses/markdown.js';

/** The privacy notice (個人情報の取扱い): an editable Markdown file (PRIVACY_NOTICE_FILE). */
export interface PrivacyNotice {
  /** From the file's front matter (`version:`); recorded with each person's consent. */
  version: string;
  html: string;
}

const loaded = new Map<string, Promise<PrivacyNotice>>();

/** The notice in this file, read once per process (restart after editing it, as for courses). */
export function privacyNotice(file: string): Promise<PrivacyNotice> {
  let notice = loaded.get(file);
  if (!notice) {
    notice = readNotice(file);
    loaded.set(file, notice);
    // A failed read is tried again on the next request.
    notice.catch(() => loaded.delete(file));
  }
  return notice;
}

async function readNotice(file: string): Promise<PrivacyNotice> {
  const source = await readFile(file, 'utf8');
  const split = splitFrontMatter(source);
  const meta = (split ? parseYaml(split.yaml) : null) as { version?: unknown } | null;
  const version = meta?.version;
  if (typeof version !== 'string' && typeof version !== 'number')
    throw new Error(`${file}: the front matter needs a version (version: '2026-12-01')`);
  return {
    version: String(version),
    html: renderMarkdown(split ? split.body : source, null).html,
  };
}
