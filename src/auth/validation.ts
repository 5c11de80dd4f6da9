/** A same-site path to return to after signing in; anything else becomes '/'. */
export function safeNextPath(value: unknown): string {
  if (typeof value !== 'string') return '/';
  if (!value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  if (/[\r\n]/.test(value) || value.startsWith('/login') || value.startsWith('/logout')) return '/';
  return value.slice(0, 500);
}
