import type { z } from 'zod';

/** First message per top-level field, for views/partials/field.ejs. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = String(issue.path[0] ?? '_form');
    fields[key] ??= issue.message;
  }
  return fields;
}

/** The submitted form as plain strings only (for re-displaying what was typed). */
export function keptInput(body: unknown, names: readonly string[]): Record<string, string> {
  const source = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const kept: Record<string, string> = {};
  for (const name of names) {
    const value = source[name];
    kept[name] = typeof value === 'string' ? value : '';
  }
  return kept;
}

/** A same-site path to return to after signing in; anything else becomes '/'. */
export function safeNextPath(value: unknown): string {
  if (typeof value !== 'string') return '/';
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  if (/[\r\n]/.test(value) || value.startsWith('/login') || value.startsWith('/logout')) return '/';
  return value.slice(0, 500);
}
