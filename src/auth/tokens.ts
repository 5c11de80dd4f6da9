import { createHash, randomBytes } from 'node:crypto';

/** A new single-use token for a link: the token goes in the mail, only its hash is stored. */
export function newToken(): { token: string; tokenHash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, tokenHash: hashToken(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Tokens as they appear in links: 43 base64url characters. Anything else is not looked up. */
export function isTokenShaped(value: unknown): value is string {
  return typeof value === 'string' && /^[\w-]{43}$/.test(value);
}
