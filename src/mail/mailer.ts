import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import nodemailer from 'nodemailer';
import type { Config } from '../config.js';
import type { Logger } from '../lib/logger.js';

export interface OutgoingMail {
  to: string;
  subject: string;
  /** Plain text body (Japanese). */
  text: string;
}

export interface SendResult {
  /** 'smtp': handed to the mail server; 'outbox': written to DATA_DIR/outbox. */
  via: 'smtp' | 'outbox';
  /** The outbox message id when written there. */
  outboxId?: string;
}

export interface Mailer {
  mode: 'smtp' | 'outbox';
  outboxDir: string;
  send(mail: OutgoingMail): Promise<SendResult>;
}

/** Outbox file names: `<ms since epoch>-<8 hex>`; checked before any file access. */
export const OUTBOX_ID = /^\d{13}-[0-9a-f]{8}$/;

export function outboxDirOf(dataDir: string): string {
  return path.join(dataDir, 'outbox');
}

/**
 * Mail through nodemailer. With SMTP_URL, messages go to that server; a message the server
 * refuses is kept in the outbox instead (marked as not delivered), so nothing is silently lost.
 * Without SMTP_URL, every message is written to DATA_DIR/outbox as an .eml file.
 * Bodies are never logged: they hold personal data and sign-in links.
 */
export function createMailer({
  config,
  logger,
}: {
  config: Pick<Config, 'mail' | 'dataDir'>;
  logger: Logger;
}): Mailer {
  const outboxDir = outboxDirOf(config.dataDir);
  const builder = nodemailer.createTransport({
    streamTransport: true,
    buffer: true,
    newline: 'windows',
  });
  const smtp = config.mail.smtpUrl ? nodemailer.createTransport(config.mail.smtpUrl) : undefined;

  async function writeToOutbox(mail: OutgoingMail, undelivered?: string): Promise<string> {
    const info = await builder.sendMail({
      from: config.mail.from,
      to: mail.to,
      subject: mail.subject,
      text: mail.text,
      headers: undelivered ? { 'X-Tsunagu-Undelivered': undelivered } : {},
    });
    const id = `${Date.now()}-${randomBytes(4).toString('hex')}`;
    await mkdir(outboxDir, { recursive: true, mode: 0o700 });
    await writeFile(path.join(outboxDir, `${id}.eml`), info.message as Buffer, {
      mode: 0o600,
      flag: 'wx',
    });
    logger.info({ outboxId: id }, 'mail written to the outbox');
    return id;
  }

  return {
    mode: smtp ? 'smtp' : 'outbox',
    outboxDir,
    async send(mail) {
      if (!smtp) return { via: 'outbox', outboxId: await writeToOutbox(mail) };
      try {
        const info = await smtp.sendMail({
          from: config.mail.from,
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
        });
        logger.info({ messageId: info.messageId }, 'mail sent');
        return { via: 'smtp' };
      } catch (error) {
        logger.error(
          { err: { message: (error as Error).message } },
          'mail server refused a message; kept in the outbox',
        );
        return { via: 'outbox', outboxId: await writeToOutbox(mail, 'SMTP delivery failed') };
      }
    },
  };
}
