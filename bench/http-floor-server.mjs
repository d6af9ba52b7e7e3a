// The HTTP floor's server (bench/http-floor.ts): buildd's three lifecycle calls answered by the same stack
// (@hono/node-server, Hono's router, JSON in and out) with canned answers of buildd's size, and nothing else:
// no authentication, no validation, no database. Prints its port on stdout.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';

const task = {
  id: 'task_0123456789abcdef',
  workspaceId: 'ws-0123456789ab',
  title: 't1',
  prompt: 'p',
  priority: 0,
  status: 'assigned',
  runnerPreference: 'any',
  requiredCapabilities: [],
  dependsOn: [],
  maxAttempts: 3,
  attempts: 1,
  budgetUsd: null,
  maxTurns: null,
  model: null,
  result: null,
  error: null,
  exitCause: null,
  createdBy: 'acc_0123456789abcdef',
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
  startedAt: new Date().toISOString(),
  finishedAt: null,
};
const workspace = {
  id: 'ws-0123456789ab',
  name: 'bench',
  repoUrl: null,
  defaultBranch: 'main',
  access: 'open',
  maxRunningTasks: null,
  config: {},
  createdAt: new Date().toISOString(),
};
const worker = {
  id: 'wkr_0123456789abcdef',
  taskId: task.id,
  accountId: task.createdBy,
  agentId: 'bench-1',
  status: 'running',
  authType: 'api',
  branch: 'buildd/task_0123456789abcdef-1',
  workspaceId: workspace.id,
  leaseExpiresAt: new Date().toISOString(),
  currentAction: null,
  turns: 0,
  inputTokens: 0,
  outputTokens: 0,
  cacheReadTokens: 0,
  costUsd: 0,
  summary: null,
  error: null,
  exitCause: null,
  commitSha: null,
  filesChanged: null,
  linesAdded: null,
  linesRemoved: null,
  prUrl: null,
  createdAt: new Date().toISOString(),
  startedAt: new Date().toISOString(),
  finishedAt: null,
};

const app = new Hono();
app.post('/api/workers/claim', async (c) => {
  await c.req.json();
  return c.json({
    workers: [
      {
        id: worker.id,
        taskId: task.id,
        task,
        workspace,
        branch: worker.branch,
        leaseExpiresAt: worker.leaseExpiresAt,
        leaseSeconds: 60,
        renewSeconds: 15,
      },
    ],
  });
});
app.patch('/api/workers/:id', async (c) => {
  await c.req.json();
  return c.json({ abort: false, worker: { ...worker, id: c.req.param('id') } });
});
const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
  process.stdout.write(`${info.port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
