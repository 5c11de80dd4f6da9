import type { Config } from '../config.js';
import type { PassportInstance } from '../auth/passport.js';
import type { Logger } from '../lib/logger.js';
import type { Mailer } from '../mail/mailer.js';

/** What the account routes need from the app. */
export interface AccountsDeps {
  config: Config;
  logger: Logger;
  passport: PassportInstance;
  mailer: Mailer;
}

/** An absolute link for mail, from BASE_URL. */
export function link(config: Pick<Config, 'baseUrl'>, pathAndQuery: string): string {
  return `${config.baseUrl}${pathAndQuery}`;
}
