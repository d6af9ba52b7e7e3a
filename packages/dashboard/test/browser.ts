/**
 * Test support: the dashboard built fresh, the real buildd server serving it, Debian's Chromium driven by
 * playwright-core, and a real agent (the Claude Agent SDK against the scripted fake Messages API).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, type RunningAgent, startAgent } from '@buildd/agent';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const dashboardDir = fileURLToPath(new URL('..', import.meta.url));
/** Screenshots land here (gitignored), to be looked at, not compared. */
export const artifactsDir = fileURLToPath(new URL('../../../test-artifacts/dashboard/', import.meta.url));
export const chromiumPath = process.env.BUILDD_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Builds the dashboard into dist/, where buildd-server serves it from: the production build, as `npm run
 * build` makes it (in a child process, since the test runner's NODE_ENV=test would make a development one).
 */
export function buildDashboard(): void {
  const vite = join(dirname(createRequire(import.meta.url).resolve('vite/package.json')), 'bin', 'vite.js');
  execFileSync(process.execPath, [vite, 'build', '--logLevel=warn'], {
    cwd: dashboardDir,
    env: { ...process.env, NODE_ENV: 'production' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

export interface BrowserHandle {
  browser: Browser;
  close(): Promise<void>;
}

/** Chromium headless with a fresh profile, none of its own network traffic. */
export async function launchChromium(): Promise<BrowserHandle> {
  if (!existsSync(chromiumPath)) {
    throw new Error(
      `Chromium is missing at ${chromiumPath}: apt-get install -y chromium (or set BUILDD_CHROMIUM).`,
    );
  }
  // playwright gives each launch a fresh temporary profile (its own --user-data-dir) and removes it after.
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  return {
    browser,
    async close() {
      await browser.close();
    },
  };
}

export const laptop = { width: 1280, height: 860 };
export const phone = { width: 390, height: 844 };

/** A new browser context (own cookies) and page, with failures of the page's own script collected. */
export async function openPage(browser: Browser, viewport = laptop) {
  const context: BrowserContext = await browser.newContext({ viewport });
  const page: Page = await context.newPage();
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return { context, page, dialogs, pageErrors };
}

/** Saves a screenshot of the whole page under test-artifacts/dashboard/. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(artifactsDir, { recursive: true });
  await page.screenshot({ path: join(artifactsDir, `${name}.png`), fullPage: true });
}

/** Logs in through the login page. */
export async function logIn(page: Page, baseUrl: string, apiKey: string): Promise<void> {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel('API key').fill(apiKey);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** A real agent with a temporary HOME, pointed at the fake Messages API, polling every second. */
export function startTestAgent(serverUrl: string, apiKey: string, anthropicUrl: string): RunningAgent {
  const home = mkdtempSync(join(tmpdir(), 'buildd-dash-agent-'));
  mkdirSync(join(home, 'tmp'));
  const result = loadConfig(
    [
      `--server=${serverUrl}`,
      `--api-key=${apiKey}`,
      '--name=browser-test-agent',
      '--poll-interval=1',
      '--max-tasks=2',
      '--grace-period=1',
      '--log-level=error',
    ],
    {
      HOME: home,
      PATH: process.env.PATH,
      CLAUDE_CONFIG_DIR: join(home, '.claude'),
      CLAUDE_CODE_TMPDIR: join(home, 'tmp'),
      ANTHROPIC_BASE_URL: anthropicUrl,
      CLAUDE_CODE_MAX_RETRIES: '0',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
      CLAUDE_CODE_OAUTH_TOKEN: 'sk-ant-oat01-FAKE-dashboard-test-token-0123456789',
      GIT_AUTHOR_NAME: 'buildd test',
      GIT_AUTHOR_EMAIL: 'test@buildd.local',
      GIT_COMMITTER_NAME: 'buildd test',
      GIT_COMMITTER_EMAIL: 'test@buildd.local',
    },
  );
  if (result.action !== 'run') throw new Error('the agent config did not load');
  return startAgent(result.config);
}
