import type { Config } from '../config.js';
import { recordAudit } from '../audit/audit.service.js';
import { generatePassword, hashPassword, passwordProblem } from '../auth/password.js';
import type { Logger } from '../lib/logger.js';
import { seedOrganisations } from '../organisations/organisations.seed.js';
import { User, normaliseEmail } from '../users/user.model.js';
import { seedDemo, type DemoAccount } from './demo.js';

export const DEFAULT_ADMIN_EMAIL = 'admin@tsunagu.local';

export interface FirstStartResult {
  regionsCreated: number;
  municipalitiesCreated: number;
  /** Set when this start created the first administrator. */
  admin?: { email: string; password: string; generated: boolean };
  demo?: DemoAccount[];
}

/**
 * Runs on every start, after the database is connected; does something only when needed:
 * loads the regions and municipalities, creates the first administrator on a database without
 * one, and (DEMO=true) adds the demo accounts. Idempotent.
 */
export async function firstStart({
  config,
  logger,
}: {
  config: Pick<Config, 'admin' | 'demo'>;
  logger: Logger;
}): Promise<FirstStartResult> {
  const seeded = await seedOrganisations();
  if (seeded.municipalitiesCreated > 0) {
    logger.info(seeded, 'loaded the regions and municipalities of Nagano Prefecture');
  }
  await User.createIndexes();
  const result: FirstStartResult = { ...seeded };

  if (!(await User.exists({ roles: 'admin' }))) {
    const email = normaliseEmail(config.admin.email ?? DEFAULT_ADMIN_EMAIL);
    const generated = !config.admin.password;
    const password = config.admin.password ?? generatePassword();
    const problem = passwordProblem(password, [email]);
    if (problem) throw new Error(`ADMIN_PASSWORD cannot be used: ${problem}`);
    if (await User.exists({ email: { $eq: email } })) {
      throw new Error(`ADMIN_EMAIL: a user with this address exists but is not an administrator`);
    }
    const admin = await User.create({
      name: 'センター管理者',
      nameKana: 'せんたーかんりしゃ',
      email,
      passwordHash: await hashPassword(password),
      roles: ['admin'],
      status: 'active',
      passwordChangedAt: new Date(),
    });
    await recordAudit({
      action: 'bootstrap.admin_created',
      targetType: 'User',
      targetId: admin._id,
    });
    logger.info('created the first administrator');
    result.admin = { email, password, generated };
  }

  if (config.demo) result.demo = await seedDemo();
  return result;
}

function box(title: string, lines: string[]): string {
  const width = Math.max(title.length + 4, ...lines.map((line) => displayWidth(line))) + 2;
  const top = `┌ ${title} ${'─'.repeat(Math.max(0, width - title.length - 3))}`;
  return [top, ...lines.map((line) => `│ ${line}`), `└${'─'.repeat(width)}`].join('\n');
}

/** Full-width characters take two columns on a terminal. */
function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += /[\u3000-\u9fff\uff00-\uffef]/.test(char) ? 2 : 1;
  return width;
}

/** What to tell the person at the console (plain text for stdout, not the JSON log). */
export function firstStartMessage(result: FirstStartResult, baseUrl: string): string {
  const parts: string[] = [];
  if (result.admin) {
    parts.push(
      box('Tsunagu: first administrator / 初期管理者', [
        `URL:       ${baseUrl}/login`,
        `E-mail:    ${result.admin.email}`,
        `Password:  ${result.admin.generated ? result.admin.password : '(ADMIN_PASSWORD)'}`,
        '',
        result.admin.generated
          ? 'This password is shown only once. Change it after signing in (/account).'
          : 'Change it after signing in (/account).',
        'ログイン後、「アカウント」からパスワードを変更してください。',
      ]),
    );
  }
  if (result.demo) {
    parts.push(
      box('Tsunagu: DEMO mode / デモ用アカウント', [
        `URL:       ${baseUrl}/login`,
        `Password (all demo accounts):  ${result.demo[0]?.password ?? ''}`,
        '',
        ...result.demo.map((account) => `${account.email.padEnd(42)} ${account.label}`),
        '',
        'Demo accounts are for trying Tsunagu out. Do not use DEMO=true with real data.',
      ]),
    );
  }
  return parts.length > 0 ? `\n${parts.join('\n\n')}\n\n` : '';
}
