import path from 'node:path';
import { Marked } from 'marked';
import sanitizeHtml from 'sanitize-html';

/** Files content may reference relatively (images and attachments); served by /courses-assets. */
export const ASSET_EXTENSIONS: Readonly<Record<string, string>> = Object.freeze({
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.svg': 'image/svg+xml',
  '.webp': 'image/webp',
  '.pdf': 'application/pdf',
});
const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg', '.gif', '.svg', '.webp']);

export const ASSETS_PREFIX = '/courses-assets';

/** A relative reference found in Markdown, already checked to be a safe path inside the module folder. */
export interface AssetReference {
  /** As written in the Markdown, e.g. images/chart.png */
  written: string;
  /** Path relative to the module folder, with forward slashes. */
  relative: string;
  kind: 'image' | 'link';
}

export interface RenderResult {
  html: string;
  assets: AssetReference[];
  /** Problems with references (unsafe paths, external images, unknown link targets). */
  problems: { written: string; message: string }[];
}

const marked = new Marked({ gfm: true, breaks: false });

/**
 * Checks a relative reference (already URL-decoded) and returns its path relative to the module
 * folder, or a reason to refuse it. The same rule guards the asset route.
 */
export function safeRelativeAssetPath(written: string): { relative: string } | { reason: string } {
  if (written.includes('\0') || written.includes('\\'))
    return { reason: '使えない文字が含まれています' };
  if (path.posix.isAbsolute(written) || /^[a-z]:/i.test(written))
    return { reason: '絶対パスは使えません' };
  const segments = written.split('/');
  if (
    segments.some(
      // Stryker disable next-line ConditionalExpression,LogicalOperator,StringLiteral: '..' and '.' also start with '.'; named for the reader.
      (segment) => segment === '..' || segment === '.' || segment === '' || segment.startsWith('.'),
    )
  ) {
    return {
      reason:
        '「..」や「.」で始まる名前、空の区切りは使えません（モジュールのフォルダ内のファイルを指定してください）',
    };
  }
  const extension = path.posix.extname(written).toLowerCase();
  if (!(extension in ASSET_EXTENSIONS)) {
    return { reason: `使えるファイルの種類は ${Object.keys(ASSET_EXTENSIONS).join(', ')} です` };
  }
  return { relative: segments.join('/') };
}

function isExternal(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(url) || url.startsWith('//');
}

/**
 * Renders Markdown to sanitised HTML. Relative image and attachment references are rewritten to
 * `assetBase/<relative path>` (assetBase null: no assets allowed here). No script, style, iframe or
 * event-handler attributes survive.
 */
export function renderMarkdown(source: string, assetBase: string | null): RenderResult {
  const assets: AssetReference[] = [];
  const problems: RenderResult['problems'] = [];
  // Stryker disable next-line ObjectLiteral: without extensions marked parses synchronously anyway; the option types the result.
  const raw = marked.parse(source, { async: false });

  const rewrite = (written: string, kind: 'image' | 'link'): string | null => {
    let decoded: string;
    try {
      decoded = decodeURI(written.split('#')[0].split('?')[0]);
    } catch {
      problems.push({ written, message: 'パスの書き方が正しくありません' });
      return null;
    }
    if (assetBase === null) {
      problems.push({
        written,
        message:
          'この文書では画像・添付ファイルを参照できません（レッスンかモジュールの紹介文で参照してください）',
      });
      return null;
    }
    const checked = safeRelativeAssetPath(decoded);
    if ('reason' in checked) {
      problems.push({ written, message: `参照先 "${written}" は使えません: ${checked.reason}` });
      return null;
    }
    if (
      kind === 'image' &&
      !IMAGE_EXTENSIONS.has(path.posix.extname(checked.relative).toLowerCase())
    ) {
      problems.push({ written, message: `画像として表示できない種類のファイルです: "${written}"` });
      return null;
    }
    assets.push({ written, relative: checked.relative, kind });
    return `${assetBase}/${checked.relative.split('/').map(encodeURIComponent).join('/')}`;
  };

  const html = sanitizeHtml(raw, {
    allowedTags: [
      'h2',
      'h3',
      'h4',
      'h5',
      'h6',
      'p',
      'br',
      'hr',
      'ul',
      'ol',
      'li',
      'strong',
      'em',
      'b',
      'i',
      'del',
      's',
      'sup',
      'sub',
      'a',
      'img',
      'code',
      'pre',
      'blockquote',
      'table',
      'thead',
      'tbody',
      'tfoot',
      'tr',
      'th',
      'td',
      'caption',
      'figure',
      'figcaption',
      'dl',
      'dt',
      'dd',
    ],
    allowedAttributes: {
      a: ['href', 'title', 'rel'],
      img: ['src', 'alt', 'title', 'width', 'height', 'loading'],
      th: ['align', 'scope'],
      td: ['align'],
      ol: ['start'],
      // Stryker disable next-line ArrayDeclaration,StringLiteral: allowedClasses below admits the class attribute of code by itself.
      code: ['class'],
    },
    allowedClasses: { code: ['language-*'] },
    allowedSchemes: ['http', 'https', 'mailto'],
    // Stryker disable next-line ObjectLiteral,ArrayDeclaration: defence in depth; transformTags.img already drops every URL with a scheme.
    allowedSchemesByTag: { img: [] },
    allowProtocolRelative: false,
    // Stryker disable next-line StringLiteral: 'discard' is also sanitize-html's default; written out so it stays so.
    disallowedTagsMode: 'discard',
    transformTags: {
      // The page's own title is the only h1.
      h1: 'h2',
      th: (tagName, attribs) => ({ tagName, attribs: { ...attribs, scope: 'col' } }),
      img: (tagName, attribs) => {
        const src = attribs.src ?? '';
        const { src: _drop, ...rest } = attribs;
        if (!src) return { tagName, attribs: rest };
        if (isExternal(src)) {
          problems.push({
            written: src,
            message: `外部の画像 "${src}" は表示できません。画像はモジュールのフォルダ（images/）に置いてください`,
          });
          return { tagName, attribs: rest };
        }
        const url = rewrite(src, 'image');
        return { tagName, attribs: url ? { ...rest, src: url, loading: 'lazy' } : rest };
      },
      a: (tagName, attribs) => {
        const href = attribs.href ?? '';
        if (!href || href.startsWith('#') || href.startsWith('/') || isExternal(href)) {
          const external = /^https?:/i.test(href);
          return {
            tagName,
            attribs: external ? { ...attribs, rel: 'noopener noreferrer' } : attribs,
          };
        }
        const url = rewrite(href, 'link');
        const { href: _drop, ...rest } = attribs;
        return { tagName, attribs: url ? { ...rest, href: url } : rest };
      },
    },
  });
  // Wide tables scroll inside their own box on phones instead of widening the page.
  const wrapped = html
    .replaceAll('<table>', '<div class="table-scroll"><table>')
    .replaceAll('</table>', '</table></div>');
  return { html: wrapped, assets, problems };
}
