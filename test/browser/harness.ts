import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import axe from 'axe-core';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createTestApp, type TestApp } from '../helpers/app.js';

/**
 * The browser journeys' harness: the real app on a real port, one headless Chromium (Debian's
 * package, see .ci/run) shared by every journey, and a fresh browser context per journey and width.
 */

/**
 * Where a failed step's screenshot and HTML go (git-ignored), and every step's screenshot when
 * JOURNEY_SCREENSHOTS=1 asks for them.
 */
export const RESULTS_DIR = path.resolve('test-results/browser');

/**
 * JOURNEY_SCREENSHOTS=1: a full-page screenshot of every step and a PDF of each printed page, to
 * look at. Off by default: they prove nothing the steps' checks and a failed step's screenshot do
 * not, and cost about a sixth of the journeys' CPU time, more on long pages (a full-page
 * screenshot about 0.6 s, a PDF about 1.2 s).
 */
const EVERY_STEP_SCREENSHOTS = process.env.JOURNEY_SCREENSHOTS === '1';

/** The widths every journey runs at: a phone and a desktop. */
export const WIDTHS = [390, 1280] as const;

/**
 * axe-core's minified build, 650 kB (axe.source is its 1.5 MB unminified one): sent into each
 * checked page, where Chromium parses and compiles it again.
 */
const AXE_SOURCE = readFileSync(
  createRequire(import.meta.url).resolve('axe-core/axe.min.js'),
  'utf8',
);

/**
 * Where the harness's server serves AXE_SOURCE beside the app (same origin, so the app's CSP lets
 * it in), cacheable: a journey's browser context takes it from its cache after the first page and
 * Chromium compiles it from its code cache, about half the cost of loading axe into each page.
 */
export const AXE_PATH = '/__test-harness/axe.min.js';

/** WCAG 2.2 AA (with the 2.0 and 2.1 rules it builds on). */
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

/**
 * The Chromium features Playwright turns off (its chromiumSwitches.ts, playwright-core 1.65). A
 * `--disable-features` of our own replaces Playwright's (Chromium keeps the last one given), so
 * ours repeats them; harness.test.ts fails when Playwright's list has one this lacks.
 */
export const PLAYWRIGHT_DISABLED_FEATURES = [
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'TcpPortRandomizationWin',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
  'msForceBrowserSignIn',
  'msEdgeUpdateLaunchServicesPreferredVersion',
];

/**
 * Chromium's own browser UI that headless Chromium builds and never shows: every browser context
 * (a window) preloaded two WebUI omnibox popups (chrome://omnibox-popup.top-chrome), each in a
 * renderer of its own, about 1.5 s of CPU per context, more than the pages the journey opens in it.
 */
const UNUSED_BROWSER_UI = ['WebUIOmniboxPopup', 'WebUIOmniboxAimPopup', 'WebUIOmniboxFullPopup'];

/** The arguments the harness launches Chromium with (after Playwright's own). */
export const CHROMIUM_ARGS = [
  // CI runs as root in a container, where Chromium's sandbox cannot start.
  '--no-sandbox',
  '--disable-dev-shm-usage',
  `--disable-features=${[...PLAYWRIGHT_DISABLED_FEATURES, ...UNUSED_BROWSER_UI].join(',')}`,
];

/**
 * Where Chromium is: CHROMIUM_PATH, else Debian's headless shell (chromium-headless-shell: Blink
 * without the browser's UI, what Playwright itself launches for headless runs), else the full
 * browser. The journeys' Chromium needed about a third less CPU in the shell (the certificate
 * journey's 77 s against 51 s; 29 processes instead of 48): no browser window, profile or
 * WebUI behind each context.
 */
export const CHROMIUM_CANDIDATES = [
  '/usr/bin/chromium-headless-shell',
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
];

export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, ...CHROMIUM_CANDIDATES];
  const found = candidates.find((candidate) => candidate && existsSync(candidate));
  if (!found) {
    throw new Error(
      'Chromium not found: install it (apt-get install chromium-headless-shell fonts-noto-cjk) or set CHROMIUM_PATH',
    );
  }
  return found;
}

export interface BrowserRun {
  browser: Browser;
  testApp: TestApp;
  baseUrl: string;
  /** The pages axe has passed in this run (see pageState): checked once each. */
  checkedPages: Set<string>;
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
  // The app, and axe-core at AXE_PATH.
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === AXE_PATH) {
      res.writeHead(200, {
        'content-type': 'text/javascript; charset=utf-8',
        'cache-control': 'public, max-age=86400, immutable',
      });
      res.end(AXE_SOURCE);
    } else void testApp.app(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const browser = await chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return {
    browser,
    testApp,
    baseUrl: `http://127.0.0.1:${port}`,
    checkedPages: new Set(),
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
  if (!loaded && /^https?:/.test(page.url())) {
    // From the harness's server (the page is the app's): the element goes once axe is loaded, so
    // the page's HTML is the app's again.
    const script = await page.addScriptTag({ url: AXE_PATH });
    await script.evaluate((element) => (element as unknown as { remove(): void }).remove());
  } else if (!loaded) await page.evaluate(AXE_SOURCE); // a page set with setContent
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
 * What axe's result depends on, as one string: the viewport, the media (screen or print) and the
 * document as it is now — its HTML and the live state of its form fields (what was typed, checked
 * or chosen, which the HTML does not show). Hidden inputs are left out (the CSRF token changes
 * from one response to the next; axe does not look at them). Two steps with the same state show
 * the same page to axe: e.g. the home page a sign-in lands on and the same page opened again, or
 * a page a step only reads or downloads from.
 */
export async function pageState(page: Page): Promise<string> {
  type Field = { type?: string; value: string; checked?: boolean };
  type InPageDocument = {
    documentElement: { cloneNode(deep: true): InPageElement };
    querySelectorAll(selector: string): Iterable<Field>;
  };
  type InPageElement = {
    outerHTML: string;
    querySelectorAll(selector: string): Iterable<{ remove(): void }>;
  };
  type InPageWindow = {
    document: InPageDocument;
    innerWidth: number;
    innerHeight: number;
    matchMedia(query: string): { matches: boolean };
  };
  const state = await page.evaluate(() => {
    const w = globalThis as unknown as InPageWindow;
    const html = w.document.documentElement.cloneNode(true);
    for (const hidden of html.querySelectorAll('input[type="hidden"]')) hidden.remove();
    const fields = [...w.document.querySelectorAll('input, select, textarea')]
      .filter((field) => field.type !== 'hidden')
      .map((field) => [field.value, field.checked === true]);
    return JSON.stringify([
      w.innerWidth,
      w.innerHeight,
      w.matchMedia('print').matches,
      fields,
      html.outerHTML,
    ]);
  });
  return createHash('sha256').update(state).digest('hex');
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
    private readonly checkedPages: Set<string>,
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
    return new Journey(context, page, dir, run.baseUrl, run.checkedPages);
  }

  /**
   * Runs one step, then checks its page with axe (a step that ends on a page with serious or
   * critical violations fails) unless this run's axe has already passed the page in the same
   * state (pageState), and screenshots it when JOURNEY_SCREENSHOTS=1. A failed step always leaves
   * NN-name-FAILED.png and .html in the journey's folder.
   */
  async step(name: string, action: (page: Page) => Promise<void>): Promise<void> {
    this.count += 1;
    const base = path.join(this.dir, `${String(this.count).padStart(2, '0')}-${name}`);
    try {
      await action(this.page);
      await this.page.waitForLoadState('load');
      if (EVERY_STEP_SCREENSHOTS) {
        await this.page.screenshot({ path: `${base}.png`, fullPage: true });
      }
      const state = await pageState(this.page);
      if (!this.checkedPages.has(state)) {
        const problems = await accessibilityProblems(this.page);
        if (problems.length > 0) {
          throw new Error(
            `accessibility (WCAG 2.2 AA) on ${this.page.url()}:\n` +
              problems
                .map((p) => `  ${p.impact} ${p.id}: ${p.help}\n    ${p.targets.join('\n    ')}`)
                .join('\n'),
          );
        }
        this.checkedPages.add(state);
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

  /**
   * With JOURNEY_SCREENSHOTS=1, saves the page as it prints (A4) as `name` in the journey's
   * folder; the step checks what the print style sheet hides and shows.
   */
  async savePrintout(name: string): Promise<void> {
    if (EVERY_STEP_SCREENSHOTS) {
      await this.page.pdf({ path: path.join(this.dir, name), format: 'A4' });
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
