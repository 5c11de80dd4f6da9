import type { Types } from 'mongoose';
import { recordAudit } from '../audit/audit.service.js';
import { passwordChangedMessage } from '../mail/messages.js';
import { link, type AccountsDeps } from './deps.js';

/**
 * What follows every password change, by reset link or on the account page: an audit entry and a
 * notice to the account's address (so an owner who did not make the change can act at once).
 */
export async function announcePasswordChange(
  { config, mailer }: Pick<AccountsDeps, 'config' | 'mailer'>,
  user: {
    _id: Types.ObjectId;
    name: string;
    email: string;
    municipalityId?: Types.ObjectId | null;
  },
  how: 'auth.password_reset' | 'auth.password_changed',
  ip: string | undefined,
): Promise<void> {
  await recordAudit({
    actorId: user._id,
    action: how,
    targetType: 'User',
    targetId: user._id,
    municipalityId: user.municipalityId,
    ip,
  });
  await mailer.send({
    to: user.email,
    ...passwordChangedMessage({ name: user.name, loginUrl: link(config, '/password/forgot') }),
  });
}
