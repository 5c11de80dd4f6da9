import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's root folder. This file is src/lib/paths.ts when run from source and
 * dist/lib/paths.js when built: both sit two levels below the root.
 */
export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** A data file shipped in src/ (reference data, word lists), found from source and from dist/. */
export function sourceFile(...segments: string[]): string {
  return path.join(projectRoot, 'src', ...segments);
}
