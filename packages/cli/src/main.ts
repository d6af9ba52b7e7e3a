import { CommanderError } from 'commander';
import { CliError, exitCodes } from './exit-codes.ts';
import { styles, wantsColor } from './output.ts';
import { buildProgram } from './program.ts';

/** Runs `buildd` with these arguments; resolves with the exit code. Errors become one sentence on stderr. */
async function main(argv: readonly string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version "fail" with code 0; everything else commander refuses is a usage error.
      return error.exitCode === 0 ? 0 : exitCodes.usage;
    }
    const colour = wantsColor(process.stderr, process.env, !argv.includes('--no-color'));
    const red = styles(colour).red;
    if (error instanceof CliError) {
      process.stderr.write(`${red('buildd:')} ${error.message}\n`);
      return error.exitCode;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`${red('buildd:')} something unexpected went wrong: ${message}\n`);
    if (process.env.BUILDD_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    return exitCodes.refused;
  }
}

const code = await main(process.argv.slice(2));
// Let piped output drain, then exit: an idle keep-alive socket must not hold the process open.
await new Promise((resolve) => process.stdout.write('', resolve));
process.exit(code);
