import { Command, Option } from 'commander';
import { accountCommands } from './commands/account.ts';
import { agentCommands } from './commands/agents.ts';
import { sessionCommands } from './commands/session.ts';
import { taskCommands } from './commands/task.ts';
import { workspaceCommands } from './commands/workspace.ts';
import { action } from './context.ts';
import { exitCodesHelp } from './exit-codes.ts';
import { cliVersion } from './version.ts';

const configHelp = `
Configuration (flag > environment > ~/.buildd/config.json):
  --server <url>     BUILDD_SERVER     default http://localhost:3000
  --api-key <key>    BUILDD_API_KEY    saved by \`buildd login\` (a key given as a flag is visible
                                       to other users in ps: prefer the file or the variable)
  BUILDD_CONFIG_DIR moves the config file's directory; NO_COLOR turns colour off.

${exitCodesHelp}`;

const shortExitCodes =
  '\nExit codes: 0 ok, 1 refused by the server, 2 wrong flag, 3 API key, 4 unreachable, 5 incompatible server,\n6 not supported by this server (`buildd --help` lists them all).';

/** The whole `buildd` command tree. */
export function buildProgram(): Command {
  const program = new Command('buildd')
    .description(
      'buildd from a terminal: tasks for AI coding agents, workspaces, accounts, and an MCP server',
    )
    .version(cliVersion, '-V, --version')
    .option('--server <url>', 'buildd server URL')
    .option('--api-key <key>', 'buildd API key (visible in ps; prefer buildd login or BUILDD_API_KEY)')
    .option('--json', 'print JSON for scripts instead of tables')
    .addOption(
      new Option('--no-color', 'no colour (also NO_COLOR=1; colour is only ever used on a terminal)'),
    )
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', configHelp);

  sessionCommands(program);
  taskCommands(program);
  workspaceCommands(program);
  accountCommands(program);
  agentCommands(program);

  program
    .command('mcp')
    .description(
      'run an MCP server on stdin/stdout for Claude Code: `claude mcp add buildd -- npx buildd mcp`',
    )
    .action(
      action(async (ctx) => {
        // Loaded only here: the MCP SDK is the slowest import of the CLI.
        const { runMcpServer } = await import('./mcp/server.ts');
        await runMcpServer(ctx.client);
        return 0;
      }),
    );

  // Every command shows the global flags and the exit codes in its --help, and usage errors exit 2.
  const configure = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureHelp({ showGlobalOptions: true });
    cmd.configureOutput({ outputError: (text, write) => write(`buildd: ${text.replace(/^error: /, '')}`) });
    if (cmd !== program && !cmd.name().match(/^(watch|help)$/)) cmd.addHelpText('after', shortExitCodes);
    for (const sub of cmd.commands) configure(sub);
  };
  configure(program);
  return program;
}
