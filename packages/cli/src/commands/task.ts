import { readFile } from 'node:fs/promises';
import type { Task, TaskWithWorkers, WorkerEvent, Workspace } from '@buildd/protocol';
import { type Command, Option } from 'commander';
import { amountArg, collect, intArg } from '../args.ts';
import type { ApiClient } from '../client.ts';
import { action, type Ctx } from '../context.ts';
import { CliError, exitCodes, usageError } from '../exit-codes.ts';
import { eventText, statusText, totalsText } from '../format.ts';
import { age, details, table, usd } from '../output.ts';
import { taskFollowCommands, watchTask } from './task-follow.ts';
import { taskReviewCommands } from './task-review.ts';

interface CreateOptions {
  file?: string;
  workspace?: string;
  title?: string;
  priority?: number;
  runner?: string;
  capability?: string[];
  dependsOn?: string[];
  maxAttempts?: number;
  budget?: number;
  maxTurns?: number;
  model?: string;
  wait?: boolean;
  timeout?: number;
  quiet?: boolean;
}

/** Which flag sets each field of the task body, so a refused value names the flag at fault. */
const flagOf: Record<string, string> = {
  workspaceId: '--workspace',
  title: '--title',
  prompt: 'The prompt',
  priority: '--priority',
  runnerPreference: '--runner',
  requiredCapabilities: '--capability',
  dependsOn: '--depends-on',
  maxAttempts: '--max-attempts',
  budgetUsd: '--budget',
  maxTurns: '--max-turns',
  model: '--model',
};

/** `buildd task …`. */
export function taskCommands(program: Command): void {
  const task = program.command('task').description('create, list, follow and change tasks');

  task
    .command('create')
    .description('create a task; the prompt comes from the arguments, a file (-f) or stdin')
    .argument('[prompt...]', 'what the agent should do')
    .option('-f, --file <path>', 'read the prompt from a file ("-" for stdin)')
    .option('-w, --workspace <id|name>', 'workspace (default: BUILDD_WORKSPACE, or the only one you can see)')
    .option('-t, --title <title>', 'title (default: the first line of the prompt)')
    .option('-p, --priority <n>', 'higher runs first (-1000…1000, default 0)', intArg)
    .addOption(
      new Option('--runner <type>', 'which kind of account may run it').choices([
        'any',
        'user',
        'service',
        'action',
      ]),
    )
    .option('-c, --capability <cap>', 'a capability the agent must offer (repeatable)', collect)
    .option('--depends-on <task>', 'a task that must complete first (repeatable)', collect)
    .option('--max-attempts <n>', 'attempts before it fails (default 3)', intArg)
    .option('--budget <usd>', 'most the run may cost, in dollars', amountArg)
    .option('--max-turns <n>', 'most model turns of a run', intArg)
    .option('--model <model>', 'Claude model (default: the workspace or agent default)')
    .option('--wait', 'then follow it like `buildd task watch` (exit code as watch)')
    .option('--timeout <seconds>', 'with --wait: give up after this long (exit 124)', amountArg)
    .option('-q, --quiet', 'print only the task id')
    .action(
      action(async (ctx, words: string[], opts: CreateOptions) => {
        const client = await ctx.client();
        const prompt = await readPrompt(words, opts.file);
        const workspaceId = opts.workspace || ctx.env.BUILDD_WORKSPACE || (await onlyWorkspace(client));
        const body = {
          workspaceId,
          title: opts.title ?? titleOf(prompt),
          prompt,
          priority: opts.priority,
          runnerPreference: opts.runner,
          requiredCapabilities: opts.capability,
          dependsOn: opts.dependsOn,
          maxAttempts: opts.maxAttempts,
          budgetUsd: opts.budget,
          maxTurns: opts.maxTurns,
          model: opts.model,
        };
        const { CreateTaskBody } = await import('@buildd/protocol');
        const parsed = CreateTaskBody.safeParse(body);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          const field = String(issue.path[0] ?? '');
          throw usageError(`${flagOf[field] ?? field}: ${issue.message}.`);
        }
        const created = await client.post<Task>('/api/tasks', parsed.data);
        if (opts.wait) {
          if (!ctx.out.json && !opts.quiet) ctx.out.note(`Created task ${created.id}; following it.`);
          return watchTask(ctx, client, created.id, { timeout: opts.timeout });
        }
        if (ctx.out.json) ctx.out.printJson(created);
        else if (opts.quiet) ctx.out.line(created.id);
        else {
          ctx.out.line(`Created task ${created.id} in ${workspaceId} (${created.status}).`);
          ctx.out.line(ctx.out.style.dim(`Follow it: buildd task watch ${created.id}`));
        }
        return 0;
      }),
    );

  task
    .command('list')
    .description('list tasks you can see, newest first')
    .option('-w, --workspace <id|name>', 'only this workspace')
    .addOption(
      new Option('-s, --status <status>', 'only this status').choices([
        'pending',
        'assigned',
        'running',
        'waiting_input',
        'completed',
        'failed',
        'cancelled',
      ]),
    )
    .option('-n, --limit <n>', 'how many (default 50)', intArg)
    .option('--cursor <cursor>', 'the next page (from --json "nextCursor")')
    .action(
      action(async (ctx, opts: { workspace?: string; status?: string; limit?: number; cursor?: string }) => {
        const client = await ctx.client();
        const page = await client.get<{ items: Task[]; nextCursor: string | null }>('/api/tasks', {
          query: {
            workspaceId: opts.workspace,
            status: opts.status,
            limit: opts.limit ?? 50,
            cursor: opts.cursor,
          },
        });
        if (ctx.out.json) {
          ctx.out.printJson(page);
          return 0;
        }
        const names = await workspaceNames(client);
        const s = ctx.out.style;
        ctx.out.line(
          table(
            page.items,
            [
              { header: 'ID', value: (t) => t.id },
              { header: 'STATUS', value: (t) => statusText(t.status, s) },
              { header: 'PRI', value: (t) => String(t.priority), right: true },
              { header: 'WORKSPACE', value: (t) => names.get(t.workspaceId) ?? t.workspaceId, max: 24 },
              { header: 'AGE', value: (t) => age(t.createdAt), right: true },
              { header: 'COST', value: (t) => usd(t.costUsd), right: true },
              { header: 'TITLE', value: (t) => t.title, max: 60 },
            ],
            'No tasks.',
          ),
        );
        if (page.nextCursor) ctx.out.line(s.dim(`More: buildd task list --cursor ${page.nextCursor}`));
        return 0;
      }),
    );

  task
    .command('show')
    .description('a task with its result, its workers and its latest events')
    .argument('<id>', 'task id')
    .option('--events <n>', 'how many of the latest events to show (default 10)', intArg)
    .action(
      action(async (ctx, id: string, opts: { events?: number }) => {
        const client = await ctx.client();
        const t = await client.get<TaskWithWorkers>(`/api/tasks/${encodeURIComponent(id)}`);
        if (ctx.out.json) {
          ctx.out.printJson(t);
          return 0;
        }
        const events = await latestEvents(client, t.id, opts.events ?? 10);
        printTask(ctx, t, events, (await workspaceNames(client)).get(t.workspaceId));
        return 0;
      }),
    );

  for (const verb of ['cancel', 'retry'] as const) {
    task
      .command(verb)
      .description(
        verb === 'cancel'
          ? 'cancel a task (a running agent stops it)'
          : 'run a failed or cancelled task again',
      )
      .argument('<id>', 'task id')
      .action(
        action(async (ctx, id: string) => {
          const client = await ctx.client();
          const t = await client.post<Task>(`/api/tasks/${encodeURIComponent(id)}/${verb}`);
          if (ctx.out.json) ctx.out.printJson(t);
          else ctx.out.line(`Task ${t.id} is ${statusText(t.status, ctx.out.style)}.`);
          return 0;
        }),
      );
  }

  taskFollowCommands(task);
  taskReviewCommands(task);
}

/** The prompt from the arguments, a file, or stdin when it is piped. */
async function readPrompt(words: string[], file: string | undefined): Promise<string> {
  if (file !== undefined && words.length > 0)
    throw usageError('Give the prompt as arguments or with --file, not both.');
  if (file !== undefined && file !== '-') {
    try {
      return await readFile(file, 'utf8');
    } catch (error) {
      throw usageError(
        `--file: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
      );
    }
  }
  if (words.length > 0) return words.join(' ');
  if (file === '-' || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    if (text.trim() !== '') return text;
  }
  throw usageError('No prompt: pass it as arguments, with --file <path>, or on stdin.');
}

/** A title from the prompt's first non-empty line. */
function titleOf(prompt: string): string {
  const line = prompt.split('\n').find((l) => l.trim() !== '') ?? prompt;
  const trimmed = line.trim();
  return trimmed.length > 80 ? `${trimmed.slice(0, 79)}…` : trimmed;
}

/** The one workspace the account can see, when there is exactly one. */
async function onlyWorkspace(client: ApiClient): Promise<string> {
  const { items } = await client.get<{ items: Workspace[] }>('/api/workspaces', { query: { limit: 2 } });
  if (items.length === 1) return items[0]!.id;
  throw usageError(
    items.length === 0
      ? 'You can see no workspace: an admin creates one with `buildd workspace create <name>`.'
      : 'Which workspace? Pass --workspace <id|name> or set BUILDD_WORKSPACE (`buildd workspace list` shows them).',
  );
}

/** Workspace id → name, for tables. */
export async function workspaceNames(client: ApiClient): Promise<Map<string, string>> {
  const names = new Map<string, string>();
  try {
    const { items } = await client.get<{ items: Workspace[] }>('/api/workspaces', { query: { limit: 500 } });
    for (const w of items) names.set(w.id, w.name);
  } catch (error) {
    if (!(error instanceof CliError) || error.exitCode !== exitCodes.refused) throw error;
  }
  return names;
}

/** The last `n` events of a task (pages through from the start; event logs are short). */
export async function latestEvents(client: ApiClient, taskId: string, n: number): Promise<WorkerEvent[]> {
  if (n <= 0) return [];
  const all: WorkerEvent[] = [];
  let cursor: string | null = '0';
  while (cursor !== null) {
    const page: { items: WorkerEvent[]; nextCursor: string | null } = await client.get(
      `/api/tasks/${encodeURIComponent(taskId)}/events`,
      { query: { after: cursor, limit: 500 } },
    );
    all.push(...page.items);
    if (all.length > n) all.splice(0, all.length - n);
    cursor = page.nextCursor;
  }
  return all;
}

function printTask(ctx: Ctx, t: TaskWithWorkers, events: WorkerEvent[], workspaceName: string | undefined) {
  const s = ctx.out.style;
  const r = t.result;
  ctx.out.line(`${s.bold(`Task ${t.id}`)}  ${statusText(t.status, s)}`);
  ctx.out.line(
    details([
      ['Title', t.title],
      ['Workspace', workspaceName ? `${workspaceName} (${t.workspaceId})` : t.workspaceId],
      [
        'Priority',
        `${t.priority} · runner ${t.runnerPreference} · attempt ${t.attempts} of ${t.maxAttempts}`,
      ],
      ['Needs', t.requiredCapabilities.join(', ')],
      ['After', t.dependsOn.join(', ')],
      [
        'Limits',
        [
          t.model && `model ${t.model}`,
          t.maxTurns && `${t.maxTurns} turns`,
          t.budgetUsd && `budget ${usd(t.budgetUsd)}`,
        ]
          .filter(Boolean)
          .join(', '),
      ],
      ['Created', `${t.createdAt} (${age(t.createdAt)} ago) by ${t.createdBy}`],
      ['Finished', t.finishedAt],
      ['Cost', usd(t.costUsd)],
      ['Summary', r?.summary],
      ['Branch', r?.branch ? `${r.branch}${r.commitSha ? ` @ ${r.commitSha.slice(0, 10)}` : ''}` : null],
      [
        'Changes',
        r && r.filesChanged !== null
          ? `${r.filesChanged} files (+${r.linesAdded ?? 0} −${r.linesRemoved ?? 0})`
          : null,
      ],
      ['PR', r?.prUrl],
      ['Error', t.error ? `${t.error}${t.exitCause ? ` (${t.exitCause})` : ''}` : null],
    ]),
  );
  if (t.workers.length > 0) {
    ctx.out.line();
    ctx.out.line(
      table(t.workers, [
        { header: 'WORKER', value: (w) => w.id },
        { header: 'STATUS', value: (w) => w.status },
        { header: 'AGENT', value: (w) => w.agentId, max: 24 },
        { header: 'AUTH', value: (w) => w.authType ?? 'legacy' },
        { header: 'TOTALS', value: (w) => totalsText(w) },
        { header: 'EXIT', value: (w) => w.exitCause ?? '' },
      ]),
    );
  }
  const lines = events.map((e) => eventText(e, s)).filter((l): l is string => l !== null);
  if (lines.length > 0) {
    ctx.out.line();
    ctx.out.line(s.bold('Latest events'));
    ctx.out.line(lines.join('\n'));
  }
}
