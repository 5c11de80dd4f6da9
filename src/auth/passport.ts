import { Passport } from 'passport';
import { Strategy as LocalStrategy } from 'passport-local';
import { Types } from 'mongoose';
import type { RequestHandler } from 'express';
import { User, normaliseEmail, type UserDocument } from '../users/user.model.js';
import { verifyAgainstDummy, verifyPassword } from './password.js';
import type { SessionUser } from './session-user.js';
import { firstOfReply, type ClusterTime, type DocumentCache } from '../cache/document-cache.js';
import { readCaches } from '../cache/read-caches.js';

export type PassportInstance = InstanceType<typeof Passport>;

/** Why a sign-in did not succeed. Only 'invalid' is shown to someone who does not know the password. */
export type SignInRefusal = 'invalid' | 'pending' | 'suspended';

export function toSessionUser(user: {
  _id: Types.ObjectId;
  name: string;
  email: string;
  roles: string[];
  status: string;
  municipalityId?: Types.ObjectId | null;
  regionId?: Types.ObjectId | null;
  organisationId?: Types.ObjectId | null;
  unreadNotifications?: number | null;
}): SessionUser {
  return {
    id: String(user._id),
    name: user.name,
    email: user.email,
    roles: user.roles as SessionUser['roles'],
    status: user.status as SessionUser['status'],
    municipalityId: user.municipalityId ? String(user.municipalityId) : null,
    regionId: user.regionId ? String(user.regionId) : null,
    organisationId: user.organisationId ? String(user.organisationId) : null,
    unreadNotifications: user.unreadNotifications ?? 0,
  };
}

/**
 * Checks an address and password. Spends the same time whether or not the account exists.
 * A pending or suspended account is only told apart once the password is right.
 */
export async function checkCredentials(
  email: string,
  password: string,
): Promise<{ user: UserDocument } | { refusal: SignInRefusal; user?: UserDocument }> {
  const user = await User.findOne({ email: { $eq: normaliseEmail(email) } }).select(
    '+passwordHash',
  );
  if (!user) {
    await verifyAgainstDummy(password);
    return { refusal: 'invalid' };
  }
  if (!(await verifyPassword(password, user.passwordHash))) return { refusal: 'invalid', user };
  if (user.status === 'pending') return { refusal: 'pending', user };
  if (user.status === 'suspended') return { refusal: 'suspended', user };
  return { user };
}

/** The fields a request needs of the signed-in user (toSessionUser, and the checks above it). */
const SIGNED_IN_FIELDS = {
  name: 1,
  email: 1,
  roles: 1,
  status: 1,
  municipalityId: 1,
  regionId: 1,
  organisationId: 1,
  passwordChangedAt: 1,
  unreadNotifications: 1,
} as const;

type SignedInUser = Parameters<typeof toSessionUser>[0] & { passwordChangedAt?: Date | null };

/**
 * The per-request read of the signed-in user: one `find` command by `_id` with a projection,
 * sent through the driver directly. It returns what `User.findById(id).lean()` would (a plain
 * document, no casting or hooks), at about two thirds of its cost — it runs on every request.
 */
async function findSignedInUser(
  id: Types.ObjectId,
): Promise<{ doc: SignedInUser | null; at: ClusterTime | null }> {
  const reply = await User.db.db!.command({
    find: User.collection.collectionName,
    filter: { _id: id },
    projection: SIGNED_IN_FIELDS,
    limit: 1,
    singleBatch: true,
  });
  return firstOfReply<SignedInUser>(reply);
}

/**
 * The signed-in user by id: from the users cache while the change feed is live (a change to the
 * account, made by any process, drops it at once), otherwise read from the database.
 */
async function signedInUser(id: string): Promise<SignedInUser | null> {
  const load = async () => {
    const { doc: user, at } = await findSignedInUser(new Types.ObjectId(id));
    return user ? { id: user._id, value: user, at } : null;
  };
  const cache = readCaches()?.users as DocumentCache<SignedInUser> | undefined;
  return cache ? cache.get(id, load) : ((await load())?.value ?? null);
}

/**
 * A passport instance for one app: the local strategy (e-mail + password) and the user id in the
 * session. The user itself is looked up again on every request (restoreUser: the users cache,
 * which any change to the account empties), so that a suspension or a role change takes effect
 * at once (a user no longer active is signed out).
 */
export function createPassport(): PassportInstance {
  const passport = new Passport();
  passport.use(
    new LocalStrategy(
      { usernameField: 'email', passwordField: 'password' },
      (email, password, done) => {
        checkCredentials(email, password)
          .then((result) =>
            'refusal' in result
              ? done(null, false, { message: result.refusal })
              : done(null, toSessionUser(result.user)),
          )
          .catch(done);
      },
    ),
  );
  // The session holds "<user id>.<sign-in time>": a password change or reset after that time
  // ends every older session of the account at its next request.
  passport.serializeUser((user, done) => done(null, `${user.id}.${Date.now()}`));
  return passport;
}

/**
 * The user a session's "<user id>.<sign-in time>" stands for, or null when the account is gone,
 * not active, or its password changed after that sign-in.
 */
async function userFromSession(value: unknown): Promise<SessionUser | null> {
  const match = typeof value === 'string' ? /^([0-9a-f]{24})\.(\d{13})$/.exec(value) : null;
  if (!match) return null;
  const user = await signedInUser(match[1]);
  if (!user || user.status !== 'active') return null;
  if (user.passwordChangedAt && user.passwordChangedAt.getTime() > Number(match[2])) return null;
  return toSessionUser(user);
}

/**
 * Sets req.user from the session on every request, as passport.session() does (and, like it,
 * drops the session's user when the account can no longer sign in), without building a strategy
 * object with its callbacks for every request: this runs on every page.
 */
const restoreUser: RequestHandler = (req, _res, next) => {
  const session = req.session as { passport?: { user?: unknown } } | undefined;
  const value = session?.passport?.user;
  if (value === undefined) return next();
  userFromSession(value).then((user) => {
    if (user) req.user = user;
    else delete session!.passport!.user;
    next();
  }, next);
};

/**
 * passport.initialize (req.logIn / req.logOut) and restoring the signed-in user: mount right after
 * the session middleware. Signing in and out are always POSTs, so reading pages (GET, HEAD) skips
 * initialize, which gives each request seven new properties.
 */
export function authentication(passport: PassportInstance): RequestHandler[] {
  // compat: false — no req._passport for strategies written for passport 0.4 (none here).
  const initialize = passport.initialize({ compat: false }) as RequestHandler;
  const forChanges: RequestHandler = (req, res, next) =>
    req.method === 'GET' || req.method === 'HEAD' ? next() : initialize(req, res, next);
  return [forChanges, restoreUser];
}
