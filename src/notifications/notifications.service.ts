import mongoose, { Types } from 'mongoose';
import type { Config } from '../config.js';
import type { Logger } from '../lib/logger.js';
import type { Mailer } from '../mail/mailer.js';
import { notificationMessage } from '../mail/messages.js';
import { User } from '../users/user.model.js';
import { NOTIFICATION_TEXTS } from './notification-messages.js';
import { Notification, NOTIFICATION_KINDS } from './notification.model.js';

/** What a notification is about (the list with whom each goes to: NOTIFICATION_KINDS). */
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export interface NotifyInput {
  userIds: string[];
  kind: NotificationKind;
  /** A path on this app ("/review/…"); mails carry it as an absolute link from BASE_URL. */
  link: string;
}

/** What notify() needs of the app to send mail: set by createApp (configureNotifications). */
export interface NotificationDeps {
  mailer: Mailer;
  config: Pick<Config, 'baseUrl'>;
  logger: Logger;
}

// Like the mongoose connection, this belongs to the one app the process runs (tests build one
// app at a time). Until an app is created, notify() records in-app notifications only.
let deps: NotificationDeps | null = null;

/** Called by createApp: the mailer and base URL notify() sends mail with. */
export function configureNotifications(next: NotificationDeps): void {
  deps = next;
}

/** A path on this app: one leading slash (not "//host"), no backslash, no control characters. */
export function isLocalPath(link: string): boolean {
  return /^\/(?![/\\])[^\\\s]*$/.test(link) && link.length <= 500;
}

/**
 * Creates one in-app notification per user and mails those who have not turned mail off. Never
 * throws for a mail failure (logged without personal data).
 */
export async function notify(input: NotifyInput): Promise<void> {
  if (!isLocalPath(input.link)) throw new Error('notification links must be paths on this app');
  if (!NOTIFICATION_KINDS.includes(input.kind)) throw new Error('unknown notification kind');
  const ids = [...new Set(input.userIds.map(String))].filter((id) => Types.ObjectId.isValid(id));
  if (ids.length === 0) return;
  const users = await User.find({ _id: mongoose.trusted({ $in: ids }) })
    .select({ email: 1, status: 1, notificationMail: 1 })
    .lean();
  if (users.length === 0) return;
  await Notification.insertMany(
    users.map((user) => ({ userId: user._id, kind: input.kind, link: input.link })),
  );
  // The header's count lives on the user (read on every request anyway, and cached): one update
  // per user, so the users cache drops just those entries.
  await Promise.all(
    users.map((user) => User.updateOne({ _id: user._id }, { $inc: { unreadNotifications: 1 } })),
  );
  const recipients = users.filter(
    (user) => user.status === 'active' && user.notificationMail !== false,
  );
  await Promise.all(recipients.map((user) => sendMail(user.email, input)));
}

async function sendMail(to: string, input: NotifyInput): Promise<void> {
  if (!deps) return;
  const { mailer, config, logger } = deps;
  try {
    const message = notificationMessage({
      ...NOTIFICATION_TEXTS[input.kind],
      link: `${config.baseUrl}${input.link}`,
    });
    await mailer.send({ to, ...message });
  } catch (error) {
    // The error's message may name the address: log only what kind of failure it was.
    const { name, code } = error as { name?: string; code?: unknown };
    logger.error({ kind: input.kind, err: { name, code } }, 'notification mail not sent');
  }
}

/** notify() to every active administrator. */
export async function notifyAdmins(kind: NotificationKind, link: string): Promise<void> {
  const admins = await User.find({ roles: { $eq: 'admin' }, status: { $eq: 'active' } })
    .select({ _id: 1 })
    .lean();
  await notify({ userIds: admins.map((admin) => String(admin._id)), kind, link });
}

/** How many of the user's notifications are unread (counted, not the header's stored figure). */
export function unreadCount(userId: string): Promise<number> {
  return Notification.countDocuments({ userId: { $eq: userId }, readAt: { $eq: null } });
}

/** Stores the user's counted unread figure on the user, for the header. */
async function storeUnreadCount(userId: string): Promise<number> {
  const count = await unreadCount(userId);
  await User.updateOne({ _id: { $eq: userId } }, { $set: { unreadNotifications: count } });
  return count;
}

/** The user's notifications, newest first, with their Japanese text. */
export async function listNotifications(userId: string, skip: number, limit: number) {
  const filter = { userId: { $eq: userId } };
  const [items, total, unread] = await Promise.all([
    Notification.find(filter).sort({ createdAt: -1, _id: -1 }).skip(skip).limit(limit).lean(),
    Notification.countDocuments(filter),
    unreadCount(userId),
  ]);
  return {
    items: items.map((item) => ({
      id: String(item._id),
      ...NOTIFICATION_TEXTS[item.kind],
      createdAt: item.createdAt,
      read: item.readAt !== null,
    })),
    total,
    unread,
  };
}

/**
 * Keeps the header's figure right when it has drifted (a notification deleted by the retention
 * index while unread, or two writes that crossed): called with what the list page counted.
 */
export async function reconcileUnreadCount(
  userId: string,
  stored: number | undefined,
  counted: number,
): Promise<void> {
  if ((stored ?? 0) !== counted) await storeUnreadCount(userId);
}

/** The notification by id, whoever it belongs to (the route authorises), or null. */
export function findNotification(id: string) {
  if (!Types.ObjectId.isValid(id)) return Promise.resolve(null);
  return Notification.findById(id).lean();
}

/** Marks one notification read (once) and updates the header's figure. */
export async function markRead(userId: string, notificationId: string): Promise<void> {
  const result = await Notification.updateOne(
    { _id: { $eq: notificationId }, userId: { $eq: userId }, readAt: { $eq: null } },
    { $set: { readAt: new Date() } },
  );
  if (result.modifiedCount > 0) await storeUnreadCount(userId);
}

/** Marks all the user's notifications read. */
export async function markAllRead(userId: string): Promise<void> {
  await Notification.updateMany(
    { userId: { $eq: userId }, readAt: { $eq: null } },
    { $set: { readAt: new Date() } },
  );
  await storeUnreadCount(userId);
}

/** Turns the user's notification mail on or off (in-app notifications stay). */
export async function setNotificationMail(userId: string, on: boolean): Promise<void> {
  await User.updateOne({ _id: { $eq: userId } }, { $set: { notificationMail: on } });
}
