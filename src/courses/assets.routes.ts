import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { Router, type Request, type Response } from 'express';
import { requireAuth } from '../auth/middleware.js';
import { notFound } from '../lib/errors.js';
import type { Catalog } from './catalog.types.js';
import { ASSET_EXTENSIONS, safeRelativeAssetPath } from './markdown.js';

function isInside(dir: string, file: string): boolean {
  const relative = path.relative(dir, file);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}

/**
 * Images and attachments referenced by lessons: /courses-assets/:program/:module/<path in the module
 * folder>. Only known program and module ids, only listed extensions, no `..`, dot-files or absolute
 * paths, and the real path (after symlinks) must stay inside the module folder. Anything else is 404.
 */
/** Mount at ASSETS_PREFIX (app.ts). */
export function courseAssetsRouter(catalog: Catalog): Router {
  const router = Router();
  router.get('/:program/:module/*file', requireAuth, async (req: Request, res: Response) => {
    const { program, module: moduleId } = req.params as { program: string; module: string };
    const segments = (req.params as { file?: string[] }).file ?? [];
    const module = catalog.module(program, moduleId);
    if (!module) throw notFound();
    const checked = safeRelativeAssetPath(segments.join('/'));
    if ('reason' in checked) throw notFound();
    const requested = path.resolve(module.dir, ...checked.relative.split('/'));
    if (!isInside(module.dir, requested)) throw notFound();
    let real: string;
    try {
      real = await realpath(requested);
      if (!isInside(await realpath(module.dir), real) || !(await stat(real)).isFile())
        throw notFound();
    } catch {
      throw notFound();
    }
    const type = ASSET_EXTENSIONS[path.extname(real).toLowerCase()];
    res.set({
      'content-type': type,
      'x-content-type-options': 'nosniff',
      // An SVG opened on its own must not run script or load anything.
      'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
      'cache-control': 'private, max-age=3600',
    });
    if (type === 'application/pdf') res.attachment(path.basename(real));
    res.sendFile(real, { dotfiles: 'deny', headers: { 'content-type': type } });
  });
  return router;
}
