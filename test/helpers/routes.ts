import type { Express } from 'express';

/**
 * The routes an Express 5 app registers, found by walking `app.router.stack` (and every router
 * mounted in it, at any depth). Matching uses the layers' own matchers, so a concrete path is
 * matched exactly as Express would match it (`:param`, `*splat`, mount prefixes, trailing slash).
 */
export interface AppRoute {
  /** Upper case: GET, POST… */
  method: string;
  /** The full pattern, for messages: '/admin/users/:id'. */
  pattern: string;
  /** Whether a concrete path (no query string) reaches this route's pattern. */
  matches(path: string): boolean;
}

type Matcher = (path: string) => false | { path: string };
type RawPath = string | RegExp | RawPath[];

/** The parts of router 2.x's Layer and Route this walker reads. */
interface Layer {
  matchers: Matcher[];
  rawPath?: RawPath;
  slash?: boolean;
  route?: { path: RawPath; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

/** Strips what a mounting layer matched, the way the router does before handing on ('/' if nothing is left). */
type Prefix = (path: string) => string | false;

export function appRoutes(app: Express): AppRoute[] {
  const router = (app as unknown as { router?: { stack: Layer[] } }).router;
  if (!router) throw new Error('app.router is missing: not an Express 5 app?');
  const routes: AppRoute[] = [];
  walk(router.stack, [], '', routes);
  return routes;
}

/** A path as written: '/a/:id'; a regular expression as /…/; several as a|b. */
function show(path: RawPath): string {
  if (Array.isArray(path)) return path.map(show).join('|');
  return typeof path === 'string' ? path : String(path);
}

function firstMatch(layer: Layer, path: string): { path: string } | false {
  for (const matcher of layer.matchers) {
    const found = matcher(path);
    if (found) return found;
  }
  return false;
}

function walk(stack: Layer[], prefixes: Prefix[], shown: string, out: AppRoute[]): void {
  for (const layer of stack) {
    if (layer.route) {
      const within = (path: string): string | false =>
        prefixes.reduce<string | false>(
          (rest, strip) => (rest === false ? false : strip(rest)),
          path,
        );
      const pattern = shown + show(layer.route.path);
      for (const [method, enabled] of Object.entries(layer.route.methods)) {
        if (!enabled) continue;
        out.push({
          method: method === '_all' ? 'ALL' : method.toUpperCase(),
          pattern,
          matches: (path) => {
            const rest = within(path);
            return rest !== false && firstMatch(layer, rest) !== false;
          },
        });
      }
    } else if (layer.handle?.stack) {
      // A mounted router: app.use(router) (slash) or app.use('/prefix', router).
      const mount = layer.slash || layer.rawPath === undefined ? '' : show(layer.rawPath);
      const strip: Prefix = (path) => {
        if (layer.slash) return path;
        const found = firstMatch(layer, path);
        if (!found) return false;
        return path.slice(found.path.length) || '/';
      };
      walk(layer.handle.stack, [...prefixes, strip], shown + mount, out);
    }
  }
}
