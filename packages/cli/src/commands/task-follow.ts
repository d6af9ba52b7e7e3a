import type { Task, TaskWithWorkers, WorkerEvent } from '@buildd/protocol';
import type { Command } from 'commander';
import { amountArg, intArg } from '../args.ts';
import type { ApiClient } from '../client.ts';
import { action, type Ctx } from '../context.ts';
import { CliError, exitCodes, exitCodesHelp } from '../exit-codes.ts';
import { followTask, isWaiting } from '../follow.ts';
import { actionOf, eventText, outcomeText, statusText } from '../format.ts';
import { count, usd } from '../output.ts';

/** The exit code `watch` ends with for a task's status. */
export function exitCodeOf(status: string): number {
  switch (status) {
    case 'completed':
      return exitCodes.ok;
    case 'cancelled':
      return exitCodes.taskCancelled;
    case 'waiting_input':
      return exitCodes.taskWaiting;
    default:
      return exitCodes.taskFailed;
  }
}

/** `buildd task watch` and `buildd task logs`. */
export function taskFollowCommands(task: Command): void {
  task
    .command('watch')
    .description('follow a task with a live progress line until it ends; the exit code says how it ended')
    .argument('<id>', 'task id')
    .option('--timeout <seconds>', 'give up after this long (exit 124); the task goes on', amountArg)
    .addHelpText('after', `\n${exitCodesHelp}`)
    .action(
      action(async (ctx, id: string, opts: { timeout?: number }) =>
        watchTask(ctx, await ctx.client(), id, { timeout: opts.timeout }),
      ),
    );

  task
    .command('logs')
    .description("print a task's events (assistant text, tool calls, results); -f follows until it ends")
    .argument('<id>', 'task id')
    .option('-f, --follow', 'keep printing new events until the task ends')
    .option('--after <event>', 'only events after this event id', intArg)
    .action(
      action(async (ctx, id: string, opts: { follow?: boolean; after?: number }) => {
        const client = await ctx.client();
        const printer = eventPrinter(ctx);
        if (!opts.follow) {
          let cursor: string | null = String(opts.after ?? 0);
          while (cursor !== null) {
            const page: { items: WorkerEvent[]; nextCursor: string | null } = await client.get(
              `/api/tasks/${encodeURIComponent(id)}/events`,
              { query: { after: cursor, limit: 500 } },
            );
            for (const event of page.items) printer(event);
            cursor = page.nextCursor;
          }
          return 0;
        }
        let last: Task | undefined;
        for await (const item of followTask(client, id, { after: opts.after })) {
          if (item.kind === 'progress') printer(item.event);
          else last = item.task;
        }
        if (last && !ctx.out.json)
          ctx.out.line(ctx.out.style.dim(`── task ${statusText(last.status, ctx.out.style)}`));
        return 0;
      }),
    );
}

/** Prints events one by one (NDJSON with --json), marking where a new attempt's worker starts. */
function eventPrinter(ctx: Ctx): (event: WorkerEvent) => void {
  let worker: string | undefined;
  return (event) => {
    if (ctx.out.json) {
      ctx.out.write(`${JSON.stringify(event)}\n`);
      return;
    }
    if (event.workerId !== worker) {
      worker = event.workerId;
      ctx.out.line(ctx.out.style.dim(`── worker ${worker}`));
    }
    const text = eventText(event, ctx.out.style);
    if (text !== null) ctx.out.line(text);
  };
}

/** Live figures of the run being watched. */
interface Progress {
  status: string;
  action: string;
  turns: number;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/**
 * Follows a task until it ends, with one live progress line (redrawn in place on a terminal, one line per
 * change otherwise), then prints how it ended and answers the exit code for its status.
 */
export async function watchTask(
  ctx: Ctx,
  client: ApiClient,
  id: string,
  opts: { timeout?: number } = {},
): Promise<number> {
  const controller = new AbortController();
  let stopped: 'timeout' | 'interrupt' | undefined;
  const stop = (why: 'timeout' | 'interrupt') => {
    stopped ??= why;
    controller.abort();
  };
  const timer =
    opts.timeout === undefined ? undefined : setTimeout(() => stop('timeout'), opts.timeout * 1000);
  const onSigint = () => stop('interrupt');
  process.on('SIGINT', onSigint);
  const p: Progress = { status: '…', action: '', turns: 0, inputTokens: 0, outputTokens: 0, costUsd: 0 };
  const s = ctx.out.style;
  let shown = '';
  let drawn = false;
  const draw = () => {
    if (ctx.out.json) return;
    const figures = `${p.turns} turns · ${count(p.inputTokens)}/${count(p.outputTokens)} tokens · ${usd(p.costUsd)}`;
    const line = `${id}  ${statusText(p.status, s)}${p.action ? `  ${p.action}` : ''}  ${s.dim(figures)}`;
    if (ctx.out.tty) {
      const width = process.stdout.columns || 120;
      ctx.out.write(`\r\u001b[2K${line.length > width ? `${line.slice(0, width - 1)}…` : line}`);
      drawn = true;
    } else {
      // In a CI log, one line per change of state or action (not one per token update).
      const key = `${p.status}|${p.action}`;
      if (key !== shown) ctx.out.line(line);
      shown = key;
    }
  };
  let waiting: Task | undefined;
  try {
    for await (const item of followTask(client, id, { signal: controller.signal })) {
      if (item.kind === 'task') {
        p.status = item.task.status;
        p.costUsd = Math.max(p.costUsd, item.task.costUsd);
        if (isWaiting(item.task.status)) {
          waiting = item.task;
          break;
        }
      } else {
        const d = item.event.data;
        if (item.event.type === 'usage') {
          p.turns = Number(d.turns ?? p.turns);
          p.inputTokens = Number(d.inputTokens ?? p.inputTokens);
          p.outputTokens = Number(d.outputTokens ?? p.outputTokens);
          p.costUsd = Number(d.costUsd ?? p.costUsd);
        }
        p.action = actionOf(item.event) ?? p.action;
      }
      draw();
    }
  } finally {
    clearTimeout(timer);
    process.off('SIGINT', onSigint);
    if (drawn) ctx.out.write('\n');
  }
  if (stopped === 'interrupt') {
    ctx.out.note(`Stopped watching; task ${id} goes on (\`buildd task cancel ${id}\` stops it).`);
    return exitCodes.interrupted;
  }
  if (stopped === 'timeout') {
    throw new CliError(
      `Task ${id} is still ${p.status} after ${opts.timeout} s; it goes on (\`buildd task watch ${id}\` to keep following it).`,
      exitCodes.timeout,
    );
  }
  const final = await client.get<TaskWithWorkers>(`/api/tasks/${encodeURIComponent(id)}`);
  if (ctx.out.json) ctx.out.printJson(final);
  else if (waiting ?? isWaiting(final.status)) {
    const question = (final as { question?: { text?: string } }).question?.text;
    ctx.out.line(`Task ${id} is waiting for an answer${question ? `: ${question}` : '.'}`);
    ctx.out.line(s.dim(`Answer it: buildd task answer ${id} "<text>"`));
  } else ctx.out.line(outcomeText(final, s));
  return exitCodeOf(final.status);
}
