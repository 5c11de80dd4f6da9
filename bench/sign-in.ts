/**
 * Signs in through the real login form and returns the session cookie. Production cookies are
 * Secure, so the requests say they came through HTTPS.
 */
export async function signInByForm(port: number, email: string, password: string): Promise<string> {
  const base = `http://127.0.0.1:${port}`;
  const headers = { 'x-forwarded-proto': 'https' };
  const page = await fetch(`${base}/login`, { headers });
  const anonymous = (page.headers.get('set-cookie') ?? '').split(';')[0];
  const csrf = /name="_csrf" value="([^"]+)"/.exec(await page.text())?.[1] ?? '';
  const res = await fetch(`${base}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { ...headers, cookie: anonymous, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ email, password, _csrf: csrf }),
  });
  if (res.status !== 302) throw new Error(`bench sign-in failed: ${res.status}`);
  return (res.headers.get('set-cookie') ?? '').split(';')[0];
}
