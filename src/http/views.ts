import path from 'node:path';
import ejs from 'ejs';
import type { Express } from 'express';

/**
 * EJS with one layout: every view is rendered into views/layout.ejs as `body`, unless the
 * view is rendered with `layout: false` (e.g. fragments, e-mail bodies).
 */
export function configureViews(app: Express, viewsDir: string, cache: boolean): void {
  const layoutFile = path.join(viewsDir, 'layout.ejs');
  app.set('views', viewsDir);
  app.set('view engine', 'ejs');
  app.engine('ejs', (file, options, callback) => {
    const locals = options as ejs.Data & { layout?: string | false };
    const renderOptions: ejs.Options = { cache, filename: file, root: viewsDir, views: [viewsDir] };
    ejs.renderFile(file, locals, renderOptions, (error, body) => {
      if (error) return callback(error);
      if (locals.layout === false) return callback(null, body);
      const layout = locals.layout ? path.join(viewsDir, `${locals.layout}.ejs`) : layoutFile;
      ejs.renderFile(layout, { ...locals, body }, { ...renderOptions, filename: layout }, callback);
    });
  });
}
