import type { Account, ApiKey } from '@buildd/protocol';
import { type Command, Option } from 'commander';
import { intArg } from '../args.ts';
import type { ApiClient } from '../client.ts';
import { action, type Ctx } from '../context.ts';
import { usageError } from '../exit-codes.ts';
import { age, details, table, usd } from '../output.ts';

interface LimitOptions {
  maxWorkers?: number;
  maxSessions?: number;
  maxCost?: string;
}

/** `--max-cost 5` (dollars) or `--max-cost none` (no cap). */
function costOf(value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'none' || value === 'unlimited') return null;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw usageError(`--max-cost: "${value}" is not dollars (0 or more) or "none".`);
  }
  return n;
}

const limitOptions = (cmd: Command) =>
  cmd
    .option('--max-workers <n>', 'most tasks running at once (default 3)', intArg)
    .option('--max-sessions <n>', 'most OAuth (seat) runs at once (default 2)', intArg)
    .option('--max-cost <usd|none>', 'daily API cost cap in dollars, or "none"');

const limitsBody = (opts: LimitOptions) =>
  Object.fromEntries(
    Object.entries({
      maxConcurrentWorkers: opts.maxWorkers,
      maxConcurrentSessions: opts.maxSessions,
      maxCostPerDayUsd: costOf(opts.maxCost),
    }).filter(([, v]) => v !== undefined),
  );

function refuse(error: { issues: { path: PropertyKey[]; message: string }[] }): never {
  const issue = error.issues[0]!;
  const flags: Record<string, string> = {
    maxConcurrentWorkers: '--max-workers',
    maxConcurrentSessions: '--max-sessions',
    maxCostPerDayUsd: '--max-cost',
  };
  const field = String(issue.path[0] ?? '');
  throw usageError(`${flags[field] ?? field}: ${issue.message}.`);
}

/** `buildd account …` and `buildd key …` (admin). */
export function accountCommands(program: Command): void {
  const account = program.command('account').description('accounts and their limits (admin)');

  limitOptions(
    account
      .command('create')
      .description('create an account; its first API key is printed once')
      .argument('<name>', 'account name')
      .addOption(
        new Option('--type <type>', 'user, service (CI, servers) or action (GitHub Actions)')
          .choices(['user', 'service', 'action'])
          .default('user'),
      )
      .addOption(
        new Option('--level <level>', 'admin or member').choices(['admin', 'member']).default('member'),
      ),
  ).action(
    action(async (ctx, name: string, opts: LimitOptions & { type: string; level: string }) => {
      const { CreateAccountBody } = await import('@buildd/protocol');
      const parsed = CreateAccountBody.safeParse({
        name,
        type: opts.type,
        level: opts.level,
        ...limitsBody(opts),
      });
      if (!parsed.success) refuse(parsed.error);
      const created = await (await ctx.client()).post<{ account: Account; apiKey: string }>(
        '/api/accounts',
        parsed.data,
      );
      if (ctx.out.json) ctx.out.printJson(created);
      else {
        const a = created.account;
        ctx.out.line(`Created ${a.level} account ${a.name} (${a.id}, ${a.type}).`);
        ctx.out.line(`API key (shown only now): ${created.apiKey}`);
      }
      return 0;
    }),
  );

  account
    .command('list')
    .description('every account')
    .action(
      action(async (ctx) => {
        const page = await (await ctx.client()).get<{ items: Account[] }>('/api/accounts', {
          query: { limit: 500 },
        });
        if (ctx.out.json) ctx.out.printJson(page);
        else
          ctx.out.line(
            table(page.items, [
              { header: 'ID', value: (a) => a.id },
              { header: 'NAME', value: (a) => a.name, max: 30 },
              { header: 'TYPE', value: (a) => a.type },
              { header: 'LEVEL', value: (a) => a.level },
              { header: 'WORKERS', value: (a) => String(a.maxConcurrentWorkers), right: true },
              { header: 'SESSIONS', value: (a) => String(a.maxConcurrentSessions), right: true },
              {
                header: 'COST/DAY',
                value: (a) => (a.maxCostPerDayUsd === null ? 'none' : usd(a.maxCostPerDayUsd)),
                right: true,
              },
            ]),
          );
        return 0;
      }),
    );

  limitOptions(
    account
      .command('limits')
      .description("show an account's limits, or change them with the flags")
      .argument('[account]', 'account id (default: yours)'),
  ).action(
    action(async (ctx, id: string | undefined, opts: LimitOptions) => {
      const client = await ctx.client();
      const accountId = id ?? (await client.get<{ account: Account }>('/api/me')).account.id;
      const body = limitsBody(opts);
      let a: Account;
      if (Object.keys(body).length > 0) {
        const { UpdateAccountBody } = await import('@buildd/protocol');
        const parsed = UpdateAccountBody.safeParse(body);
        if (!parsed.success) refuse(parsed.error);
        a = await client.request<Account>('PATCH', `/api/accounts/${encodeURIComponent(accountId)}`, {
          body: parsed.data,
        });
      } else a = await client.get<Account>(`/api/accounts/${encodeURIComponent(accountId)}`);
      if (ctx.out.json) ctx.out.printJson(a);
      else
        ctx.out.line(
          details([
            ['Account', `${a.name} (${a.id}, ${a.type}, ${a.level})`],
            ['Workers', `${a.maxConcurrentWorkers} running at once`],
            ['Sessions', `${a.maxConcurrentSessions} OAuth runs at once`],
            ['Cost/day', a.maxCostPerDayUsd === null ? 'no cap' : `${usd(a.maxCostPerDayUsd)} (UTC day)`],
          ]),
        );
      return 0;
    }),
  );

  const key = program.command('key').description('API keys (admin)');
  key
    .command('create')
    .description('a new API key for an account, printed once')
    .argument('[account]', 'account id (default: yours)')
    .option('--name <name>', 'what the key is for')
    .action(
      action(async (ctx, id: string | undefined, opts: { name?: string }) => {
        const client = await ctx.client();
        const accountId = await accountOrMe(client, id);
        const created = await client.post<{ key: ApiKey; apiKey: string }>(
          `/api/accounts/${encodeURIComponent(accountId)}/keys`,
          opts.name ? { name: opts.name } : {},
        );
        if (ctx.out.json) ctx.out.printJson(created);
        else {
          ctx.out.line(`Created key ${created.key.id} for ${accountId}.`);
          ctx.out.line(`API key (shown only now): ${created.apiKey}`);
        }
        return 0;
      }),
    );
  key
    .command('list')
    .description("an account's API keys (prefixes only)")
    .argument('[account]', 'account id (default: yours)')
    .action(
      action(async (ctx, id: string | undefined) => {
        const client = await ctx.client();
        const accountId = await accountOrMe(client, id);
        const page = await client.get<{ items: ApiKey[] }>(
          `/api/accounts/${encodeURIComponent(accountId)}/keys`,
        );
        printKeys(ctx, page);
        return 0;
      }),
    );
  key
    .command('revoke')
    .description('revoke an API key at once')
    .argument('<key>', 'key id (from `buildd key list`)')
    .action(
      action(async (ctx, id: string) => {
        const revoked = await (await ctx.client()).request<ApiKey>(
          'DELETE',
          `/api/keys/${encodeURIComponent(id)}`,
        );
        if (ctx.out.json) ctx.out.printJson(revoked);
        else ctx.out.line(`Revoked key ${revoked.id} (${revoked.prefix}…).`);
        return 0;
      }),
    );
}

async function accountOrMe(client: ApiClient, id: string | undefined): Promise<string> {
  return id ?? (await client.get<{ account: Account }>('/api/me')).account.id;
}

function printKeys(ctx: Ctx, page: { items: ApiKey[] }) {
  if (ctx.out.json) {
    ctx.out.printJson(page);
    return;
  }
  ctx.out.line(
    table(page.items, [
      { header: 'ID', value: (k) => k.id },
      { header: 'PREFIX', value: (k) => `${k.prefix}…` },
      { header: 'NAME', value: (k) => k.name ?? '' },
      { header: 'CREATED', value: (k) => age(k.createdAt), right: true },
      { header: 'LAST USED', value: (k) => (k.lastUsedAt ? age(k.lastUsedAt) : 'never'), right: true },
      { header: 'STATE', value: (k) => (k.revokedAt ? 'revoked' : 'active') },
    ]),
  );
}
