import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { EJSON } from 'bson';
import type mongoose from 'mongoose';

/**
 * Everything the database holds, as comparable text: every collection's documents sorted by id.
 * Sessions are compared by their content only (the store moves `expires`/`lastModified` forward
 * on a touch, which is not a change an attacker made), and the outbox folder is listed as well.
 */
export async function snapshot(
  connection: mongoose.Connection,
  dataDir: string,
): Promise<Record<string, string>> {
  const db = connection.db!;
  const result: Record<string, string> = {};
  const collections = (await db.listCollections({}, { nameOnly: true }).toArray())
    .map((c) => c.name)
    .sort();
  for (const name of collections) {
    const docs = await db.collection(name).find({}).sort({ _id: 1 }).toArray();
    const shown =
      name === 'sessions'
        ? docs.map((doc) => ({ _id: doc._id, session: doc.session as unknown }))
        : docs;
    result[name] = EJSON.stringify(shown, { relaxed: false });
  }
  const outbox = await readdir(path.join(dataDir, 'outbox')).catch(() => []);
  result['(outbox)'] = outbox.sort().join('\n');
  return result;
}

/** Asserts that nothing changed between two snapshots, naming the collections that did. */
export function expectUnchanged(
  before: Record<string, string>,
  after: Record<string, string>,
  label: string,
): void {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])];
  const changed = names.filter((name) => before[name] !== after[name]);
  expect(changed, `${label}: collections changed`).to.deep.equal([]);
}

/** HTML-escaped as EJS's `<%= %>` escapes it. */
export function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&#34;')
    .replaceAll("'", '&#39;');
}

/**
 * Markup an injected payload would produce if a page printed it raw. Each payload is unique (its
 * tag), so a page that shows the value escaped can be told from one that does not show it at all.
 */
export const xss = (tag: string) => ({
  script: `<script>alert('${tag}')</script>`,
  img: `"><img src=x onerror=alert('${tag}')>`,
  textarea: `</textarea><b id="${tag}">`,
  js: `javascript:alert('${tag}')`,
});

/**
 * Asserts that `value` appears in the page only escaped: the raw markup is absent and the escaped
 * text is present (so a page that silently stopped showing the field does not pass as safe).
 */
export function expectEscaped(html: string, value: string, label: string): void {
  expect(html, `${label}: raw markup in the page`).not.to.contain(value);
  expect(html, `${label}: the escaped value is not in the page`).to.contain(escapeHtml(value));
}

/** No live markup from any payload: no injected element, handler attribute or javascript: link. */
export function expectNoLiveMarkup(html: string, label: string): void {
  expect(html, `${label}: injected <script>`).not.to.match(/<script>alert\(/);
  expect(html, `${label}: injected <img onerror>`).not.to.match(/<img src=x onerror=/);
  expect(html, `${label}: injected element`).not.to.match(/<b id="/);
  expect(html, `${label}: javascript: link`).not.to.match(
    /(href|src|action)\s*=\s*"?\s*javascript:/i,
  );
}

/** The error page of a refused CSRF check (src/http/errors.ts), in the words the user sees. */
export const CSRF_REFUSED = 'ページの有効期限が切れたか、不正な送信です。';
