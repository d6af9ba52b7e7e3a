import type { Account, Agent, Task } from '@buildd/protocol';
import type { Command } from 'commander';
import { ApiClient } from '../client.ts';
import { defaultServer, keyPrefix, normalizeServer, readConfig, writeConfig } from '../config.ts';
import { action } from '../context.ts';
import { CliError, usageError } from '../exit-codes.ts';
import { statusText } from '../format.ts';
import { age, details, table, usd } from '../output.ts';
import { ask } from '../prompt.ts';

type Me = { account: Account; keyPrefix?: string };

/** `buildd login`, `buildd logout`, `buildd status`. */
export function sessionCommands(program: Command): void {
  program
    .command('login')
    .description('check a server URL and API key with the server and save them to ~/.buildd/config.json')
    .addHelpText(
      'after',
      '\nThe server and key come from --server / --api-key, BUILDD_SERVER / BUILDD_API_KEY, or a prompt.\nThe file is written with mode 0600; buildd-agent reads the same file.',
    )
    .action(
      action(async (ctx) => {
        const file = await readConfig(ctx.configPath);
        const interactive = Boolean(process.stdin.isTTY && process.stderr.isTTY);
        let server = ctx.flags.server || ctx.env.BUILDD_SERVER;
        if (!server && interactive) {
          const suggested = typeof file.server === 'string' ? file.server : defaultServer;
          server = (await ask(`buildd server [${suggested}]: `)) || suggested;
        }
        let apiKey = ctx.flags.apiKey || ctx.env.BUILDD_API_KEY;
        if (!apiKey && interactive) apiKey = await ask('API key (buildd_…): ', { hidden: true });
        if (!apiKey) {
          throw usageError('No API key to log in with: pass --api-key or set BUILDD_API_KEY.');
        }
        const connection = {
          server: normalizeServer(server || (typeof file.server === 'string' ? file.server : defaultServer)),
          apiKey,
          keySource: ctx.flags.apiKey ? ('flag' as const) : ('environment' as const),
        };
        const me = await new ApiClient(connection).get<Me>('/api/me');
        await writeConfig(ctx.configPath, { ...file, server: connection.server, apiKey });
        if (ctx.out.json) {
          ctx.out.printJson({ server: connection.server, account: me.account, configPath: ctx.configPath });
        } else {
          const a = me.account;
          ctx.out.line(
            `Logged in to ${connection.server} as ${a.name} (${a.level}, ${a.type} account, key ${keyPrefix(apiKey)}); saved to ${ctx.configPath}.`,
          );
        }
        return 0;
      }),
    );

  program
    .command('logout')
    .description('remove the API key from ~/.buildd/config.json (the key itself stays valid on the server)')
    .action(
      action(async (ctx) => {
        const file = await readConfig(ctx.configPath);
        const had = typeof file.apiKey === 'string';
        if (had) {
          const { apiKey: _removed, ...rest } = file;
          await writeConfig(ctx.configPath, rest);
        }
        if (ctx.out.json) ctx.out.printJson({ loggedOut: had, configPath: ctx.configPath });
        else if (had) ctx.out.line(`Logged out: removed the API key from ${ctx.configPath}.`);
        else ctx.out.line(`Not logged in: ${ctx.configPath} holds no API key.`);
        return 0;
      }),
    );

  program
    .command('status')
    .description('who you are, which server, the agents online and your running tasks')
    .action(
      action(async (ctx) => {
        const client = await ctx.client();
        const me = await client.get<Me>('/api/me');
        const agents = (await client.get<{ items: Agent[] }>('/api/agents')).items;
        const running: Task[] = [];
        for (const status of ['assigned', 'running', 'waiting_input']) {
          // A server without the waiting_input status refuses that filter (400): it has no such tasks.
          const page = await client
            .get<{ items: Task[] }>('/api/tasks', { query: { status, limit: 500 } })
            .catch((error: unknown) => {
              if (error instanceof CliError && error.status === 400) return { items: [] as Task[] };
              throw error;
            });
          running.push(...page.items.filter((t) => t.createdBy === me.account.id));
        }
        const online = agents.filter((a) => a.online);
        if (ctx.out.json) {
          ctx.out.printJson({
            server: client.server,
            apiVersion: client.apiVersion,
            account: me.account,
            agents: { online: online.length, total: agents.length, items: agents },
            runningTasks: running,
          });
          return 0;
        }
        const a = me.account;
        const s = ctx.out.style;
        ctx.out.line(
          details([
            ['Server', `${client.server}${client.apiVersion ? ` (API version ${client.apiVersion})` : ''}`],
            ['Account', `${a.name} (${a.id}, ${a.type}, ${a.level})`],
            [
              'Key',
              me.keyPrefix
                ? `${me.keyPrefix}… (${client.connection.keySource})`
                : client.connection.keySource,
            ],
            [
              'Agents',
              `${online.length} online${agents.length > online.length ? ` of ${agents.length}` : ''}${online.length ? `: ${online.map((g) => g.name).join(', ')}` : ''}`,
            ],
            ['Tasks', `${running.length} of yours running`],
          ]),
        );
        if (running.length > 0) {
          ctx.out.line();
          ctx.out.line(
            table(running, [
              { header: 'ID', value: (t) => t.id },
              { header: 'STATUS', value: (t) => statusText(t.status, s) },
              { header: 'AGE', value: (t) => age(t.createdAt) },
              { header: 'COST', value: (t) => usd(t.costUsd), right: true },
              { header: 'TITLE', value: (t) => t.title, max: 60 },
            ]),
          );
        }
        return 0;
      }),
    );
}
