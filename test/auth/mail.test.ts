import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { pino } from 'pino';
import { decodeHeader, parseEml } from '../../src/mail/eml.js';
import { createMailer } from '../../src/mail/mailer.js';
import { listOutbox, readOutboxMessage } from '../../src/mail/outbox.js';

function capturingLogger() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: pino({ level: 'trace' }, stream), lines };
}

const FROM = 'つなぐ <no-reply@tsunagu.local>';
const MAIL = {
  to: 'hanako@example.jp',
  subject: '【つなぐ】パスワードの再設定',
  text: '長野 花子 さん\n\n次のリンクを開いてください。\nhttp://localhost:3000/password/reset?token=secret-token-value\n',
};

describe('mail', () => {
  it('keeps the outbox (sign-in links) to the owner: folder 0700, .eml files 0600, even under umask 000', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-mail-'));
    const mailer = createMailer({
      config: { dataDir, mail: { smtpUrl: undefined, from: FROM } },
      logger: pino({ level: 'silent' }),
    });
    const previous = process.umask(0);
    let outboxId: string | undefined;
    try {
      outboxId = (await mailer.send(MAIL)).outboxId;
    } finally {
      process.umask(previous);
    }
    const modeOf = (file: string) => (statSync(file).mode & 0o777).toString(8);
    expect(modeOf(mailer.outboxDir)).to.equal('700');
    expect(modeOf(path.join(mailer.outboxDir, `${outboxId}.eml`))).to.equal('600');
  });

  it('without SMTP_URL writes an .eml file to DATA_DIR/outbox that reads back intact, logging no body', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-mail-'));
    const { logger, lines } = capturingLogger();
    const mailer = createMailer({
      config: { dataDir, mail: { smtpUrl: undefined, from: FROM } },
      logger,
    });
    expect(mailer.mode).to.equal('outbox');
    const result = await mailer.send(MAIL);
    expect(result.via).to.equal('outbox');
    const files = readdirSync(path.join(dataDir, 'outbox'));
    expect(files).to.deep.equal([`${result.outboxId}.eml`]);
    const raw = readFileSync(path.join(dataDir, 'outbox', files[0]), 'utf8');
    expect(raw).to.match(/\r\n/);
    const parsed = parseEml(raw);
    expect(parsed.subject).to.equal(MAIL.subject);
    expect(parsed.to).to.equal(MAIL.to);
    expect(parsed.from).to.contain('no-reply@tsunagu.local');
    expect(parsed.text).to.contain('長野 花子 さん');
    expect(parsed.text).to.contain('token=secret-token-value');
    const joined = lines.join('');
    expect(joined).not.to.contain('secret-token-value');
    expect(joined).not.to.contain('長野 花子');
    expect(joined).not.to.contain('hanako@example.jp');

    const listed = await listOutbox(mailer.outboxDir);
    expect(listed[0]).to.include({
      id: result.outboxId,
      subject: MAIL.subject,
      undelivered: false,
    });
    expect(await readOutboxMessage(mailer.outboxDir, '../session-secret')).to.equal(null);
  });

  it('keeps a message the SMTP server refuses in the outbox, marked undelivered, and logs the failure', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'tsunagu-mail-'));
    const { logger, lines } = capturingLogger();
    const mailer = createMailer({
      config: { dataDir, mail: { smtpUrl: 'smtp://127.0.0.1:1', from: FROM } },
      logger,
    });
    expect(mailer.mode).to.equal('smtp');
    const result = await mailer.send(MAIL);
    expect(result.via).to.equal('outbox');
    const [entry] = await listOutbox(mailer.outboxDir);
    expect(entry.undelivered).to.equal(true);
    expect(lines.join('')).to.contain('kept in the outbox');
    expect(lines.join('')).not.to.contain('secret-token-value');
  });

  it('an empty or missing outbox lists nothing', async () => {
    expect(await listOutbox(path.join(tmpdir(), 'no-such-outbox-dir'))).to.deep.equal([]);
  });

  it('decodes encoded-word headers', () => {
    expect(decodeHeader('=?UTF-8?B?44Gk44Gq44GQ?= <a@b.jp>')).to.equal('つなぐ <a@b.jp>');
    expect(decodeHeader('=?UTF-8?Q?=E3=81=A4=E3=81=AA?=')).to.equal('つな');
  });
});
