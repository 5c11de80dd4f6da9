import type { z } from 'zod';

/** First message per field from a zod error, keyed by the top-level field name. */
export function fieldErrors(error: z.ZodError): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const issue of error.issues) {
    const key = String(issue.path[0] ?? '_form');
    fields[key] ??= issue.message;
  }
  return fields;
}

/** A single string from a query or body value (arrays from repeated keys and objects are ignored). */
export function text(value: unknown, max = 200): string {
  return typeof value === 'string' ? value.trim().slice(0, max) : '';
}

/** Escapes a user's search text for a literal, case-insensitive regular expression. */
export function literalPattern(value: string): RegExp {
  return new RegExp(value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
}

/** True for MongoDB's duplicate-key error. */
export function isDuplicateKey(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && (error as { code?: unknown }).code === 11000
  );
}
