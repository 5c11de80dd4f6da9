import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import path from 'node:path';
import axe from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createTestApp, type TestApp } from '../helpers/app.js';

/**
 * The browser journeys' harness: the real app on a real port, one headless Chromium (Debian's
 * package, see .ci/run) shared by every journey, and a fresh browser context per journey and width.
 */

/** Where every step's screenshot goes (git-ignored); a failed step also leaves its HTML there. */
export const RESULTS_DIR = path.resolve('test-results/browser');

/** The widths every journey runs at: a phone and a desktop. */
export const WIDTHS = [390, 1280] as const;

/** WCAG 2.2 AA (with the 2.0 and 2.1 rules it builds on). */
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((candidate) => candidate && existsSync(candidate));
  if (!found) {
    throw new Error(
      'Chromium not found: install it (apt-get install chromium fonts-noto-cjk) or set CHROMIUM_PATH',
    );
  }
  return found;
}

export interface BrowserRun {
  browser: Browser;
  testApp: TestApp;
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * Within a describe: starts a browser run before its tests (`prepare` then runs, e.g. to warm up
 * what the journey needs) and closes it after them. The returned function gives the run.
 */
export function useBrowserRun(
  startTimeoutMs = 60_000,
  prepare: () => Promise<unknown> = () => Promise.resolve(),
): () => BrowserRun {
  let run: BrowserRun | undefined;
  before(async function () {
    this.timeout(startTimeoutMs);
    run = await startBrowserRun();
    await prepare();
  });
  after(async () => {
    await run?.close();
  });
  return () => run!;
}

/**
 * Starts the app on a free port and launches Chromium. Each journey clears its own screenshots
 * (Journey.open), so several browser test files can run, one after another or side by side.
 */
export async function startBrowserRun(): Promise<BrowserRun> {
  const testApp = await createTestApp();
  const server: Server = await new Promise((resolve) => {
    const listening = testApp.app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const { port } = server.address() as AddressInfo;
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    // CI runs as root in a container, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  return {
    browser,
    testApp,
    baseUrl: `http://127.0.0.1:${port}`,
    async close() {
      await browser.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await testApp.close();
    },
  };
}

export interface AxeFinding {
  id: string;
  impact: string | null | undefined;
  help: string;
  targets: string[];
}

/** What runs in the page: axe-core's global (the DOM's types are not in this project's libraries). */
type InPage = {
  axe?: { run(context: unknown, options: axe.RunOptions): Promise<axe.AxeResults> };
  document: unknown;
};

/**
 * Serious and critical WCAG 2.2 AA violations on the page as it is now.
 *
 * axe-core goes into each document once: a step that stays on its page is checked again without
 * loading axe's 650 kB of script anew (@axe-core/playwright's AxeBuilder loaded it twice per check,
 * which made the checks twice as slow). Only violations are reported in full; axe still runs every
 * rule of the tags.
 */
export async function accessibilityProblems(page: Page): Promise<AxeFinding[]> {
  const loaded = await page.evaluate(() => (globalThis as unknown as InPage).axe !== undefined);
  if (!loaded) await page.evaluate(axe.source);
  const violations = await page.evaluate(async (tags) => {
    const inPage = globalThis as unknown as InPage;
    const results = await inPage.axe!.run(inPage.document, {
      runOnly: { type: 'tag', values: tags },
      resultTypes: ['violations'],
    });
    return results.violations;
  }, AXE_TAGS);
  return violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      targets: violation.nodes.map((node) => node.target.join(' ')),
    }));
}

/**
 * One journey at one width: a fresh context (no cookies), a page that accepts confirmation
 * dialogs, and step() that screenshots each step and checks its page with axe.
 */
export class Journey {
  readonly page: Page;
  private count = 0;

  private constructor(
    readonly context: BrowserContext,
    page: Page,
    readonly dir: string,
    readonly baseUrl: string,
  ) {
    this.page = page;
  }

  static async open(run: BrowserRun, name: string, width: number): Promise<Journey> {
    const context = await run.browser.newContext({
      viewport: { width, height: width < 600 ? 844 : 900 },
      locale: 'ja-JP',
      timezoneId: 'Asia/Tokyo',
      baseURL: run.baseUrl,
    });
    const page = await context.newPage();
    // Generous: the CI machine and a developer's laptop are often busy with other tests.
    page.setDefaultTimeout(30_000);
    page.on('dialog', (dialog) => void dialog.accept());
    const dir = path.join(RESULTS_DIR, `${name}-${width}`);
    // Only this journey's previous screenshots: other browser test files may run at the same time.
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
    return new Journey(context, page, dir, run.baseUrl);
  }

  /**
   * Runs one step, then screenshots the page and checks it with axe (a step that ends on a
   * page with serious or critical violations fails). A failed step leaves NN-name-FAILED.png and
   * .html next to the others.
   */
  async step(name: string, action: (page: Page) => Promise<void>): Promise<void> {
    this.count += 1;
    const base = path.join(this.dir, `${String(this.count).padStart(2, '0')}-${name}`);
    try {
      await action(this.page);
      await this.page.waitForLoadState('load');
      await this.page.screenshot({ path: `${base}.png`, fullPage: true });
      const problems = await accessibilityProblems(this.page);
      if (problems.length > 0) {
        throw new Error(
          `accessibility (WCAG 2.2 AA) on ${this.page.url()}:\n` +
            problems
              .map((p) => `  ${p.impact} ${p.id}: ${p.help}\n    ${p.targets.join('\n    ')}`)
              .join('\n'),
        );
      }
    } catch (error) {
      await this.page.screenshot({ path: `${base}-FAILED.png`, fullPage: true }).catch(() => {});
      await writeFile(`${base}-FAILED.html`, await this.page.content().catch(() => '')).catch(
        () => {},
      );
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`step "${name}" failed (see ${base}-FAILED.png): ${message}`, {
        cause: error,
      });
    }
  }

  /** Submits the form around the button with this text and waits for the next page. */
  async clickAndWait(page: Page, name: string | RegExp): Promise<void> {
    await Promise.all([
      page.waitForNavigation(),
      page
        .getByRole('button', { name, exact: typeof name === 'string' })
        .first()
        .click(),
    ]);
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/** Signs in through the login form. */
export async function signInAs(page: Page, email: string, password: string): Promise<void> {
  await page.goto('/login');
  await page.locator('#field-email').fill(email);
  await page.locator('#field-password').fill(password);
  await Promise.all([
    page.waitForURL((url) => url.pathname !== '/login'),
    page.getByRole('button', { name: 'ログイン' }).last().click(),
  ]);
}

/** The computed CSS display of the first element matching the selector. */
export function displayOf(page: Page, selector: string): Promise<string> {
  // Runs in the page (the DOM's types are not in this project's TypeScript libraries).
  type Window = { getComputedStyle(element: unknown): { display: string } };
  return page
    .locator(selector)
    .first()
    .evaluate((element) => (globalThis as unknown as Window).getComputedStyle(element).display);
}
