import { Router } from 'express';

export function homeRouter(): Router {
  const router = Router();
  router.get('/', (_req, res) => {
    res.render('home', { title: 'ホーム' });
  });
  return router;
}
