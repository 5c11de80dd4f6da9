/** Types of scripts/compiled-copy.mjs, for the TypeScript tests that import it. */
export function isCompiledCopy(root: string): boolean;
export function compiledCopy(root: string): string;
export const CACHE_DIR: string;
export function sourceOf(file: string): string | null;
