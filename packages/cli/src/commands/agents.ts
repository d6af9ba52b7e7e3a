import type { Agent, UsageEntry } from '@buildd/protocol';
import type { Command } from 'commander';
import { intArg } from '../args.ts';
import { action } from '../context.ts';
import { age, count, table, usd } from '../output.ts';

/** `buildd agents` and `buildd usage`. */
export function agentCommands(program: Command): void {
  program
    .command('agents')
    .description("running agents: yours, or everyone's for an admin")
    .action(
      action(async (ctx) => {
        const page = await (await ctx.client()).get<{ items: Agent[] }>('/api/agents');
        if (ctx.out.json) {
          ctx.out.printJson(page);
          return 0;
        }
        const s = ctx.out.style;
        ctx.out.line(
          table(
            page.items,
            [
              { header: 'NAME', value: (a) => a.name, max: 30 },
              { header: 'STATE', value: (a) => (a.online ? s.green('online') : s.dim('offline')) },
              { header: 'HOST', value: (a) => a.host ?? '', max: 30 },
              { header: 'VERSION', value: (a) => a.version ?? '' },
              { header: 'TASKS', value: (a) => String(a.maxTasks), right: true },
              { header: 'SEEN', value: (a) => age(a.lastSeenAt), right: true },
              { header: 'CAPABILITIES', value: (a) => a.capabilities.join(','), max: 50 },
            ],
            'No agents have been seen yet.',
          ),
        );
        return 0;
      }),
    );

  program
    .command('usage')
    .description('cost and tokens per UTC day, with the daily cost cap (admins see every account)')
    .option('--days <n>', 'how many days back (default 30)', intArg)
    .option('--account <id>', 'only this account (admin)')
    .action(
      action(async (ctx, opts: { days?: number; account?: string }) => {
        const client = await ctx.client();
        const page = await client.get<{ items: UsageEntry[] }>('/api/usage', {
          query: { days: opts.days, accountId: opts.account },
          feature: 'usage reports',
        });
        if (ctx.out.json) {
          ctx.out.printJson(page);
          return 0;
        }
        const s = ctx.out.style;
        const capped = (u: UsageEntry) => u.maxCostPerDayUsd !== null && u.costUsd >= u.maxCostPerDayUsd;
        ctx.out.line(
          table(
            page.items,
            [
              { header: 'DAY', value: (u) => u.day },
              { header: 'ACCOUNT', value: (u) => u.accountName, max: 30 },
              {
                header: 'COST',
                value: (u) => (capped(u) ? s.red(usd(u.costUsd)) : usd(u.costUsd)),
                right: true,
              },
              {
                header: 'CAP',
                value: (u) => (u.maxCostPerDayUsd === null ? 'none' : usd(u.maxCostPerDayUsd)),
                right: true,
              },
              { header: 'INPUT', value: (u) => count(u.inputTokens), right: true },
              { header: 'OUTPUT', value: (u) => count(u.outputTokens), right: true },
            ],
            'No usage in this period.',
          ),
        );
        const total = page.items.reduce((n, u) => n + u.costUsd, 0);
        if (page.items.length > 0) ctx.out.line(s.dim(`Total ${usd(total)} over ${opts.days ?? 30} days.`));
        return 0;
      }),
    );
}
