import { Router } from 'express';
import { z } from 'zod';
import { requireAuth } from '../auth/middleware.js';
import { authorize } from '../auth/policy.js';
import { pageFrom, pageOf, skipFor } from '../admin/paging.js';
import { badRequest, notFound } from '../lib/errors.js';
import {
  findNotification,
  listNotifications,
  markAllRead,
  markRead,
  reconcileUnreadCount,
  setNotificationMail,
} from './notifications.service.js';

/** Notifications per page of /notifications. */
const PAGE_SIZE = 20;

/** The /account form: a checked box sends "on", an unchecked one nothing. */
const mailPreferenceSchema = z.object({ notificationMail: z.literal('on').optional() });

/** /notifications (the list, opening one, marking all read) and the mail setting of /account. */
export function notificationsRouter(): Router {
  const router = Router();

  router.get('/notifications', requireAuth, async (req, res) => {
    const user = req.user!;
    const page = pageFrom(req.query.page);
    const { items, total, unread } = await listNotifications(
      user.id,
      skipFor(page, PAGE_SIZE),
      PAGE_SIZE,
    );
    await reconcileUnreadCount(user.id, user.unreadNotifications, unread);
    // The header shows what was just counted, not the figure read before.
    res.locals.currentUser = { ...user, unreadNotifications: unread };
    res.render('notifications/list', {
      title: 'お知らせ',
      result: pageOf(items, total, page, PAGE_SIZE),
      unread,
      pageLink: (n: number) => (n > 1 ? `/notifications?page=${n}` : '/notifications'),
    });
  });

  // Opening is a POST (it marks the notification read), answered with a redirect to its page.
  router.post('/notifications/:id/open', requireAuth, async (req, res) => {
    const notification = await findNotification(String(req.params.id));
    if (!notification) throw notFound();
    authorize(req.user, 'notification.read', notification);
    await markRead(req.user!.id, String(notification._id));
    res.redirect(303, notification.link);
  });

  router.post('/notifications/read-all', requireAuth, async (req, res) => {
    await markAllRead(req.user!.id);
    req.flash('success', 'すべてのお知らせを既読にしました。');
    res.redirect(303, '/notifications');
  });

  router.post('/account/notification-mail', requireAuth, async (req, res) => {
    const parsed = mailPreferenceSchema.safeParse(req.body);
    if (!parsed.success) throw badRequest();
    const on = parsed.data.notificationMail === 'on';
    await setNotificationMail(req.user!.id, on);
    req.flash(
      'success',
      on
        ? 'お知らせをメールでも受け取る設定にしました。'
        : 'お知らせのメールを止めました。お知らせは画面に表示されます。',
    );
    res.redirect(303, '/account#notifications');
  });

  return router;
}
