import { z } from 'zod';
import { cleanSingleLine, withinCharacters } from './text.js';

/**
 * A short text typed by a person: cleaned of invisible and control characters
 * (src/lib/text.ts), required, and at most `max` characters as a reader counts them (𠮷 or an
 * emoji is one), the same count the schemas use.
 */
export function typedText(max: number, messages: { required: string; tooLong: string }) {
  return z
    .string({ error: messages.required })
    .transform(cleanSingleLine)
    .pipe(
      z
        .string()
        .min(1, messages.required)
        .refine(withinCharacters(max), { error: messages.tooLong, abort: true }),
    );
}

/** First message per top-level field from a zod error, for views/partials/field.ejs. */
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
