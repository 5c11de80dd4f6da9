import type { Express } from 'express';
import request from 'supertest';
import type TestAgent from 'supertest/lib/agent.js';
import type { ParsedMail } from '../../src/mail/eml.js';
import { outboxDirOf } from '../../src/mail/mailer.js';
import { listOutbox, readOutboxMessage } from '../../src/mail/outbox.js';
import type { UserDocument } from '../../src/users/user.model.js';

const CSRF_FIELD = /name="_csrf" value="([^"]+)"/;

/** The CSRF token in a rendered page, or throws. */
export function csrfFrom(html: string): string {
  const match = CSRF_FIELD.exec(html);
  if (!match) throw new Error('no CSRF token in the page');
  return match[1];
}

export interface SignedIn {
  /** A supertest agent carrying the session cookie. */
  agent: TestAgent;
  /** The CSRF token of the signed-in session. */
  csrfToken: string;
  get(url: string): request.Test;
  /** POSTs a form, adding _csrf. */
  post(url: string, form?: Record<string, string | string[]>): request.Test;
}

/** An anonymous agent with the CSRF token of its new session. */
export async function anonymousAgent(
  app: Express,
): Promise<{ agent: TestAgent; csrfToken: string }> {
  const agent = request.agent(app);
  const page = await agent.get('/login').expect(200);
  return { agent, csrfToken: csrfFrom(page.text) };
}

/** Signs the user in through the real login form and returns an agent for the session. */
export async function signIn(
  app: Express,
  user: Pick<UserDocument, 'email'>,
  password: string,
): Promise<SignedIn> {
  const { agent, csrfToken: loginToken } = await anonymousAgent(app);
  const send = () =>
    agent.post('/login').type('form').send({ email: user.email, password, _csrf: loginToken });
  let res = await send();
  // 503: the password hashes are saturated (tests signing in several users at once on a loaded
  // machine); nothing was counted, and the page asks to try again a little later, as a person would.
  for (let retry = 0; res.status === 503 && retry < 20; retry++) {
    await new Promise((resolve) => setTimeout(resolve, 250 + Math.random() * 250));
    res = await send();
  }
  if (res.status !== 302) throw new Error(`sign-in failed with ${res.status}`);
  // The session was regenerated at sign-in; read the new session's token.
  const home = await agent.get('/').expect(200);
  const csrfToken = csrfFrom(home.text);
  return {
    agent,
    csrfToken,
    get: (url) => agent.get(url),
    post: (url, form = {}) =>
      agent
        .post(url)
        .type('form')
        .send({ ...form, _csrf: csrfToken }),
  };
}

/** The messages in the test app's outbox (DATA_DIR/outbox), oldest first, decoded. */
export async function readOutbox(config: { dataDir: string }): Promise<ParsedMail[]> {
  const dir = outboxDirOf(config.dataDir);
  const entries = await listOutbox(dir, 10_000);
  const messages = await Promise.all(entries.map((entry) => readOutboxMessage(dir, entry.id)));
  return messages
    .filter((message): message is NonNullable<typeof message> => message !== null)
    .reverse();
}

/** The newest message to this address, or throws. */
export async function lastMailTo(
  config: { dataDir: string },
  address: string,
): Promise<ParsedMail> {
  const messages = (await readOutbox(config)).filter((message) =>
    message.to.includes(address.toLowerCase()),
  );
  const last = messages[messages.length - 1];
  if (!last) throw new Error(`no mail to ${address}`);
  return last;
}

/** The first link in a message to a path on the app, as a path with its query (for supertest). */
export function linkIn(message: ParsedMail, pathPrefix: string): string {
  const match = new RegExp(`https?://[^/\\s]+(${pathPrefix.replace(/[/?]/g, '\\$&')}[^\\s]*)`).exec(
    message.text,
  );
  if (!match) throw new Error(`no link to ${pathPrefix} in the mail`);
  return match[1];
}
