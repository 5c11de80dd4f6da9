import type { RequestHandler } from 'express';

/** GET /: the home page (what it shows depends on who is signed in; see views/home.ejs). */
export const homePage: RequestHandler = (_req, res) => {
  res.render('home', { title: 'ホーム' });
};
