/**
 * Preloaded into mocha's workers when `npm test` runs the compiled copy (scripts/compiled-copy.mjs):
 * stack traces name the TypeScript sources (`test/auth/login.test.ts:42:7`) instead of the
 * copy's JavaScript. The copy's files carry their source maps inline; a map is read the first
 * time a stack passes through its file, not when the file loads: `--enable-source-maps` parses
 * every map at load, about 2 s more CPU for 24 test files that print no stack at all.
 */
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CACHE_DIR } from './compiled-copy.mjs';

const INLINE = '//# sourceMappingURL=data:application/json;base64,';
/** By compiled file: its map and its folder (the map's sources are relative to it), or null. */
const maps = new Map();

function mapOf(file) {
  if (maps.has(file)) return maps.get(file);
  let found = null;
  try {
    const text = readFileSync(file, 'utf8');
    const at = text.lastIndexOf(INLINE);
    if (at !== -1) {
      const payload = JSON.parse(Buffer.from(text.slice(at + INLINE.length), 'base64').toString());
      found = { map: new SourceMap(payload), dir: path.dirname(file) };
    }
  } catch {
    // not a file of ours (node:internal, a file gone since)
  }
  maps.set(file, found);
  return found;
}

/** `file:line:column` in the TypeScript source, or null when the frame has no mapping. */
function original(callSite) {
  const name = callSite.getFileName();
  const line = callSite.getLineNumber();
  const column = callSite.getColumnNumber();
  if (!name || !line || !column) return null;
  const file = name.startsWith('file://') ? fileURLToPath(name) : name;
  if (!file.includes(CACHE_DIR)) return null; // the packages' own files
  const found = mapOf(file);
  const entry = found?.map.findEntry(line - 1, column - 1);
  if (!entry?.originalSource) return null;
  const source = path.resolve(found.dir, entry.originalSource);
  return {
    from: `${name}:${line}:${column}`,
    to: `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`,
  };
}

Error.prepareStackTrace = (error, callSites) => {
  let head;
  try {
    head = Error.prototype.toString.call(error);
  } catch {
    head = '<error>';
  }
  const frames = callSites.map((callSite) => {
    const text = callSite.toString();
    const mapped = original(callSite);
    return `\n    at ${mapped ? text.replace(mapped.from, mapped.to) : text}`;
  });
  return head + frames.join('');
};
