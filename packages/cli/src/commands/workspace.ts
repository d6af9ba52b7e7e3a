import type { Workspace, WorkspaceMember } from '@buildd/protocol';
import { type Command, Option } from 'commander';
import { amountArg, collect, intArg } from '../args.ts';
import { action } from '../context.ts';
import { usageError } from '../exit-codes.ts';
import { details, table, usd } from '../output.ts';
import { readSecretFromStdin } from '../prompt.ts';
import { githubTokenText, workspaceGithubCommand } from './workspace-github.ts';

interface CreateOptions {
  repo?: string;
  branch?: string;
  access?: 'open' | 'restricted';
  maxRunning?: number;
  model?: string;
  maxTurns?: number;
  budget?: number;
  branchPrefix?: string;
  instructions?: string;
  push?: boolean;
}

interface Webhook {
  id: string;
  url: string;
  events?: string[];
  createdAt?: string;
}

const ws = (id: string) => `/api/workspaces/${encodeURIComponent(id)}`;

/** `buildd workspace …`. */
export function workspaceCommands(program: Command): void {
  const workspace = program
    .command('workspace')
    .description('workspaces (one repository each) and who may use them');

  workspace
    .command('create')
    .description('create a workspace (admin)')
    .argument('<name>', 'name (letters, digits, ".", "_", "-")')
    .option('--repo <url>', 'git repository the agents clone (none: tasks run in a scratch directory)')
    .option('--branch <branch>', 'default branch (default main)')
    .addOption(
      new Option('--access <access>', 'open: every account; restricted: only granted members').choices([
        'open',
        'restricted',
      ]),
    )
    .option('--max-running <n>', 'most tasks of this workspace running at once', intArg)
    .option('--model <model>', 'default Claude model of its tasks')
    .option('--max-turns <n>', 'default turns per run', intArg)
    .option('--budget <usd>', 'default budget per run, in dollars', amountArg)
    .option('--branch-prefix <prefix>', 'prefix of task branches (default buildd/)')
    .option('--instructions <text>', 'extra instructions for every run')
    .option('--no-push', 'agents do not push task branches to origin')
    .action(
      action(async (ctx, name: string, opts: CreateOptions) => {
        const config = {
          model: opts.model,
          maxTurns: opts.maxTurns,
          budgetUsd: opts.budget,
          branchPrefix: opts.branchPrefix,
          instructions: opts.instructions,
          ...(opts.push === false ? { push: false } : {}),
        };
        const body = {
          name,
          repoUrl: opts.repo,
          defaultBranch: opts.branch,
          access: opts.access,
          maxRunningTasks: opts.maxRunning,
          config: Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)),
        };
        const { CreateWorkspaceBody } = await import('@buildd/protocol');
        const parsed = CreateWorkspaceBody.safeParse(body);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          throw usageError(`${issue.path.join('.') || 'name'}: ${issue.message}.`);
        }
        const created = await (await ctx.client()).post<Workspace>('/api/workspaces', parsed.data);
        if (ctx.out.json) ctx.out.printJson(created);
        else ctx.out.line(`Created workspace ${created.name} (${created.id}, ${created.access}).`);
        return 0;
      }),
    );

  workspace
    .command('list')
    .description('workspaces you can see')
    .action(
      action(async (ctx) => {
        const page = await (await ctx.client()).get<{ items: Workspace[] }>('/api/workspaces', {
          query: { limit: 500 },
        });
        if (ctx.out.json) ctx.out.printJson(page);
        else
          ctx.out.line(
            table(
              page.items,
              [
                { header: 'ID', value: (w) => w.id },
                { header: 'NAME', value: (w) => w.name },
                { header: 'ACCESS', value: (w) => w.access },
                { header: 'BRANCH', value: (w) => w.defaultBranch },
                { header: 'REPO', value: (w) => w.repoUrl ?? '(scratch dir)', max: 60 },
                { header: 'GITHUB', value: (w) => w.config.githubRepo ?? '-', max: 40 },
                // Whether a token is set, never the token (the API does not return it).
                { header: 'TOKEN', value: (w) => githubTokenText(w) ?? '-' },
              ],
              'No workspaces.',
            ),
          );
        return 0;
      }),
    );

  workspace
    .command('show')
    .description('one workspace and its task defaults')
    .argument('<id|name>', 'workspace')
    .action(
      action(async (ctx, id: string) => {
        const w = await (await ctx.client()).get<Workspace>(ws(id));
        if (ctx.out.json) {
          ctx.out.printJson(w);
          return 0;
        }
        const c = w.config;
        ctx.out.line(
          details([
            ['Workspace', `${w.name} (${w.id})`],
            ['Repository', w.repoUrl ?? '(none: tasks run in a scratch directory)'],
            ['Branch', w.defaultBranch],
            ['Access', w.access],
            [
              'Running',
              w.maxRunningTasks === null ? 'no limit of its own' : `at most ${w.maxRunningTasks} at once`,
            ],
            ['Model', c.model],
            ['Turns', c.maxTurns === undefined ? undefined : String(c.maxTurns)],
            ['Budget', c.budgetUsd === undefined ? undefined : usd(c.budgetUsd)],
            ['Prefix', c.branchPrefix],
            ['Push', c.push === false ? 'no' : undefined],
            ['GitHub', c.githubRepo],
            ['GitHub token', githubTokenText(w)],
            ['Notes', c.instructions],
            ['Created', w.createdAt],
          ]),
        );
        return 0;
      }),
    );

  workspaceGithubCommand(workspace);

  workspace
    .command('members')
    .description('grants of a restricted workspace (admin)')
    .argument('<id|name>', 'workspace')
    .action(
      action(async (ctx, id: string) => {
        const page = await (await ctx.client()).get<{ items: WorkspaceMember[] }>(`${ws(id)}/members`);
        if (ctx.out.json) ctx.out.printJson(page);
        else
          ctx.out.line(
            table(
              page.items,
              [
                { header: 'ACCOUNT', value: (m) => m.accountId },
                { header: 'CLAIM', value: (m) => (m.canClaim ? 'yes' : 'no') },
                { header: 'CREATE', value: (m) => (m.canCreate ? 'yes' : 'no') },
              ],
              'No grants (in an open workspace every account may create and claim).',
            ),
          );
        return 0;
      }),
    );

  workspace
    .command('grant')
    .description('let an account claim and/or create tasks in a workspace (admin); neither flag revokes both')
    .argument('<id|name>', 'workspace')
    .argument('<account>', 'account id')
    .option('--claim', 'may claim (run) its tasks')
    .option('--create', 'may create tasks')
    .action(
      action(async (ctx, id: string, account: string, opts: { claim?: boolean; create?: boolean }) => {
        const member = await (await ctx.client()).request<WorkspaceMember>(
          'PUT',
          `${ws(id)}/members/${encodeURIComponent(account)}`,
          { body: { canClaim: Boolean(opts.claim), canCreate: Boolean(opts.create) } },
        );
        if (ctx.out.json) ctx.out.printJson(member);
        else
          ctx.out.line(
            `${member.accountId} in ${id}: claim ${member.canClaim ? 'yes' : 'no'}, create ${member.canCreate ? 'yes' : 'no'}.`,
          );
        return 0;
      }),
    );

  workspace
    .command('webhooks')
    .description("a workspace's webhooks: list them, --add one, or --remove one (admin)")
    .argument('<id|name>', 'workspace')
    .option('--add <url>', 'add a webhook posting to this URL')
    .option(
      '--secret-stdin',
      'with --add: read the HMAC signing secret from stdin (a pipe, or typed without echo)',
    )
    .option(
      '--secret <secret>',
      'with --add: the secret itself (visible to other users in ps; prefer --secret-stdin)',
    )
    .option('--event <type>', 'with --add: only this event type (repeatable; default all)', collect)
    .option('--remove <webhook>', 'remove this webhook')
    .action(
      action(
        async (
          ctx,
          id: string,
          opts: { add?: string; secret?: string; secretStdin?: boolean; event?: string[]; remove?: string },
        ) => {
          const client = await ctx.client();
          const feature = { feature: 'webhooks' };
          if (opts.add && opts.remove) throw usageError('Pass --add or --remove, not both.');
          if (opts.add) {
            if (opts.secret && opts.secretStdin)
              throw usageError('Pass --secret-stdin or --secret, not both.');
            const secret = opts.secretStdin ? await readSecretFromStdin('Webhook secret') : opts.secret;
            if (!secret)
              throw usageError('--add needs --secret-stdin (or --secret): deliveries are signed with it.');
            const hook = await client.post<Webhook>(
              `${ws(id)}/webhooks`,
              { url: opts.add, secret, ...(opts.event ? { events: opts.event } : {}) },
              feature,
            );
            if (ctx.out.json) ctx.out.printJson(hook);
            else ctx.out.line(`Added webhook ${hook.id} → ${hook.url}.`);
            return 0;
          }
          if (opts.remove) {
            const removed = await client.request<unknown>(
              'DELETE',
              `/api/webhooks/${encodeURIComponent(opts.remove)}`,
              feature,
            );
            if (ctx.out.json) ctx.out.printJson(removed ?? { removed: opts.remove });
            else ctx.out.line(`Removed webhook ${opts.remove}.`);
            return 0;
          }
          const page = await client.get<{ items: Webhook[] }>(`${ws(id)}/webhooks`, feature);
          if (ctx.out.json) ctx.out.printJson(page);
          else
            ctx.out.line(
              table(
                page.items,
                [
                  { header: 'ID', value: (h) => h.id },
                  { header: 'URL', value: (h) => h.url, max: 60 },
                  { header: 'EVENTS', value: (h) => (h.events?.length ? h.events.join(', ') : 'all') },
                ],
                'No webhooks.',
              ),
            );
          return 0;
        },
      ),
    );
}
