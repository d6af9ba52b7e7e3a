/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against the real buildd
 * server, with a real agent running the Claude Agent SDK against the scripted fake Messages API.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningAgent } from '@buildd/agent';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  askUser,
  bash,
  type FakeAnthropic,
  startFakeAnthropic,
  text,
  write,
} from '../../agent/test/support/fake-anthropic.ts';
import { makeOrigin, type Origin } from '../../agent/test/support/git-fixtures.ts';
import { SecretKeys } from '../../server/src/secrets/secret-keys.ts';
import { type ApiClient, apiClient, makeAccount } from '../../server/test/support/api.ts';
import { testEngines } from '../../server/test/support/engines.ts';
import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import {
  type BrowserHandle,
  buildDashboard,
  laptop,
  launchChromium,
  logIn,
  openPage,
  phone,
  screenshot,
  startTestAgent,
} from './browser.ts';

const xss = '<img src=x onerror=alert(1)>';
const htmlReply = '<b id="injected">bold</b><img src=x onerror=alert(2)> Wrote hello.txt.';
/** A file long enough that the review page folds it. */
const palette = Array.from({ length: 260 }, (_, i) => `colour ${i + 1}`).join('\n');

let server: TestServer;
/** The server's key for stored GitHub tokens, so a test can check which token the form stored. */
const secretKeys = new SecretKeys(randomBytes(32));
let admin: ApiClient;
let anthropic: FakeAnthropic;
let chrome: BrowserHandle;
let agent: RunningAgent | undefined;
let root: string;
let origin: Origin;
/** A local webhook receiver: every delivery answered 200. */
let hookServer: Server;
let hookUrl: string;
const hookDeliveries: string[] = [];

beforeAll(async () => {
  buildDashboard();
  const [engine] = await testEngines();
  server = await startTestServer({ engine, leaseSeconds: 6, renewSeconds: 1, secretKeys });
  admin = apiClient(server.url, server.adminKey);
  // The tasks run in a real git repository with a local bare origin, so they end with a branch and a commit.
  root = mkdtempSync(join(tmpdir(), 'buildd-dash-git-'));
  origin = makeOrigin(root);
  const ws = await admin.post('/api/workspaces', { name: 'web', repoUrl: origin.url, defaultBranch: 'main' });
  expect(ws.status).toBe(201);
  anthropic = await startFakeAnthropic({
    scriptFor: (_session, first) =>
      JSON.stringify(first).includes('SLOW')
        ? [text('never seen', { delayMs: 60_000 })]
        : JSON.stringify(first).includes('ASK')
          ? [
              // Eighty lines of output: the event log shows it folded.
              bash('seq 1 80'),
              askUser('Which colour?', 'Colour', { blue: 'calm', red: 'loud' }),
              write('palette.txt', `${palette}\n`),
              text('Painted it blue.'),
            ]
          : [
              write('hello.txt', 'hello from the dashboard\n', {
                usage: { input_tokens: 1000, output_tokens: 100 },
              }),
              text(htmlReply, { usage: { input_tokens: 1000, output_tokens: 50 } }),
            ],
  });
  hookServer = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => {
      body += d;
    });
    req.on('end', () => {
      hookDeliveries.push(body);
      res.end('ok');
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
  chrome = await launchChromium();
}, 120_000);

afterAll(async () => {
  await agent?.stop();
  await chrome?.close();
  await anthropic?.close();
  await server?.close();
  await new Promise((r) => (hookServer ? hookServer.close(r) : r(undefined)));
  if (root) rmSync(root, { recursive: true, force: true });
});

/** For `expect.poll`: a busy machine may take a while (the default is one second). */
const patiently = { timeout: 30_000 };

/** The agent starts only when a test wants tasks to run (so "pending" can be seen first). */
function ensureAgent() {
  agent ??= startTestAgent(server.url, server.adminKey, anthropic.url);
}

/** Waits until the task page's status badge reads `status` (no reload: the page must update itself). */
async function statusBecomes(page: Page, status: string, timeout = 45_000) {
  await page.locator('.title-row .badge', { hasText: status }).waitFor({ timeout });
}

describe('the dashboard in a browser', () => {
  it('sends an unauthenticated visit to the login page, and logs in', async () => {
    const { context, page, pageErrors } = await openPage(chrome.browser);
    await page.goto(`${server.url}/tasks`);
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    await screenshot(page, 'login');

    await page.getByLabel('API key').fill('buildd_user_not_a_real_key_000000000000000000');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent(), patiently)
      .toMatch(/unknown or has been revoked/);

    // Keyboard only: the key field, then Enter.
    await page.getByLabel('API key').fill(server.adminKey);
    await page.getByLabel('API key').press('Enter');
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/tasks');
    // The first screen of a fresh server says how to start an agent.
    await page.getByRole('heading', { name: 'No agent is online' }).waitFor();
    expect(await page.locator('pre.cmd').textContent()).toContain(`--server=${server.url}`);
    await screenshot(page, 'tasks-first-start');
    // The key is not kept in the browser: not in storage, not in a readable cookie.
    const stored = await page.evaluate(
      () => JSON.stringify({ ...localStorage, ...sessionStorage }) + document.cookie,
    );
    expect(stored).not.toContain(server.adminKey);
    const cookies = await context.cookies();
    expect(cookies.find((c) => c.name === 'buildd_session')).toMatchObject({
      httpOnly: true,
      sameSite: 'Strict',
    });
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('creates a task and watches it go from pending to completed with events streaming in', async () => {
    const { context, page, dialogs, pageErrors } = await openPage(chrome.browser);
    await logIn(page, server.url, server.adminKey);
    await page.getByRole('link', { name: 'New task' }).click();
    await page.getByLabel('Title').fill('Write hello.txt');
    await page.getByLabel('Prompt').fill('Write hello.txt with a greeting.');
    await page.getByLabel('Priority').fill('5');
    await page.getByLabel('Max turns').fill('10');
    await page.getByLabel('Required capabilities').fill('');
    await screenshot(page, 'new-task');
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.getByRole('heading', { name: 'Write hello.txt' }).waitFor();
    await statusBecomes(page, 'pending');
    // Marks this document: if the page reloaded, the mark would be gone.
    await page.evaluate(() => {
      (window as unknown as { noReload: boolean }).noReload = true;
    });

    ensureAgent();
    await statusBecomes(page, 'completed');
    const log = page.getByRole('log', { name: 'Event log' });
    await log.getByText('Wrote hello.txt.').waitFor();
    await log.getByText('Write', { exact: true }).waitFor();
    expect(await page.evaluate(() => (window as unknown as { noReload?: boolean }).noReload)).toBe(true);
    // The result arrived live too: cost, turns, the commit on the task's branch, pushed to the origin.
    const done = (await admin.get(`/api/tasks/${new URL(page.url()).pathname.split('/')[2]}`)).body;
    expect(done.result.commitSha).toMatch(/^[0-9a-f]{40}$/);
    await page.locator('.facts').getByText(done.result.commitSha).waitFor();
    await page.locator('.facts').getByText(done.result.branch).waitFor();
    expect(origin.readFile(done.result.branch, 'hello.txt')).toBe('hello from the dashboard');
    await expect.poll(() => page.locator('.facts').textContent(), patiently).toMatch(/Turns\s*2/);
    expect(await page.locator('.facts').textContent()).toMatch(/Cost\$0\.0*[1-9]/);
    // The reply carried HTML: it shows as text, nothing was injected, nothing ran.
    expect(await log.textContent()).toContain(htmlReply);
    expect(await page.locator('#injected').count()).toBe(0);
    expect(await page.locator('main img').count()).toBe(0);
    await screenshot(page, 'task-completed');
    await page.setViewportSize(phone);
    await screenshot(page, 'task-completed-phone');
    expect(dialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('creates a task with every field of the form, and shows the API’s sentence when it refuses', async () => {
    const blocker = await admin.post('/api/tasks', { workspaceId: 'web', title: 'Blocker', prompt: 'x' });
    await admin.post(`/api/tasks/${blocker.body.id}/cancel`);
    const { context, page, pageErrors } = await openPage(chrome.browser);
    await logIn(page, server.url, server.adminKey);
    await page.goto(`${server.url}/tasks/new`);
    await page.getByLabel('Workspace').selectOption({ label: `web — ${origin.url}` });
    await page.getByLabel('Title').fill('Every field');
    await page.getByLabel('Prompt').fill('A task that waits for a GPU agent.');
    await page.getByLabel('Priority').fill('7');
    await page.getByLabel('Runner').selectOption('service');
    await page.getByLabel('Max attempts').fill('2');
    await page.getByLabel('Budget (USD)').fill('1.5');
    await page.getByLabel('Max turns').fill('12');
    await page.getByLabel('Model').fill('claude-sonnet-4-5');
    await page.getByLabel('Required capabilities').fill('gpu, cuda');
    // An unknown dependency first: the API refuses, and the page shows the API's own sentence.
    await page.getByLabel('Depends on').fill('task_unknown1');
    const refused = page.waitForResponse(
      (r) => r.url().endsWith('/api/tasks') && r.request().method() === 'POST',
    );
    await page.getByRole('button', { name: 'Create task' }).click();
    const sentence = ((await (await refused).json()) as { error: { message: string } }).error.message;
    expect(sentence).toMatch(/task_unknown1/);
    await page.getByRole('alert').getByText(sentence, { exact: true }).waitFor();
    await page.getByLabel('Depends on').fill(blocker.body.id);
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.getByRole('heading', { name: 'Every field' }).waitFor();
    const id = new URL(page.url()).pathname.split('/')[2];
    expect((await admin.get(`/api/tasks/${id}`)).body).toMatchObject({
      title: 'Every field',
      priority: 7,
      runnerPreference: 'service',
      maxAttempts: 2,
      budgetUsd: 1.5,
      maxTurns: 12,
      model: 'claude-sonnet-4-5',
      requiredCapabilities: ['gpu', 'cuda'],
      dependsOn: [blocker.body.id],
      status: 'pending',
    });
    const facts = page.locator('.facts');
    await facts.getByText('service · needs gpu, cuda').waitFor();
    await facts.getByRole('link', { name: blocker.body.id }).waitFor();
    await facts.getByText('claude-sonnet-4-5').waitFor();
    await screenshot(page, 'task-pending-every-field');
    await admin.post(`/api/tasks/${id}/cancel`);
    await statusBecomes(page, 'cancelled');
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('filters the task list by workspace, status and creator, and keeps it live from the feed', async () => {
    ensureAgent();
    expect((await admin.post('/api/workspaces', { name: 'other' })).status).toBe(201);
    const member = await makeAccount(admin, server.url, { name: 'otto', level: 'member' });
    const { context, page, pageErrors } = await openPage(chrome.browser);
    await logIn(page, server.url, server.adminKey);
    await page.evaluate(() => {
      (window as unknown as { noReload: boolean }).noReload = true;
    });
    const filters = page.getByRole('form', { name: 'Filter tasks' });
    await filters.getByLabel('Workspace').selectOption({ label: 'web' });
    await filters.getByLabel('Status').selectOption('pending');
    await filters.getByLabel('Created by me').check();
    await expect
      .poll(() => new URL(page.url()).search, patiently)
      .toBe(`?workspace=${(await admin.get('/api/workspaces/web')).body.id}&status=pending&mine=1`);
    await page.getByRole('status').getByText('Live').waitFor();
    const rows = page.locator('table.list tbody tr');
    // No agent offers "gpu": these stay pending until cancelled.
    const waiting = { requiredCapabilities: ['gpu'] };
    const mine = await admin.post('/api/tasks', {
      workspaceId: 'web',
      title: 'Mine, pending',
      prompt: 'x',
      ...waiting,
    });
    await admin.post('/api/tasks', {
      workspaceId: 'other',
      title: 'Other workspace',
      prompt: 'x',
      ...waiting,
    });
    await member.api.post('/api/tasks', {
      workspaceId: 'web',
      title: 'Otto’s task',
      prompt: 'x',
      ...waiting,
    });
    await page.getByRole('link', { name: 'Mine, pending' }).waitFor();
    await screenshot(page, 'tasks-filtered');
    // The other two arrived in the same feed (the creator filter last): once unchecked, Otto's shows.
    expect(await page.getByRole('link', { name: 'Other workspace' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'Otto’s task' }).count()).toBe(0);
    await filters.getByLabel('Created by me').uncheck();
    await page.getByRole('link', { name: 'Otto’s task' }).waitFor();
    expect(await page.getByRole('link', { name: 'Other workspace' }).count()).toBe(0);
    // Leaving "pending" takes a task off the list, live.
    await admin.post(`/api/tasks/${mine.body.id}/cancel`);
    await page.getByRole('link', { name: 'Mine, pending' }).waitFor({ state: 'detached', timeout: 30_000 });
    expect(await rows.count()).toBe(1);
    expect(await page.evaluate(() => (window as unknown as { noReload?: boolean }).noReload)).toBe(true);
    for (const t of (await admin.get('/api/tasks?status=pending')).body.items) {
      await admin.post(`/api/tasks/${t.id}/cancel`);
    }
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('cancels a running task from its page', async () => {
    ensureAgent();
    const created = await admin.post('/api/tasks', {
      workspaceId: 'web',
      title: 'Slow one',
      prompt: 'SLOW: take your time',
    });
    expect(created.status).toBe(201);
    const { context, page } = await openPage(chrome.browser);
    await logIn(page, server.url, server.adminKey);
    await page.goto(`${server.url}/tasks/${created.body.id}`);
    await statusBecomes(page, 'running');
    await page.locator('.facts').getByText('browser-test-agent').waitFor();
    await screenshot(page, 'task-running');
    // The agents page counts the run and says the agent runs tasks in its sandbox.
    await page.getByRole('link', { name: 'Agents' }).click();
    const row = page.locator('tr', { hasText: 'browser-test-agent' });
    await row.getByText('1 running', { exact: true }).waitFor();
    await row.getByText('sandboxed', { exact: true }).waitFor();
    await row.getByText('online').waitFor();
    await screenshot(page, 'agents');
    await page.goBack();
    await page.getByRole('button', { name: 'Cancel task' }).click();
    await statusBecomes(page, 'cancelled', 20_000);
    expect((await admin.get(`/api/tasks/${created.body.id}`)).body.status).toBe('cancelled');
    expect(await page.getByRole('button', { name: 'Cancel task' }).count()).toBe(0);
    // Once the run has stopped (its attempt says so, without a reload), Retry puts the task back in the
    // queue and the agent takes it again: a second attempt.
    const attempts = page.getByRole('region', { name: 'Attempts' });
    await attempts.locator('tbody tr .badge', { hasText: 'cancelled' }).waitFor({ timeout: 30_000 });
    expect(await page.getByText('The run is stopping…').count()).toBe(0);
    await page.getByRole('button', { name: 'Retry' }).click();
    await statusBecomes(page, 'running');
    await expect.poll(() => attempts.locator('tbody tr').count(), patiently).toBe(2);
    await page.getByRole('button', { name: 'Cancel task' }).click();
    await statusBecomes(page, 'cancelled', 20_000);
    await context.close();
  });

  it('renders a title made of HTML as text, in the list and on the task page', async () => {
    const created = await admin.post('/api/tasks', {
      workspaceId: 'web',
      title: xss,
      prompt: `Prompt ${xss}`,
    });
    expect(created.status).toBe(201);
    await admin.post(`/api/tasks/${created.body.id}/cancel`);
    const { context, page, dialogs, pageErrors } = await openPage(chrome.browser);
    await logIn(page, server.url, server.adminKey);
    await page.getByRole('link', { name: xss }).waitFor();
    expect(await page.locator('main img').count()).toBe(0);
    await screenshot(page, 'tasks-list');
    await page.getByRole('link', { name: xss }).click();
    await page.getByRole('heading', { name: xss }).waitFor();
    expect(await page.locator('main img').count()).toBe(0);
    await page.setViewportSize(phone);
    await page.goto(`${server.url}/tasks`);
    await page.getByRole('link', { name: xss }).waitFor();
    await screenshot(page, 'tasks-list-phone');
    expect(dialogs).toEqual([]);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('shows a run’s figures, events and pull request as its agent reports them, without a reload', async () => {
    const created = await admin.post('/api/tasks', {
      workspaceId: 'web',
      title: 'Reported by hand',
      prompt: 'x',
      requiredCapabilities: ['by-hand'],
    });
    const { context, page, pageErrors } = await openPage(chrome.browser);
    await logIn(page, server.url, server.adminKey);
    await page.goto(`${server.url}/tasks/${created.body.id}`);
    await statusBecomes(page, 'pending');
    await page.evaluate(() => {
      (window as unknown as { noReload: boolean }).noReload = true;
    });
    // An agent of a service account, driven through the same API every agent uses.
    const svc = await makeAccount(admin, server.url, { name: 'hand-agent', type: 'service' });
    const claim = await svc.api.post('/api/workers/claim', {
      maxTasks: 1,
      agentId: 'hand',
      agentName: 'hand-agent-1',
      authType: 'api',
      capabilities: ['by-hand'],
      sandboxed: false,
    });
    const workerId = claim.body.workers[0].id as string;
    const as = { 'x-buildd-agent-id': 'hand' };
    const patch = (body: unknown) => svc.api.call('PATCH', `/api/workers/${workerId}`, body, as);
    expect(
      (
        await patch({
          status: 'running',
          sandboxed: false,
          turns: 3,
          inputTokens: 1234,
          outputTokens: 56,
          costUsd: 0.5,
          currentAction: 'Editing app.ts',
        })
      ).status,
    ).toBe(200);
    await statusBecomes(page, 'running');
    const facts = page.locator('.facts');
    await facts.getByText('Editing app.ts').waitFor();
    await facts.getByText('1,234 in · 56 out · 0 cached').waitFor();
    await facts.getByText('hand-agent-1 · not sandboxed').waitFor();
    const long = Array.from({ length: 40 }, (_, i) => `line ${i + 1} of a long answer`).join('\n');
    const at = new Date().toISOString();
    await svc.api.call(
      'POST',
      `/api/workers/${workerId}/events`,
      {
        events: [
          { seq: 0, type: 'assistant_text', at, data: { text: long } },
          { seq: 1, type: 'tool_use', at, data: { name: 'Edit', summary: 'app.ts' } },
        ],
      },
      as,
    );
    const log = page.getByRole('log', { name: 'Event log' });
    await log.locator('details.fold', { hasText: 'Show all (40 lines' }).waitFor();
    await log.getByText('Edit', { exact: true }).waitFor();
    // As a real agent does: the figures in the PATCH, and a usage event that the page hears at once.
    await patch({ turns: 5, costUsd: 0.75 });
    await svc.api.call(
      'POST',
      `/api/workers/${workerId}/events`,
      { events: [{ seq: 2, type: 'usage', at, data: { turns: 5, costUsd: 0.75 } }] },
      as,
    );
    await expect.poll(() => facts.textContent(), patiently).toMatch(/Turns\s*5/);
    await expect.poll(() => facts.textContent(), patiently).toMatch(/Cost\$0\.75/);
    const pr = 'https://github.com/acme/web/pull/7';
    await patch({
      status: 'completed',
      summary: 'Edited app.ts.',
      branch: 'buildd/by-hand',
      commitSha: 'a'.repeat(40),
      filesChanged: 1,
      linesAdded: 3,
      linesRemoved: 1,
      prUrl: pr,
    });
    await statusBecomes(page, 'completed');
    await facts.getByRole('link', { name: pr }).waitFor();
    expect(await facts.getByRole('link', { name: pr }).getAttribute('href')).toBe(pr);
    await facts.getByText('1 file, +3 −1').waitFor();
    await page.getByRole('region', { name: 'Summary' }).getByText('Edited app.ts.').waitFor();
    expect(await page.evaluate(() => (window as unknown as { noReload?: boolean }).noReload)).toBe(true);
    // The attempt's own row follows: completed, and nothing "now" any more.
    await page
      .getByRole('region', { name: 'Attempts' })
      .locator('.badge', { hasText: 'completed' })
      .waitFor();
    await expect.poll(() => facts.textContent(), patiently).toMatch(/Now—/);
    await screenshot(page, 'task-reported');
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('keeps a member out of the admin pages', async () => {
    const member = await makeAccount(admin, server.url, { name: 'mia', level: 'member' });
    const { context, page } = await openPage(chrome.browser);
    await logIn(page, server.url, member.key);
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link', { name: 'Accounts' }).count()).toBe(0);
    await page.goto(`${server.url}/accounts`);
    await page.getByRole('alert').getByText('Only an admin account may do this.').waitFor();
    expect(await page.getByText(server.adminKey.slice(0, 16)).count()).toBe(0);
    expect(await page.locator('details.account').count()).toBe(0);
    await screenshot(page, 'member-accounts');
    // Logging out ends the session: the cookie no longer opens anything, and pages go back to the login.
    const cookie = (await context.cookies()).find((c) => c.name === 'buildd_session');
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    const reused = await fetch(`${server.url}/api/me`, {
      headers: { cookie: `buildd_session=${cookie?.value}` },
    });
    expect(reused.status).toBe(401);
    await page.goto(`${server.url}/tasks`);
    await page.getByRole('button', { name: 'Log in' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/login');
    await context.close();
  });

  it('shows the admin pages: accounts with a new key shown once, workspaces, agents, usage', async () => {
    ensureAgent();
    const { context, page, pageErrors } = await openPage(chrome.browser);
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    await logIn(page, server.url, server.adminKey);

    await page.getByRole('link', { name: 'Accounts' }).click();
    await page.getByLabel('Name', { exact: true }).fill('ci-bot');
    await page.getByLabel('Type').selectOption('service');
    await page.getByLabel('Daily cost cap (USD)').fill('5');
    await page.getByRole('button', { name: 'Create account' }).click();
    const shown = page.locator('.newkey pre');
    await shown.waitFor();
    const key = (await shown.textContent()) ?? '';
    expect(key).toMatch(/^buildd_svc_/);
    await page.getByRole('button', { name: 'Copy key' }).click();
    await page.getByRole('button', { name: 'Copied' }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(key);
    await screenshot(page, 'accounts-new-key');
    await page.getByRole('button', { name: 'I have saved it' }).click();
    expect(await page.locator('.newkey').count()).toBe(0);
    // The new key works; revoking it from the page ends it.
    expect((await apiClient(server.url, key).get('/api/me')).status).toBe(200);
    await page.locator('details.account', { hasText: 'ci-bot' }).locator('summary').click();
    await page.getByRole('button', { name: /^Revoke key buildd_svc_/ }).click();
    await page.locator('details.account', { hasText: 'ci-bot' }).getByText('revoked').waitFor();
    expect((await apiClient(server.url, key).get('/api/me')).status).toBe(401);

    await page.getByRole('link', { name: 'Workspaces' }).click();
    await page.getByRole('link', { name: 'New workspace' }).click();
    await page.getByLabel('Name', { exact: true }).fill('restricted-one');
    await page.getByLabel('Repository URL').fill('/srv/git/repo.git');
    await page.getByLabel('Access', { exact: true }).selectOption('restricted');
    await page.getByLabel('Running limit').fill('2');
    await page.getByRole('button', { name: 'Create workspace' }).click();
    await page.getByRole('heading', { name: 'restricted-one' }).waitFor();
    const saved = (await admin.get('/api/workspaces/restricted-one')).body;
    expect(saved).toMatchObject({ access: 'restricted', maxRunningTasks: 2, repoUrl: '/srv/git/repo.git' });
    // The run network allow-list and the GitHub repository.
    await page.getByLabel('Network allowed to runs').fill('registry.npmjs.org, *.github.com');
    await page.getByLabel('GitHub repository').fill('acme/web');
    await page.getByLabel('Default branch').fill('trunk');
    await page.getByLabel('Model').fill('claude-haiku-4-5');
    await page.getByLabel('Max turns').fill('20');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    expect((await admin.get('/api/workspaces/restricted-one')).body).toMatchObject({
      defaultBranch: 'trunk',
      config: {
        allowedDomains: ['registry.npmjs.org', '*.github.com'],
        githubRepo: 'acme/web',
        model: 'claude-haiku-4-5',
        maxTurns: 20,
      },
    });
    // The GitHub token is write-only: set through the form, the page says "set" and never holds it.
    const ghToken = 'ghp_DashboardFormToken0123456789abcdef';
    const storedToken = async () => {
      const rows = await server.db.query<{ sealed: string | null }>(
        'SELECT github_token_sealed AS sealed FROM workspaces WHERE id = $1',
        [saved.id],
      );
      return rows[0]!.sealed === null ? null : secretKeys.open(rows[0]!.sealed);
    };
    const tokenField = page.getByLabel('GitHub token', { exact: true });
    await page.getByText('GitHub token: not set', { exact: true }).waitFor();
    expect(await tokenField.getAttribute('type')).toBe('password');
    await tokenField.fill(ghToken);
    const patched = page.waitForResponse(
      (r) => r.url().endsWith(`/api/workspaces/${saved.id}`) && r.request().method() === 'PATCH',
    );
    await page.getByRole('button', { name: 'Save' }).click();
    const answer = await (await patched).text();
    expect(JSON.parse(answer)).toMatchObject({ hasGithubToken: true });
    expect(answer).not.toContain(ghToken);
    await page.getByText('GitHub token: set', { exact: true }).waitFor();
    expect(await tokenField.inputValue()).toBe('');
    expect(await page.content()).not.toContain(ghToken);
    expect(await storedToken()).toBe(ghToken);
    const withToken = await admin.get('/api/workspaces/restricted-one');
    expect(withToken.body).toMatchObject({ hasGithubToken: true, config: { githubRepo: 'acme/web' } });
    expect(JSON.stringify(withToken.body)).not.toContain(ghToken);
    // Saving other fields with the token field empty keeps the token.
    await page.getByLabel('Max turns').fill('21');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect
      .poll(async () => (await admin.get('/api/workspaces/restricted-one')).body.config.maxTurns, patiently)
      .toBe(21);
    expect(await storedToken()).toBe(ghToken);
    await page.reload();
    await page.getByText('GitHub token: set', { exact: true }).waitFor();
    expect(await page.content()).not.toContain(ghToken);
    // "Remove token" clears it.
    await page.getByLabel('Remove token').check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('GitHub token: not set', { exact: true }).waitFor();
    expect(await storedToken()).toBeNull();
    expect((await admin.get('/api/workspaces/restricted-one')).body.hasGithubToken).toBe(false);
    await page.getByLabel('Grant an account').selectOption({ label: 'mia (user)' });
    await page.getByRole('button', { name: 'Add with claim and create' }).click();
    await page.getByLabel('mia can create').waitFor();
    await page.getByLabel('mia can create').uncheck();
    await expect
      .poll(async () => (await admin.get(`/api/workspaces/${saved.id}/members`)).body.items[0], patiently)
      .toMatchObject({ canClaim: true, canCreate: false });
    // Webhooks: a secret too short gets the API's sentence; a good one is listed, with its delivery log.
    const hooks = page.getByRole('form', { name: 'Add a webhook' });
    await hooks.getByLabel('URL').fill(hookUrl);
    await hooks.getByLabel('Secret').fill('short');
    const refused = page.waitForResponse(
      (r) => r.url().endsWith('/webhooks') && r.request().method() === 'POST',
    );
    await hooks.getByRole('button', { name: 'Add webhook' }).click();
    const sentence = ((await (await refused).json()) as { error: { message: string } }).error.message;
    await page.getByRole('alert').getByText(sentence, { exact: true }).waitFor();
    await hooks.getByLabel('Secret').fill('a-secret-of-thirty-two-characters');
    await hooks.getByRole('button', { name: 'Add webhook' }).click();
    await page.locator('.hooks li', { hasText: hookUrl }).waitFor();
    await page.locator('.hooks li', { hasText: hookUrl }).getByText('Delivery log').click();
    await page.getByText('Nothing delivered yet.').waitFor();
    await screenshot(page, 'workspace');

    // The daily cap, set on the accounts page, is the line the usage chart draws.
    await page.getByRole('link', { name: 'Accounts' }).click();
    const mine = page.locator('details.account', { hasText: '(you)' });
    await mine.locator('summary').click();
    await mine.getByLabel('Daily cap (USD)').fill('0.02');
    await mine.getByRole('button', { name: 'Save limits' }).click();
    await mine.getByText('cap $0.02 a day').waitFor();
    await page.getByRole('link', { name: 'Usage' }).click();
    const chart = page.locator('figure.chart', { hasText: 'admin' });
    await chart.getByText('cap $0.02 a day').waitFor();
    // The completed run's cost is today's bar, and the table beside it.
    await chart
      .getByRole('cell', { name: /^\$0\.0*[1-9]/ })
      .first()
      .waitFor();
    expect(await chart.locator('line.cap').count()).toBe(1);
    expect(await chart.locator('rect.bar').count()).toBe(30);
    await screenshot(page, 'usage');
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('shows the diff the run wrote, file by file, and its artifacts to download', async () => {
    const done = (await admin.get('/api/tasks?status=completed')).body.items.find(
      (t: { title: string }) => t.title === 'Write hello.txt',
    );
    expect(done).toBeDefined();
    const { context, page, pageErrors } = await openPage(chrome.browser);
    await logIn(page, server.url, server.adminKey);
    await page.goto(`${server.url}/tasks/${done.id}`);
    await page.getByRole('link', { name: 'Review changes' }).click();
    await page.getByRole('heading', { name: 'Review' }).waitFor();
    const file = page.locator('details.file', { hasText: 'hello.txt' });
    await file.waitFor();
    expect(await file.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
    await file.locator('.diff-add', { hasText: '+hello from the dashboard' }).waitFor();
    await file.locator('.plus', { hasText: '+1' }).waitFor();
    // The artifact link downloads the diff, with the session cookie.
    const link = page.getByRole('link', { name: 'diff', exact: true });
    const download = page.waitForEvent('download');
    await link.click();
    const saved = await (await download).path();
    expect(readFileSync(saved, 'utf8')).toContain('+hello from the dashboard');
    await screenshot(page, 'review');
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('sends a follow-up to a completed task: a new attempt on the same branch, watched live', async () => {
    ensureAgent();
    const done = (await admin.get('/api/tasks?status=completed')).body.items.find(
      (t: { title: string }) => t.title === 'Write hello.txt',
    );
    const { context, page, pageErrors } = await openPage(chrome.browser);
    await logIn(page, server.url, server.adminKey);
    await page.goto(`${server.url}/tasks/${done.id}`);
    await statusBecomes(page, 'completed');
    const follow = page.getByRole('form', { name: 'Follow up' });
    await follow.getByLabel('Message').fill('Please say it once more.');
    await follow.getByRole('button', { name: 'Send' }).click();
    // The task is pending until an agent takes the new attempt: the page still says the message went.
    await page
      .getByRole('status')
      .filter({ hasText: /^Sent\./ })
      .waitFor();
    const attempts = page.getByRole('region', { name: 'Attempts' }).locator('tbody tr');
    await expect.poll(() => attempts.count(), patiently).toBe(2);
    await statusBecomes(page, 'completed', 90_000);
    await attempts.nth(1).locator('.badge', { hasText: 'completed' }).waitFor({ timeout: 30_000 });
    const after = (await admin.get(`/api/tasks/${done.id}`)).body;
    expect(after.workers[1].branch).toBe(done.result.branch);
    const asked = anthropic.requests.filter((r) =>
      JSON.stringify(r.body).includes('Please say it once more.'),
    );
    expect(asked.length).toBeGreaterThan(0);
    expect(pageErrors).toEqual([]);
    await context.close();
  });

  it('answers a question: the page shows it live, the run continues with the answer and completes', async () => {
    ensureAgent();
    const web = (await admin.get('/api/workspaces/web')).body;
    const hook = await admin.post(`/api/workspaces/${web.id}/webhooks`, {
      url: hookUrl,
      secret: 'a-secret-of-thirty-two-characters',
    });
    expect(hook.status).toBe(201);
    const { context, page, pageErrors } = await openPage(chrome.browser);
    await logIn(page, server.url, server.adminKey);
    await page.getByRole('link', { name: 'New task' }).click();
    await page.getByLabel('Workspace').selectOption({ label: `web — ${origin.url}` });
    await page.getByLabel('Title').fill('Ask me');
    await page.getByLabel('Prompt').fill('ASK: which colour should the palette be?');
    await page.getByRole('button', { name: 'Create task' }).click();
    await page.getByRole('heading', { name: 'Ask me' }).waitFor();
    await page.evaluate(() => {
      (window as unknown as { noReload: boolean }).noReload = true;
    });
    const id = new URL(page.url()).pathname.split('/')[2] ?? '';

    await statusBecomes(page, 'waiting input', 90_000);
    const asked = page.getByRole('region', { name: 'The run asks' });
    await asked.getByText('Which colour?').waitFor();
    await asked.getByRole('button', { name: 'blue' }).waitFor();
    await asked.getByRole('button', { name: 'red' }).waitFor();
    // Eighty lines of command output came before the question: folded behind their first lines.
    const log = page.getByRole('log', { name: 'Event log' });
    const folded = log.locator('details.fold', { hasText: /Show the whole result \(8[01] lines/ });
    await folded.waitFor();
    expect(await folded.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
    await screenshot(page, 'task-question');
    await page.setViewportSize(phone);
    await screenshot(page, 'task-question-phone');
    await page.setViewportSize(laptop);
    await folded.locator('summary').click();
    const whole = folded.locator(':scope > pre.text');
    await whole.waitFor();
    expect(await whole.textContent()).toMatch(/^1\n2\n[\s\S]*\n79\n80\n?$/);
    // Waiting for an answer, the page offers the answer, not a follow-up.
    expect(await page.getByRole('form', { name: 'Follow up' }).count()).toBe(0);

    const before = anthropic.requests.length;
    await asked.getByLabel('Your answer').fill('blue, like the sea');
    await asked.getByRole('button', { name: 'Send answer' }).click();
    await asked.waitFor({ state: 'detached', timeout: 30_000 });
    await statusBecomes(page, 'completed', 90_000);
    await log.getByText('Painted it blue.').waitFor();
    expect(await page.evaluate(() => (window as unknown as { noReload?: boolean }).noReload)).toBe(true);
    // The same session went on, with the answer as the question tool's result.
    const next = anthropic.requests[before];
    expect(next?.sessionId).toBe(
      anthropic.requests.find((r) => JSON.stringify(r.body).includes('ASK:'))?.sessionId,
    );
    expect(JSON.stringify(next?.body.messages)).toContain('blue, like the sea');
    const done = (await admin.get(`/api/tasks/${id}`)).body;
    expect(origin.readFile(done.result.branch, 'palette.txt')).toBe(palette);

    // The review folds the long file it wrote; its header still says what changed.
    await page.getByRole('link', { name: 'Review changes' }).click();
    const file = page.locator('details.file', { hasText: 'palette.txt' });
    await file.getByText('long file, folded').waitFor();
    await file.getByText('+260').waitFor();
    expect(await file.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(false);
    await file.locator('summary').press('Enter');
    await file.locator('.diff-add', { hasText: '+colour 260' }).waitFor();
    await screenshot(page, 'review-long-file');

    // The workspace's webhook heard the question and the completion; its delivery log says so.
    await expect
      .poll(() => hookDeliveries.filter((b) => b.includes(id)).length, { timeout: 60_000 })
      .toBeGreaterThanOrEqual(2);
    await page.goto(`${server.url}/workspaces/${web.id}`);
    const hookItem = page.locator('.hooks li', { hasText: hookUrl });
    await hookItem.getByText('Delivery log').click();
    await hookItem.getByRole('cell', { name: 'task.waiting_input' }).first().waitFor();
    await hookItem.getByRole('cell', { name: 'task.completed' }).first().waitFor();
    expect(await hookItem.getByRole('cell', { name: /^HTTP 200 in \d+ ms$/ }).count()).toBeGreaterThanOrEqual(
      2,
    );
    // A test delivery from the page reaches the receiver and shows in the log.
    const heard = hookDeliveries.length;
    await hookItem.getByRole('button', { name: 'Send a test delivery' }).click();
    await expect.poll(() => hookDeliveries.length, { timeout: 30_000 }).toBeGreaterThan(heard);
    await expect
      .poll(
        async () => {
          await hookItem.getByRole('button', { name: 'Refresh' }).click();
          return hookItem.locator('tr', { hasText: 'ping' }).textContent();
        },
        { timeout: 30_000 },
      )
      .toMatch(/delivered.*HTTP 200/);
    await screenshot(page, 'workspace-deliveries');
    expect(pageErrors).toEqual([]);
    await context.close();
  });
  it('works from the keyboard, and every control has a label a screen reader reads', async () => {
    const { context, page } = await openPage(chrome.browser);
    await logIn(page, server.url, server.adminKey);
    await page.goto(`${server.url}/tasks`);
    await page.getByRole('heading', { name: 'Tasks' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('main');
    // Tab reaches "New task"; Enter follows it.
    for (let i = 0; i < 30; i++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate(() => document.activeElement?.textContent)) === 'New task') break;
    }
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'New task' }).waitFor();
    for (const path of [
      '/tasks',
      '/tasks/new',
      '/accounts',
      '/workspaces/new',
      '/workspaces/web',
      '/usage',
    ]) {
      await page.goto(`${server.url}${path}`);
      await page.locator('main h1').waitFor();
      await page.waitForLoadState('networkidle');
      const unlabelled = await page.evaluate(() =>
        [...document.querySelectorAll('input, select, textarea, button, a[href]')]
          .filter((el) => {
            const c = el as HTMLInputElement;
            const named =
              (c.labels?.length ?? 0) > 0 ||
              c.getAttribute('aria-label') ||
              c.getAttribute('aria-labelledby') ||
              (c.textContent ?? '').trim();
            return !named && c.type !== 'hidden';
          })
          .map((el) => el.outerHTML.slice(0, 120)),
      );
      expect(unlabelled, path).toEqual([]);
    }
    await context.close();
  });

  it('fits a phone: no page scrolls sideways', async () => {
    const done = (await admin.get('/api/tasks?status=completed')).body.items[0];
    const web = (await admin.get('/api/workspaces/web')).body;
    const { context, page, pageErrors } = await openPage(chrome.browser, phone);
    await logIn(page, server.url, server.adminKey);
    const pages: [string, string][] = [
      ['/tasks', 'tasks'],
      ['/tasks/new', 'new-task'],
      [`/tasks/${done.id}`, 'task'],
      [`/tasks/${done.id}/review`, 'review'],
      ['/agents', 'agents'],
      ['/workspaces', 'workspaces'],
      [`/workspaces/${web.id}`, 'workspace'],
      ['/accounts', 'accounts'],
      ['/usage', 'usage'],
    ];
    for (const [path, name] of pages) {
      await page.goto(`${server.url}${path}`);
      await page.locator('main h1').waitFor();
      await page.waitForLoadState('networkidle');
      await screenshot(page, `phone-${name}`);
      const wide = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
      expect(wide, `${path} is wider than the phone`).toBeLessThanOrEqual(0);
    }
    expect(pageErrors).toEqual([]);
    await context.close();
  });
});
