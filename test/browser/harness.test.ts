import { expect } from 'chai';
import type { Page } from 'playwright-core';
import { accessibilityProblems, pageState, startBrowserRun, type BrowserRun } from './harness.js';

/** A page of the given body, in Japanese, with a title (so only the body's problems count). */
const html = (body: string) =>
  `<!doctype html><html lang="ja"><head><title>確認</title></head><body><main>${body}</main></body></html>`;

/** A 1×1 PNG. */
const IMAGE =
  'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';

/** The journeys' accessibility check (axe-core, WCAG 2.2 AA), on pages with known problems. */
describe('browser harness: the accessibility check', function () {
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

  it('reports nothing on a page without problems', async () => {
    await page.setContent(html('<h1>研修</h1><p>本文です。</p><img src="' + IMAGE + '" alt="図">'));
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
