import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { expect } from 'chai';
import type { Page } from 'playwright-core';
import {
  accessibilityProblems,
  CHROMIUM_CANDIDATES,
  chromiumPath,
  pageState,
  PLAYWRIGHT_DISABLED_FEATURES,
  startBrowserRun,
  type BrowserRun,
} from './harness.js';

/** A page of the given body, in Japanese, with a title (so only the body's problems count). */
const html = (body: string) =>
  `<!doctype html><html lang="ja"><head><title>確認</title></head><body><main>${body}</main></body></html>`;

/** A 1×1 PNG. */
const IMAGE =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

describe('browser harness', function () {
  this.timeout(120_000);
  let run: BrowserRun;
  let page: Page;

  before(async () => {
    run = await startBrowserRun();
    page = await run.browser.newPage();
  });

  after(async () => {
    await run?.close();
  });

  /** The journeys' accessibility check (axe-core, WCAG 2.2 AA), on pages with known problems. */
  describe('the accessibility check', () => {
    it('reports nothing on a page without problems', async () => {
      await page.setContent(
        html('<h1>研修</h1><p>本文です。</p><img src="' + IMAGE + '" alt="図">'),
      );
      expect(await accessibilityProblems(page)).to.deep.equal([]);
    });

    it('reports serious and critical violations, with the elements they are on', async () => {
      await page.setContent(
        html(
          '<h1>研修</h1><img id="no-alt" src="' +
            IMAGE +
            '"><p id="faint" style="color:#bbb;background:#fff">薄い文字</p>',
        ),
      );
      const problems = await accessibilityProblems(page);
      expect(problems.map((p) => [p.id, p.impact, p.targets])).to.have.deep.members([
        ['image-alt', 'critical', ['#no-alt']],
        ['color-contrast', 'serious', ['#faint']],
      ]);
    });

    it('checks a page again after it changed, loading axe into the document once', async () => {
      await page.setContent(html('<h1>研修</h1>'));
      expect(await accessibilityProblems(page)).to.deep.equal([]);
      // A mark on the loaded axe: it is still there after the second check.
      await page.evaluate(() => {
        (globalThis as unknown as { axe: { mark?: number } }).axe.mark = 1;
      });
      await page.evaluate(() => {
        const doc = (globalThis as unknown as { document: { querySelector(s: string): unknown } })
          .document;
        const main = doc.querySelector('main') as {
          insertAdjacentHTML(where: string, html: string): void;
        };
        main.insertAdjacentHTML('beforeend', '<button id="empty"></button>');
      });
      const problems = await accessibilityProblems(page);
      expect(problems.map((p) => [p.id, p.targets])).to.deep.equal([['button-name', ['#empty']]]);
      expect(
        await page.evaluate(() => (globalThis as unknown as { axe: { mark?: number } }).axe.mark),
      ).to.equal(1);
    });

    it('tells pages apart by what axe sees: HTML, typed values, width and media, not hidden inputs', async () => {
      const form = (token: string) =>
        html(
          `<h1>研修</h1><form><input type="hidden" name="_csrf" value="${token}">` +
            '<label for="name">氏名</label><input id="name"></form>',
        );
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.setContent(form('token-1'));
      const first = await pageState(page);
      // The same page with another CSRF token (a new response): the same state.
      await page.setContent(form('token-2'));
      expect(await pageState(page)).to.equal(first);
      // Typed into a field (not in the HTML): another state.
      await page.locator('#name').fill('安曇 花子');
      const typed = await pageState(page);
      expect(typed).not.to.equal(first);
      await page.locator('#name').fill('');
      expect(await pageState(page)).to.equal(first);
      // Other HTML, another width, the print media: each another state.
      await page.setContent(form('token-1').replace('氏名', '名前'));
      expect(await pageState(page)).not.to.equal(first);
      await page.setContent(form('token-1'));
      await page.setViewportSize({ width: 390, height: 844 });
      expect(await pageState(page)).not.to.equal(first);
      await page.setViewportSize({ width: 1280, height: 900 });
      await page.emulateMedia({ media: 'print' });
      expect(await pageState(page)).not.to.equal(first);
      await page.emulateMedia({ media: 'screen' });
      expect(await pageState(page)).to.equal(first);
    });
  });

  it('loads axe into an app page from the harness server, past the app’s CSP, leaving no element', async () => {
    const context = await run.browser.newContext({ baseURL: run.baseUrl });
    try {
      const appPage = await context.newPage();
      await appPage.goto('/login');
      expect(await accessibilityProblems(appPage)).to.deep.equal([]);
      expect(
        await appPage.evaluate(() => {
          const inPage = globalThis as unknown as {
            axe?: unknown;
            document: { querySelectorAll(selector: string): { length: number } };
          };
          return [
            inPage.axe !== undefined,
            inPage.document.querySelectorAll('script[src*="axe"]').length,
          ];
        }),
      ).to.deep.equal([true, 0]);
    } finally {
      await context.close();
    }
  });

  /** How the harness launches Chromium. */
  describe('Chromium', () => {
    it('turns off every feature Playwright turns off (ours replaces its --disable-features)', () => {
      const playwright = path.dirname(
        createRequire(import.meta.url).resolve('playwright-core/package.json'),
      );
      // Playwright's list, as its bundle holds it (chromiumSwitches.ts's `disabledFeatures`).
      const bundle = readFileSync(path.join(playwright, 'lib/coreBundle.js'), 'utf8');
      const list = /disabledFeatures = \[([^\]]*)\]/.exec(bundle)?.[1];
      expect(list, "Playwright's disabledFeatures in lib/coreBundle.js").to.be.a('string');
      const theirs = [...list!.replace(/\/\/.*$/gm, '').matchAll(/"(\w+)"/g)].map((m) => m[1]);
      expect(theirs).to.include('MediaRouter');
      expect(PLAYWRIGHT_DISABLED_FEATURES).to.include.members(theirs);
    });

    it('launches the headless shell when Debian’s is installed, the full browser otherwise', function () {
      if (process.env.CHROMIUM_PATH) this.skip();
      const installed = CHROMIUM_CANDIDATES.filter((candidate) => existsSync(candidate));
      expect(chromiumPath()).to.equal(installed[0]);
      if (installed.includes('/usr/bin/chromium-headless-shell')) {
        expect(chromiumPath()).to.equal('/usr/bin/chromium-headless-shell');
      }
    });

    it('builds none of the omnibox popups headless Chromium never shows', async () => {
      const context = await run.browser.newContext();
      try {
        const page = await context.newPage();
        await page.setContent('<p>研修</p>');
        const cdp = await run.browser.newBrowserCDPSession();
        const { targetInfos } = (await cdp.send('Target.getTargets', { filter: [{}] })) as {
          targetInfos: { type: string; url: string }[];
        };
        await cdp.detach();
        expect(targetInfos.map((target) => target.url)).to.include('about:blank');
        expect(targetInfos.filter((target) => target.url.includes('omnibox'))).to.deep.equal([]);
      } finally {
        await context.close();
      }
    });
  });
});
