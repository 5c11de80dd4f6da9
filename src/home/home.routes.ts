import type { RequestHandler } from 'express';
import { homeSections, type HomeDeps } from './home.service.js';

/**
 * GET /: for visitors, what Tsunagu is; for a signed-in person, what to do next, one part per
 * role they hold (src/home/home.service.ts, views/home.ejs).
 */
export function homePage(deps: HomeDeps): RequestHandler {
  return async (req, res) => {
    const sections = req.user ? await homeSections(req.user, deps) : null;
    res.render('home', { title: 'ホーム', sections });
  };
}
