import type { Role } from '../users/roles.js';
import type { UserStatus } from '../users/user.model.js';

/**
 * What `req.user` holds: a plain snapshot of the signed-in user, read from the database on every
 * request (so a suspension or a role change takes effect at once). Ids are strings.
 */
export interface SessionUser {
  id: string;
  name: string;
  email: string;
  roles: Role[];
  status: UserStatus;
  /** Null only for center administrators without a home municipality. */
  municipalityId: string | null;
  regionId: string | null;
  organisationId?: string | null;
  /** Unread notifications, for the header's count (stored on the user: src/notifications). */
  unreadNotifications?: number;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // Passport types req.user as Express.User; make it our SessionUser.
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User extends SessionUser {}
  }
}

export function hasRole(user: SessionUser | undefined | null, ...roles: Role[]): boolean {
  return !!user && user.roles.some((role) => roles.includes(role));
}

export function isAdmin(user: SessionUser | undefined | null): boolean {
  return !!user && user.roles.includes('admin');
}
