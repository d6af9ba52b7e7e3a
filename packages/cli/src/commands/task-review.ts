import type { Task } from '@buildd/protocol';
import type { Command } from 'commander';
import { action } from '../context.ts';
import { usageError } from '../exit-codes.ts';
import { statusText } from '../format.ts';

/** `buildd task answer|message|diff`: talking to a run and reading its changes. */
export function taskReviewCommands(task: Command): void {
  task
    .command('answer')
    .description('answer the question a waiting task asked; its run goes on')
    .argument('<id>', 'task id')
    .argument('<text...>', 'the answer')
    .action(
      action(async (ctx, id: string, words: string[]) => {
        const client = await ctx.client();
        const path = `/api/tasks/${encodeURIComponent(id)}`;
        await client.get(path); // an unknown task gets its own sentence, not "not supported"
        const t = await client.post<Task>(
          `${path}/answer`,
          { text: textOf(words) },
          { feature: 'answering a task' },
        );
        if (ctx.out.json) ctx.out.printJson(t);
        else ctx.out.line(`Answered task ${id}; it is ${statusText(t?.status ?? 'running', ctx.out.style)}.`);
        return 0;
      }),
    );

  task
    .command('message')
    .description('send a follow-up: into a running task, or a new attempt of a finished one on its branch')
    .argument('<id>', 'task id')
    .argument('<text...>', 'the message')
    .action(
      action(async (ctx, id: string, words: string[]) => {
        const client = await ctx.client();
        const path = `/api/tasks/${encodeURIComponent(id)}`;
        await client.get(path);
        const answer = await client.post<unknown>(
          `${path}/messages`,
          { text: textOf(words) },
          {
            feature: 'messages to a task',
          },
        );
        if (ctx.out.json) ctx.out.printJson(answer ?? { sent: true });
        else ctx.out.line(`Sent the message to task ${id}.`);
        return 0;
      }),
    );

  task
    .command('diff')
    .description("print the task branch's changes against its base (a unified diff)")
    .argument('<id>', 'task id')
    .action(
      action(async (ctx, id: string) => {
        const client = await ctx.client();
        const path = `/api/tasks/${encodeURIComponent(id)}`;
        await client.get(path);
        const diff = await client.request<string>('GET', `${path}/diff`, {
          text: true,
          feature: 'task diffs',
        });
        if (ctx.out.json) ctx.out.printJson({ taskId: id, diff });
        else ctx.out.write(diff.endsWith('\n') || diff === '' ? diff : `${diff}\n`);
        return 0;
      }),
    );
}

function textOf(words: string[]): string {
  const text = words.join(' ').trim();
  if (text === '') throw usageError('The text is empty.');
  return text;
}
