import { Router } from 'express';
import type { Config } from '../config.js';
import { privacyNotice } from './privacy-notice.js';

/** GET /privacy: 個人情報の取扱い, for everyone (linked from every page's footer). */
export function privacyRouter(config: Pick<Config, 'privacyNoticeFile'>): Router {
  const router = Router();
  router.get('/privacy', async (_req, res) => {
    const notice = await privacyNotice(config.privacyNoticeFile);
    res.render('privacy/show', { title: '個人情報の取扱い', notice });
  });
  return router;
}
