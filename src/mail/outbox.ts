import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseEml, type ParsedMail } from './eml.js';
import { OUTBOX_ID } from './mailer.js';

export interface OutboxEntry {
  id: string;
  to: string;
  subject: string;
  date: Date | null;
  undelivered: boolean;
}

/** Messages in the outbox, newest first. A missing folder is an empty outbox. */
export async function listOutbox(outboxDir: string, limit = 200): Promise<OutboxEntry[]> {
  let names: string[];
  try {
    names = await readdir(outboxDir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  const ids = names
    .filter((name) => name.endsWith('.eml') && OUTBOX_ID.test(name.slice(0, -4)))
    .map((name) => name.slice(0, -4))
    .sort()
    .reverse()
    .slice(0, limit);
  return Promise.all(
    ids.map(async (id) => {
      const mail = parseEml(await readFile(path.join(outboxDir, `${id}.eml`), 'utf8'));
      return {
        id,
        to: mail.to,
        subject: mail.subject,
        date: mail.date,
        undelivered: 'x-tsunagu-undelivered' in mail.headers,
      };
    }),
  );
}

/** One message, or null when the id is malformed or there is no such message. */
export async function readOutboxMessage(
  outboxDir: string,
  id: string,
): Promise<(ParsedMail & { id: string }) | null> {
  if (!OUTBOX_ID.test(id)) return null;
  try {
    return { id, ...parseEml(await readFile(path.join(outboxDir, `${id}.eml`), 'utf8')) };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}
